"""GET /v1/opportunity-stats: from aggregates kept on write, over the caller's visible
opportunities, re-counted when the org changes; constant requests."""

from __future__ import annotations

from chalicelib.services.org import org
from chalicelib.services.performance import oppstats
from tests.support import opp, stats


def test_stats_by_stage_with_won_lost_win_rate_and_weighted_amount(api, stream):
    opp(api, "qualify", "1000.00")
    opp(api, "proposal", "2000.00")
    opp(api, "won", "500.00")
    lost = opp(api, "negotiation", "300.00")
    api.patch(f"/v1/opportunities/{lost}", {"stage": "lost"})
    stream.pump()
    out = stats(api, scope="mine")
    assert out["groups"] == [
        {"key": "qualify", "count": 1, "amount": "1000.00"},
        {"key": "proposal", "count": 1, "amount": "2000.00"},
        {"key": "won", "count": 1, "amount": "500.00"},
        {"key": "lost", "count": 1, "amount": "300.00"},
    ]
    assert out["won"] == {"count": 1, "amount": "500.00"} and out["lost"] == {"count": 1, "amount": "300.00"}
    assert out["win_rate"] == 0.5
    assert out["weighted_amount"] == "1250.00"  # 1000 x 25% + 2000 x 50%


def test_scopes_follow_visibility(api, stream):
    opp(api, "qualify", "100.00", as_="rep_a")
    opp(api, "qualify", "200.00", as_="rep_b")
    opp(api, "qualify", "400.00", as_="rep_c")
    opp(api, "qualify", "800.00", as_="mgr_east")
    stream.pump()
    total = lambda out: sum(int(g["count"]) for g in out["groups"])  # noqa: E731
    assert total(stats(api, as_="mgr_east", scope="mine")) == 1
    assert total(stats(api, as_="mgr_east", scope="team")) == 2
    assert total(stats(api, as_="mgr_east", scope="all")) == 3
    assert total(stats(api, as_="vp", scope="team")) == 4
    assert total(stats(api, as_="rep_a", scope="all")) == 1
    assert total(stats(api, as_="rep_a", scope="team")) == 0
    assert total(stats(api, as_="admin", scope="all")) == 4
    assert total(stats(api, as_="mgr_west", scope="all")) == 1
    by_owner = stats(api, as_="mgr_east", group_by="owner", scope="all")["groups"]
    assert [g["key"] for g in by_owner] == ["mgr_east", "rep_b", "rep_a"]


def test_a_transfer_and_a_reorg_move_the_counts(api, stream):
    oid = opp(api, "qualify", "100.00", as_="rep_a")
    stream.pump()
    assert api.patch(f"/v1/opportunities/{oid}", {"owner_id": "rep_c"})[0] == 200
    stream.pump()
    assert stats(api, as_="mgr_east", scope="all")["groups"] == []
    assert stats(api, as_="mgr_west", scope="team")["groups"][0]["count"] == 1
    org.put_user("acme", org.NewUser("rep_c", "Sun Li (rep)", "east", "mgr_east", None, None))
    stream.pump()
    assert stats(api, as_="mgr_west", scope="all")["groups"] == []
    assert stats(api, as_="mgr_east", scope="team")["groups"][0]["count"] == 1


def test_redelivered_and_reordered_records_change_nothing(api, stream):
    oid = opp(api, "qualify", "100.00")
    api.patch(f"/v1/opportunities/{oid}", {"stage": "proposal"})
    records = stream.read()
    stream.deliver(list(reversed(records)))
    stream.deliver(records)
    stream.pump()
    assert stats(api, scope="mine")["groups"] == [{"key": "proposal", "count": 1, "amount": "100.00"}]
    assert oppstats.recompute("acme", oid) == 0


def test_period_is_the_creation_month_and_a_bad_one_is_refused(api, stream):
    opp(api, "qualify", "100.00")
    stream.pump()
    assert stats(api, scope="mine", period="2001-01")["groups"] == []
    assert api.get("/v1/opportunity-stats?period=2026-13")[0] == 400
    assert api.get("/v1/opportunity-stats?period=0001-01")[0] == 422
    assert api.get("/v1/opportunity-stats?scope=everyone")[0] == 400


def test_stats_cost_the_same_requests_for_2_and_14_opportunities(api, stream, ddb_requests):
    for _ in range(2):
        opp(api, "qualify", "1.00")
    stream.pump()
    ddb_requests.reset()
    stats(api, scope="all", group_by="owner")
    small = list(ddb_requests.calls)
    for i in range(12):  # the 1k / 100k comparison is bench/bench_goals.py's
        opp(api, ("lead", "qualify", "proposal", "won")[i % 4], "1.00")
    stream.pump()
    ddb_requests.reset()
    out = stats(api, scope="all", group_by="owner")
    assert out["groups"][0]["count"] == 14
    assert ddb_requests.calls == small
