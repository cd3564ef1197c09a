"""The team's day: each subordinate's sign-ins, visits, first check-in, last location,
flagged count and distance, for a tenant-local date, in requests that grow with the
subordinates / 100 and never with the tenant."""

from __future__ import annotations

from chalicelib.services.org import org
from tests.support import SHANGHAI, day_of, put_users, sign

NEARBY = (SHANGHAI[0] + 0.01, SHANGHAI[1])  # about 1.11 km north


def test_team_day_summarises_each_subordinate(api):
    assert sign(api, "check_in", SHANGHAI, as_="rep_a")[0] == 201
    assert sign(api, "check_out", NEARBY, as_="rep_a")[0] == 201
    assert sign(api, "check_in", SHANGHAI, as_="rep_b", mock_location=True)[0] == 201
    assert sign(api, "check_in", SHANGHAI, as_="rep_c")[0] == 201  # not mgr_east's
    rows = {r["user_id"]: r for r in day_of(api, "mgr_east")}
    assert set(rows) == {"rep_a", "rep_b"}
    a, b = rows["rep_a"], rows["rep_b"]
    assert [s["kind"] for s in a["signins"]] == ["check_in", "check_out"]
    assert len(a["visits"]) == 1 and a["visits"][0]["status"] == "closed"
    assert a["first_check_in_at"] == a["signins"][0]["client_time"]
    assert a["last_location"]["lat"] == NEARBY[0]
    assert 1.0 < a["distance_km"] < 1.2 and a["flagged_count"] == 0
    assert b["flagged_count"] == 1 and b["distance_km"] == 0 and b["visits"][0]["status"] == "open"
    everyone = {r["user_id"] for r in day_of(api, "vp")}
    assert everyone == {"mgr_east", "rep_a", "rep_b", "mgr_west", "rep_c"}
    assert day_of(api, "rep_a") == []  # no subordinates
    other_day = day_of(api, "mgr_east", "2030-01-01")
    assert all(r["signins"] == [] and r["first_check_in_at"] is None for r in other_day)


def test_team_day_bad_dates_are_client_errors(api):
    assert api.get("/v1/team/day?date=2026-02-30", as_="vp")[0] == 422
    assert api.get("/v1/team/day?date=0001-01-01", as_="vp")[0] == 422
    assert api.get("/v1/team/day?date=tomorrow", as_="vp")[0] == 400
    assert api.get("/v1/team/day", as_="vp")[0] == 400


def test_team_day_requests_per_100_subordinates_do_not_grow_with_team_or_tenant(api, ddb_requests):
    for rep in ("rep_a", "rep_b"):
        assert sign(api, "check_in", SHANGHAI, as_=rep)[0] == 201
    counts = []
    for size in (10, 100):
        more = range(len(day_of(api, "mgr_east")), size)
        put_users("acme", (org.NewUser(f"t_{i}", f"Team {i:03d}", "east", "mgr_east", None, None) for i in more))
        others = range(300 if size == 100 else 0)  # others in the tenant: never read
        put_users("acme", (org.NewUser(f"o_{i}", f"Other {i:03d}", "west", "mgr_west", None, None) for i in others))
        ddb_requests.reset()
        rows = day_of(api, "mgr_east")
        assert len(rows) == size
        counts.append(sorted(ddb_requests.calls))
    # the caller's active flag (with the tenant's settings), the team listing, the days, the
    # sign-ins, their visits
    assert counts[0] == counts[1] == ["BatchGetItem", "BatchGetItem", "BatchGetItem", "BatchGetItem", "Query"]
