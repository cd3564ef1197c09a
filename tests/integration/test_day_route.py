"""GET /v1/route: the caller's plans of a day, ordered to shorten the trip."""

from __future__ import annotations

import itertools

from chalicelib.geo import distance_m, path_m

DAY = "2030-03-10"
START = (31.2000, 121.4000)


def account(api, name, lat=None, lng=None, as_="rep_a"):
    body = {"name": name, **({"location": {"lat": lat, "lng": lng}} if lat is not None else {})}
    status, out = api.post("/v1/accounts", body, as_=as_)
    assert status == 201, out
    return out["id"]


def plan(api, account_id, hour, as_="rep_a", **extra):
    body = {"date": DAY, "title": f"Visit {hour}", "start_time": f"{DAY}T{hour:02d}:00:00+08:00", **extra}
    if account_id:
        body["account_id"] = account_id
    status, out = api.post("/v1/plans", body, as_=as_)
    assert status == 201, out
    return out["id"]


def route(api, as_="rep_a", day=DAY, start=START):
    return api.get(f"/v1/route?date={day}&from_lat={start[0]}&from_lng={start[1]}", as_=as_)


def test_route_orders_the_days_plans_optimally_and_reports_the_start_order_distance(api):
    points = [(31.26, 121.46), (31.20, 121.41), (31.24, 121.44), (31.21, 121.42), (31.25, 121.45)]
    ids = [plan(api, account(api, f"A{i}", *p), 9 + i) for i, p in enumerate(points)]
    status, out = route(api)
    assert status == 200, out
    by_plan = dict(zip(ids, points, strict=True))
    visited = [by_plan[s["plan_id"]] for s in out["stops"]]
    best = min(path_m([START, *p]) for p in itertools.permutations(points))
    assert abs(out["total_distance_m"] - best) <= 1
    assert abs(out["naive_distance_m"] - path_m([START, *points])) <= 1
    assert out["total_distance_m"] < out["naive_distance_m"]
    assert abs(out["total_distance_m"] - path_m([START, *visited])) <= 1
    assert out["stops"][0]["distance_m"] == round(distance_m(START, visited[0]))
    assert sum(s["distance_m"] for s in out["stops"]) - out["total_distance_m"] in range(-3, 4)
    assert out["unrouted_plan_ids"] == []


def test_route_leaves_out_cancelled_plans_and_lists_those_it_cannot_place(api):
    located = plan(api, account(api, "Here", 31.21, 121.41), 9)
    no_location = plan(api, account(api, "Nowhere"), 10)
    no_account = plan(api, None, 11)
    cancelled = plan(api, account(api, "Gone", 31.22, 121.42), 12)
    assert api.patch(f"/v1/plans/{cancelled}", {"status": "cancelled"})[0] == 200
    status, out = route(api)
    assert status == 200, out
    assert [s["plan_id"] for s in out["stops"]] == [located]
    assert sorted(out["unrouted_plan_ids"]) == sorted([no_location, no_account])


def test_route_hides_an_account_the_caller_no_longer_sees(api):
    acct = account(api, "Transferred", 31.21, 121.41)
    pid = plan(api, acct, 9)
    assert api.patch(f"/v1/accounts/{acct}", {"owner_id": "rep_b"})[0] == 200
    status, out = route(api)
    assert status == 200, out
    assert out["stops"] == [] and out["unrouted_plan_ids"] == [pid]
    assert "Transferred" not in str(out)


def test_route_of_another_users_plans_is_not_offered_and_an_empty_day_is_empty(api):
    plan(api, account(api, "Theirs", 31.21, 121.41, as_="rep_b"), 9, as_="rep_b")
    status, out = route(api)
    assert status == 200
    assert out["stops"] == [] and out["total_distance_m"] == 0 and out["naive_distance_m"] == 0


def test_route_with_more_than_25_located_plans_is_422_too_many_stops(api):
    acct = account(api, "Busy", 31.21, 121.41)
    for i in range(26):
        assert api.post("/v1/plans", {"date": DAY, "title": f"P{i}", "account_id": acct})[0] == 201
    status, out = route(api)
    assert status == 422 and out["error"]["code"] == "too_many_stops"


def test_route_refuses_bad_coordinates_and_impossible_dates(api):
    assert route(api, start=(91, 0))[0] == 400
    assert route(api, start=(0, -181))[0] == 400
    assert api.get("/v1/route?date=2030-03-10&from_lat=1")[0] == 400
    status, out = route(api, day="2030-02-30")
    assert status == 422, out


def test_route_costs_the_same_requests_for_3_and_20_stops(api, ddb_requests):
    accounts = [account(api, f"S{i}", 31.2 + i / 500, 121.4 + (i * 7 % 20) / 500) for i in range(20)]
    for i, acct in enumerate(accounts[:3]):
        plan(api, acct, 8 + i)
    ddb_requests.reset()
    assert route(api)[0] == 200
    small = list(ddb_requests.calls)
    for i, acct in enumerate(accounts[3:]):
        assert api.post("/v1/plans", {"date": DAY, "title": f"Q{i}", "account_id": acct})[0] == 201
    ddb_requests.reset()
    status, out = route(api)
    assert status == 200 and len(out["stops"]) == 20
    assert ddb_requests.calls == small
    assert ddb_requests.calls.count("Query") == 1
