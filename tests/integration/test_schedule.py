"""Plans, work logs, calendar and plan-vs-log comparison through the HTTP edge."""

from __future__ import annotations

import pytest

from chalicelib.models.schedule import Plan
from chalicelib.services.org import org
from chalicelib.services.schedule import schedule as schedule_service


def plan(api, as_="rep_a", **fields) -> dict:
    body = {"date": "2030-03-10", "title": "Visit", **fields}
    status, out = api.post("/v1/plans", body, as_=as_)
    assert status == 201, out
    return out


def log(api, as_="rep_a", **fields) -> dict:
    body = {"date": "2030-03-10", "content": "Met the buyer", **fields}
    status, out = api.post("/v1/logs", body, as_=as_)
    assert status == 201, out
    return out


# ---------------------------------------------------------------- time zone edges
def test_create_plan_at_2330_local_belongs_to_that_local_day(api):
    created = plan(api, date="2030-03-10", start_time="2030-03-10T23:30:00+08:00")
    assert created["start_time"] == "2030-03-10T15:30:00Z"
    assert created["date"] == "2030-03-10"
    _, day = api.get("/v1/plans?from=2030-03-10&to=2030-03-10")
    assert [p["id"] for p in day["items"]] == [created["id"]]
    _, next_day = api.get("/v1/plans?from=2030-03-11&to=2030-03-11")
    assert next_day["items"] == []
    _, cal = api.get("/v1/calendar?month=2030-03")
    assert cal["days"] == [{"date": "2030-03-10", "plans": 1, "logs": 0, "signins": 0}]


def test_create_plan_given_utc_start_derives_the_local_date(api):
    # 16:30 UTC on the 10th is 00:30 on the 11th in Shanghai.
    created = plan(api, date=None, start_time="2030-03-10T16:30:00Z")
    assert created["date"] == "2030-03-11"


def test_create_plan_with_start_on_another_local_day_is_422(api):
    status, body = api.post(
        "/v1/plans", {"date": "2030-03-11", "title": "X", "start_time": "2030-03-10T23:30:00+08:00"}
    )
    assert status == 422
    assert body["error"]["code"] == "date_mismatch"


def test_create_plan_in_a_tenant_with_another_time_zone_uses_that_zone(api):
    status, _ = api.put("/v1/admin/settings", {"timezone": "America/New_York"}, as_="admin")
    assert status == 200
    created = plan(api, date=None, start_time="2030-03-10T02:30:00Z")  # 22:30 on the 9th in New York
    assert created["date"] == "2030-03-09"
    _, cal = api.get("/v1/calendar?month=2030-03")
    assert [d["date"] for d in cal["days"]] == ["2030-03-09"]


def test_month_last_day_2330_local_is_in_that_month_calendar(api):
    plan(api, date="2030-03-31", start_time="2030-03-31T23:30:00+08:00")
    _, march = api.get("/v1/calendar?month=2030-03")
    _, april = api.get("/v1/calendar?month=2030-04")
    assert [d["date"] for d in march["days"]] == ["2030-03-31"]
    assert april["days"] == []


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "body, code",
    [
        ({"date": "2030-03-10", "title": "X", "remind_minutes_before": 10}, "start_time_required"),
        (
            {
                "date": "2030-03-10",
                "title": "X",
                "start_time": "2030-03-10T10:00:00+08:00",
                "end_time": "2030-03-10T09:00:00+08:00",
            },
            "invalid_time_range",
        ),
        ({"date": "2030-02-30", "title": "X"}, "invalid_date"),
        ({"title": "X"}, "date_required"),
        ({"date": "2030-03-10", "title": "X", "opportunity_id": "nope"}, "unknown_opportunity"),
    ],
)
def test_create_plan_with_invalid_fields_is_422(api, body, code):
    status, out = api.post("/v1/plans", body)
    assert status == 422, out
    assert out["error"]["code"] == code


def test_create_plan_with_status_field_is_400(api):
    status, out = api.post("/v1/plans", {"date": "2030-03-10", "title": "X", "status": "done"})
    assert status == 400
    assert out["error"]["code"] == "invalid_body"


def test_list_plans_with_from_after_to_is_422(api):
    status, out = api.get("/v1/plans?from=2030-03-11&to=2030-03-10")
    assert status == 422 and out["error"]["code"] == "invalid_range"


def test_comparison_over_more_than_92_days_is_422(api):
    status, out = api.get("/v1/plan-comparison?from=2030-01-01&to=2030-06-01")
    assert status == 422 and out["error"]["code"] == "range_too_large"


# ---------------------------------------------------------------- plans: lists and edits
def test_list_plans_pages_by_date_with_a_cursor(api):
    made = [plan(api, date=f"2030-03-{d:02d}", title=f"P{d}")["id"] for d in range(1, 8)]
    seen, cursor = [], None
    while True:
        path = "/v1/plans?from=2030-03-01&to=2030-03-31&limit=3" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.get(path)
        assert status == 200
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == made


