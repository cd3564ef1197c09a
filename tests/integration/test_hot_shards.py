"""Hot aggregates sharded per tenant (models/shards.py): a department's goal actuals, the
pipeline statistics and the expense statistics are written to one of the tenant's shards
inside the same exactly-once transaction and summed on read (a constant number of
requests); contention raises the tenant's shard count; a sent goal_alert is never attempted
again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.models.base import BaseItem, Cancelled
from chalicelib.models.expenses import StatsAggregate
from chalicelib.models.goals import Actuals
from chalicelib.models.oppstats import ADMIN_VIEWER, OppStatsBucket
from chalicelib.models.shards import MAX_SHARDS
from chalicelib.services.inbox import messages
from chalicelib.services.org import org
from chalicelib.services.performance import actuals
from tests.support import goal, opp, stats, submitted

PERIOD = datetime.now(UTC).astimezone(org.zone_named("Asia/Shanghai")).strftime("%Y-%m")


def visits(n: int, shards: int, first: int = 0) -> None:
    """``n`` check-ins of rep_a counted as the stream would (one event id each)."""
    for i in range(first, first + n):
        assert actuals.apply("acme", f"evt-{i}", {("rep_a", PERIOD): {"visits": 1}}, shards)


def test_department_actuals_spread_over_shards_and_read_exactly_with_one_batch_get(api, ddb_requests):
    assert org.raise_aggregate_shards("acme", 4) and not org.raise_aggregate_shards("acme", 2)  # never lowered
    assert org.aggregate_shards("acme") == 4
    visits(24, org.aggregate_shards("acme"))
    assert not actuals.apply("acme", "evt-3", {("rep_a", PERIOD): {"visits": 1}}, 4)  # a redelivery counts once
    stored = [a for a in BaseItem.batch_get(Actuals.keys_of("acme", "department", "east", PERIOD))]
    assert sum(int(a.visits) for a in stored) == 24 and len(stored) > 1  # spread, nothing lost
    ddb_requests.reset()
    status, out = goal(api, "department/east", as_="admin")
    assert status == 200 and out["actuals"]["visits"] == 24
    # the actuals' shards in one BatchGet (the other: the caller with the settings, at the edge)
    assert ddb_requests.calls.count("BatchGetItem") == 2 and "Query" not in ddb_requests.calls
    assert goal(api, "department/hq", as_="admin")[1]["actuals"]["visits"] == 24  # the whole path
    assert goal(api, "user/rep_a", as_="admin")[1]["actuals"]["visits"] == 24  # a user: unsharded


def test_a_conflicting_transaction_raises_the_tenants_shards_and_is_retried(api, monkeypatch):
    real = actuals.Tx.commit
    conflicts = [1]

    def once_conflicting(self, token=None):
        if conflicts:
            conflicts.pop()
            raise Cancelled(set(), True, "actuals")
        return real(self, token)

    monkeypatch.setattr(actuals.Tx, "commit", once_conflicting)
    with pytest.raises(Cancelled):
        actuals.apply("acme", "evt-c", {("rep_a", PERIOD): {"visits": 1}}, 1)
    assert org.aggregate_shards("acme") == 2  # the stream's retry spreads wider
    assert actuals.apply("acme", "evt-c", {("rep_a", PERIOD): {"visits": 1}}, org.aggregate_shards("acme"))
    assert org.raise_aggregate_shards("acme", 1000) and org.aggregate_shards("acme") == MAX_SHARDS  # capped


def test_a_sent_goal_alert_is_not_attempted_again(api, monkeypatch):
    assert api.put(f"/v1/goals/department/east/{PERIOD}", {"targets": {"visits": 2}}, as_="admin")[0] == 200
    attempts = []
    real = messages.send
    monkeypatch.setattr(messages, "send", lambda new: attempts.append(new.kind) or real(new))
    visits(2, 4)
    assert attempts.count("goal_alert") == 1  # met at the second visit: sent to the head once
    visits(5, 4, first=100)
    assert attempts.count("goal_alert") == 1  # every later record: no attempt, no cancelled write


def test_expense_statistics_sum_their_shards(api):
    org.raise_aggregate_shards("acme", 4)
    for _ in range(12):
        submitted(api, "1.50")
    _, page = api.get("/v1/expense-stats?period=2026-11&group_by=category", as_="fin")
    assert [(g["key"], g["count"], g["total"]) for g in page["groups"]] == [("travel", 12, "18.00")]
    items = list(StatsAggregate.query(StatsAggregate.pk("acme", "2026-11", "ALL")))
    assert len({i.shard for i in items if i.dimension == "category"}) > 1


def test_pipeline_statistics_sum_their_shards_and_move_when_the_count_rises(api, stream):  # noqa: F811
    for _ in range(3):
        opp(api, "qualify", "100.00")
    stream.pump()
    org.raise_aggregate_shards("acme", 8)
    for _ in range(9):
        opp(api, "qualify", "100.00")
    stream.pump()
    out = stats(api, as_="admin", scope="all")
    (row,) = [g for g in out["groups"] if g["key"] == "qualify"]
    assert (row["count"], row["amount"]) == (12, "1200.00")
    pk = OppStatsBucket.pk("acme", ADMIN_VIEWER, "all", "ALL")
    assert len({b.shard for b in OppStatsBucket.query(pk)}) > 1