def test_list_plans_cursor_from_another_query_is_422(api):
    for d in range(1, 4):
        plan(api, date=f"2030-03-{d:02d}")
    _, page = api.get("/v1/plans?limit=1")
    status, out = api.get(f"/v1/plans?limit=1&from=2030-03-02&cursor={page['next_cursor']}")
    assert status == 422 and out["error"]["code"] == "invalid_cursor"


def test_patch_plan_done_then_cancel_is_409(api):
    created = plan(api)
    status, body = api.patch(f"/v1/plans/{created['id']}", {"status": "done"})
    assert status == 200 and body["status"] == "done"
    status, body = api.patch(f"/v1/plans/{created['id']}", {"status": "cancelled"})
    assert status == 409 and body["error"]["code"] == "invalid_transition"


def test_patch_cancelled_plan_is_409_but_repeating_cancel_is_200(api):
    created = plan(api)
    assert api.patch(f"/v1/plans/{created['id']}", {"status": "cancelled"})[0] == 200
    assert api.patch(f"/v1/plans/{created['id']}", {"status": "cancelled"})[0] == 200
    status, body = api.patch(f"/v1/plans/{created['id']}", {"title": "New"})
    assert status == 409 and body["error"]["code"] == "plan_cancelled"


def test_patch_plan_by_its_manager_is_403_and_by_a_peer_404(api):
    created = plan(api)
    assert api.patch(f"/v1/plans/{created['id']}", {"status": "done"}, as_="mgr_east")[0] == 403
    assert api.patch(f"/v1/plans/{created['id']}", {"status": "done"}, as_="rep_b")[0] == 404


def test_patch_plan_with_empty_object_changes_nothing(api):
    created = plan(api)
    status, body = api.patch(f"/v1/plans/{created['id']}", {})
    assert status == 200 and body["updated_at"] == created["updated_at"]


def test_patch_plan_with_null_status_is_400(api):
    created = plan(api)
    assert api.patch(f"/v1/plans/{created['id']}", {"status": None})[0] == 400


def test_patch_plan_moving_the_day_moves_the_calendar_count(api):
    created = plan(api, date="2030-03-10")
    status, body = api.patch(f"/v1/plans/{created['id']}", {"start_time": "2030-03-12T09:00:00+08:00"})
    assert status == 200 and body["date"] == "2030-03-12"
    _, cal = api.get("/v1/calendar?month=2030-03")
    assert cal["days"] == [{"date": "2030-03-12", "plans": 1, "logs": 0, "signins": 0}]


def test_cancelled_plan_leaves_the_calendar(api):
    created = plan(api)
    api.patch(f"/v1/plans/{created['id']}", {"status": "cancelled"})
    _, cal = api.get("/v1/calendar?month=2030-03")
    assert cal["days"] == []


# ---------------------------------------------------------------- logs
def test_create_log_for_a_plan_links_both_ways_and_inherits_the_opportunity(api):
    p = plan(api)
    item = Plan.get(Plan.pk("acme", p["id"]), "PLAN")
    item.opportunity_id = "opp_1"
    item.save()
    created = log(api, plan_id=p["id"])
    assert created["plan_id"] == p["id"] and created["opportunity_id"] == "opp_1"
    assert api.get(f"/v1/plans/{p['id']}")[1]["log_id"] == created["id"]
    status, out = api.post("/v1/logs", {"date": "2030-03-10", "content": "again", "plan_id": p["id"]})
    assert status == 409 and out["error"]["code"] == "plan_already_logged"


def test_create_log_for_another_users_plan_is_422(api):
    p = plan(api, as_="rep_b")
    status, out = api.post("/v1/logs", {"date": "2030-03-10", "content": "x", "plan_id": p["id"]})
    assert status == 422 and out["error"]["code"] == "unknown_plan"


def test_plans_and_logs_tied_to_an_opportunity_share_its_collection(api):
    p = plan(api)
    item = Plan.get(Plan.pk("acme", p["id"]), "PLAN")
    item.opportunity_id = "opp_9"
    item.save()
    lg = log(api, plan_id=p["id"])
    from chalicelib.models.base import BaseItem

    keys = sorted(i.GSI3SK for i in BaseItem.gsi3.query("T#acme#OPP#opp_9"))
    assert keys == sorted([f"PLAN#{p['id']}", f"LOG#{lg['id']}"])


# ---------------------------------------------------------------- subordinates
@pytest.mark.parametrize(
    "reader, tenant, expected",
    [("mgr_east", None, 200), ("vp", None, 200), ("ceo", None, 200), ("rep_b", None, 404), ("mgr_west", None, 404)],
)
def test_read_rep_schedule_as_manager_chain_yes_peer_or_other_branch_404(api, reader, tenant, expected):
    plan(api)
    for path in (
        "/v1/plans?user_id=rep_a",
        "/v1/logs?user_id=rep_a",
        "/v1/calendar?month=2030-03&user_id=rep_a",
        "/v1/plan-comparison?from=2030-03-10&to=2030-03-10&user_id=rep_a",
    ):
        status, body = api.get(path, as_=reader)
        assert status == expected, (path, body)


def test_read_schedule_of_other_tenant_user_is_404(api):
    plan(api)
    status, _ = api.get("/v1/plans?user_id=rep_a", as_="boss", tenant="globex")
    assert status == 404
    status, _ = api.get("/v1/calendar?month=2030-03&user_id=rep_a", as_="boss", tenant="globex")
    assert status == 404


def test_get_plan_by_id_as_manager_yes_peer_404(api):
    p = plan(api)
    assert api.get(f"/v1/plans/{p['id']}", as_="mgr_east")[0] == 200
    assert api.get(f"/v1/plans/{p['id']}", as_="rep_b")[0] == 404
    assert api.get(f"/v1/plans/{p['id']}", as_="boss", tenant="globex")[0] == 404


def test_manager_sees_rep_plans_in_list(api):
    p = plan(api)
    _, page = api.get("/v1/plans?user_id=rep_a&from=2030-03-01&to=2030-03-31", as_="mgr_east")
    assert [x["id"] for x in page["items"]] == [p["id"]]


# ---------------------------------------------------------------- calendar and comparison
def test_calendar_month_counts_plans_logs_and_signins_per_local_day(api, monkeypatch):
    plan(api, date="2030-03-10")
    plan(api, date="2030-03-10")
    plan(api, date="2030-03-12")
    log(api, date="2030-03-12")
    signins = [
        {"id": "s1", "kind": "check_in", "plan_id": None, "client_time": "2030-03-10T15:59:00Z", "flags": []},
        {"id": "s2", "kind": "check_in", "plan_id": None, "client_time": "2030-03-10T16:01:00Z", "flags": []},
    ]
    monkeypatch.setattr(schedule_service, "signins_between", lambda *a: signins)
    status, cal = api.get("/v1/calendar?month=2030-03")
    assert status == 200
    assert cal["days"] == [
        {"date": "2030-03-10", "plans": 2, "logs": 0, "signins": 1},
        {"date": "2030-03-11", "plans": 0, "logs": 0, "signins": 1},  # 00:01 local on the 11th
        {"date": "2030-03-12", "plans": 1, "logs": 1, "signins": 0},
    ]


@pytest.mark.parametrize("volume", [3, 40])
def test_calendar_month_costs_the_same_requests_at_any_volume(api, ddb_requests, volume):
    for i in range(volume):
        plan(api, date=f"2030-03-{1 + i % 28:02d}")
        log(api, date=f"2030-03-{1 + i % 28:02d}")
    ddb_requests.reset()
    status, _ = api.get("/v1/calendar?month=2030-03&user_id=rep_a", as_="mgr_east")
    assert status == 200
    # one query of day counters, one of the sign-ins' timeline, the settings and access
    # check, the caller's identity (an active user of the tenant)
    assert ddb_requests.calls.count("Query") == 2
    assert ddb_requests.total <= 5, ddb_requests.calls


def test_comparison_pairs_plans_with_logs_and_signins_and_rates_completion(api, monkeypatch):
    done = plan(api, title="done")
    logged = plan(api, title="logged")
    signed = plan(api, title="signed in")
    plan(api, title="missed")
    cancelled = plan(api, title="cancelled")
    api.patch(f"/v1/plans/{done['id']}", {"status": "done"})
    api.patch(f"/v1/plans/{cancelled['id']}", {"status": "cancelled"})
    report = log(api, plan_id=logged["id"], date="2030-03-11")  # written the next day
    free_log = log(api, date="2030-03-10", content="walk-in customer")
    signins = [
        {"id": "s1", "kind": "check_in", "plan_id": signed["id"], "client_time": "2030-03-10T02:00:00Z", "flags": []},
        {"id": "s2", "kind": "check_in", "plan_id": None, "client_time": "2030-03-10T03:00:00Z", "flags": []},
    ]
    monkeypatch.setattr(schedule_service, "signins_between", lambda *a: signins)
    status, out = api.get("/v1/plan-comparison?from=2030-03-10&to=2030-03-10")
    assert status == 200, out
    [day] = out["days"]
    by_title = {p["title"]: p for p in day["plans"]}
    assert by_title["logged"]["log"]["id"] == report["id"]
    assert [s["id"] for s in by_title["signed in"]["signins"]] == ["s1"]
    assert {t for t, p in by_title.items() if p["completed"]} == {"done", "logged", "signed in"}
    assert day["completion_rate"] == 0.75  # 3 of the 4 plans not cancelled
    assert out["completion_rate"] == 0.75
    assert [x["id"] for x in day["unplanned_logs"]] == [free_log["id"]]
    assert [s["id"] for s in day["unplanned_signins"]] == ["s2"]
    assert out["totals"] == {"plans": 5, "cancelled": 1, "completed": 3}


def test_comparison_without_plans_has_null_rate(api):
    status, out = api.get("/v1/plan-comparison?from=2030-03-10&to=2030-03-12")
    assert status == 200
    assert out["completion_rate"] is None and out["days"] == []
    assert out["from"] == "2030-03-10"


def test_admin_reads_any_users_schedule(api):
    plan(api)
    assert org.can_read_user_data
    assert api.get("/v1/plans?user_id=rep_a", as_="admin")[0] == 200
