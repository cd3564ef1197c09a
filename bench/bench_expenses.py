"""Expenses: DynamoDB requests per submit, approve and statistics call, and the cost of a
statistics call at 100 vs 10,000 expenses (it must not grow)."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

CATEGORIES = ["travel", "meals", "lodging", "transport", "gifts", "printing", "phone", "other"]
UNITS = [("department", "east"), ("department", "sales"), ("person", "rep_a")]  # all chargeable by rep_a
PERIOD = "2026-11"


def _client() -> Any:
    from chalice.test import Client

    from app import app

    return Client(app, stage_name="test")


def _call(client: Any, method: str, path: str, user: str, body: Any = None) -> tuple[int, Any]:
    from local.seed import token

    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token(user)}"}
    raw = json.dumps(body) if body is not None else None
    response = getattr(client.http, method.lower())(path, body=raw, headers=headers)
    return response.status_code, json.loads(response.body) if response.body else None


def _new_expense(client: Any, i: int) -> str:
    unit_type, unit_id = UNITS[i % len(UNITS)]
    status, e = _call(
        client,
        "POST",
        "/v1/expenses",
        "rep_a",
        {
            "amount": f"{10 + i % 90}.{i % 100:02d}",
            "category": CATEGORIES[i % len(CATEGORIES)],
            "occurred_on": f"{PERIOD}-{1 + i % 28:02d}",
            "unit": {"type": unit_type, "id": unit_id},
        },
    )
    assert status == 201, e
    return e["id"]


def _stats_cost(client: Any) -> tuple[int, int, int, float]:
    """Requests, items read and groups of one statistics call per dimension (median time)."""
    requests = items = groups = 0
    started = time.perf_counter()
    for group_by in ("category", "stage", "unit"):
        with count_dynamodb() as counter:
            status, body = _call(client, "GET", f"/v1/expense-stats?period={PERIOD}&group_by={group_by}", "fin")
        assert status == 200, body
        requests, items = max(requests, counter.total), max(items, counter.items_read)
        groups = max(groups, len(body["groups"]))
    return requests, items, groups, (time.perf_counter() - started) / 3 * 1000


def _bulk_submitted(n: int, start: int) -> None:
    """``n`` submitted expenses written directly (BatchWrite), their statistics deltas summed
    per aggregate item and applied with the same ADD actions the transactions use."""
    from chalicelib.models.expenses import Expense, StatsAggregate
    from chalicelib.services.expenses import stats
    from chalicelib.timeutil import iso, utcnow

    now = iso(utcnow())
    sums: dict[str, list[Any]] = defaultdict(lambda: [None, 0, 0])
    with Expense.batch_write() as batch:
        for i in range(start, start + n):
            unit_type, unit_id = UNITS[i % len(UNITS)]
            e = Expense(
                tenant_id="acme",
                expense_id=f"exp_bulk{i:08d}",
                user_id="rep_a",
                amount_cents=1000 + (i % 90) * 100 + i % 100,
                currency="CNY",
                category=CATEGORIES[i % len(CATEGORIES)],
                occurred_on=f"{PERIOD}-{1 + i % 28:02d}",
                unit_type=unit_type,
                unit_id=unit_id,
                status="submitted",
                approver_ids=["mgr_east"],
                created_at=now,
                updated_at=now,
                submitted_at=now,
                version=2,
            )
            e.set_keys()
            batch.save(e)
            for item, _ in stats.aggregate_updates(e, +1):
                entry = sums[item.PK + "|" + item.SK]
                entry[0], entry[1], entry[2] = item, entry[1] + int(e.amount_cents), entry[2] + 1
    for item, total, count in sums.values():
        item.update(
            actions=[
                StatsAggregate.entity.set(StatsAggregate),
                StatsAggregate.tenant_id.set(item.tenant_id),
                StatsAggregate.period.set(item.period),
                StatsAggregate.scope.set(item.scope),
                StatsAggregate.dimension.set(item.dimension),
                StatsAggregate.key.set(item.key),
                StatsAggregate.currency.set(item.currency),
                StatsAggregate.total_cents.add(total),
                StatsAggregate.count.add(count),
            ]
        )


def run() -> str:
    with moto_stack():
        from local.seed import seed_org

        seed_org()
        with _client() as client:
            _call(
                client,
                "PUT",
                f"/v1/budgets/department/east/{PERIOD}",
                "fin",
                {"amount": "1000000.00", "currency": "CNY", "mode": "block", "thresholds": [80, 100]},
            )
            per_op: dict[str, list[int]] = defaultdict(list)
            ids = []
            for i in range(100):
                expense_id = _new_expense(client, i)
                with count_dynamodb() as counter:
                    status, body = _call(client, "POST", f"/v1/expenses/{expense_id}/submit", "rep_a")
                assert status == 200, body
                per_op["submit"].append(counter.total)
                ids.append(expense_id)
            for expense_id in ids[:20]:
                with count_dynamodb() as counter:
                    status, body = _call(client, "POST", f"/v1/expenses/{expense_id}/approve", "mgr_east", {})
                assert status == 200, body
                per_op["approve (final level)"].append(counter.total)
            small = _stats_cost(client)
            started = time.perf_counter()
            _bulk_submitted(9_900, 100)
            bulk_s = time.perf_counter() - started
            large = _stats_cost(client)
            _, check = _call(client, "GET", f"/v1/expense-stats?period={PERIOD}&group_by=unit", "fin")
            counted = sum(g["count"] for g in check["groups"])

    rows = [[op, min(v), max(v), f"{sum(v) / len(v):.1f}"] for op, v in per_op.items()]
    rows.append(["statistics (any group_by)", small[0], small[0], f"{small[0]:.1f}"])
    same = small[0] == large[0] and small[1] == large[1]
    return "\n\n".join(
        [
            "## expenses",
            "DynamoDB requests per API call (chalice.test client, moto in-process, counted at the "
            "PynamoDB connection). A submit reads the expense, the submitter and the tenant "
            "settings, commits one transaction (expense + budget usage + 6 statistics aggregates), "
            "checks the budget's thresholds (1 read, 1 write), sends the approver's message "
            "(1 transaction) and records the feed activity. An approval at its final level reads "
            "the expense, commits one transaction (expense + budget + outbox), deletes the outbox "
            "entry once queued and sends the result message.",
            table(["call", "min", "max", "mean"], rows),
            "Statistics at 100 vs 10,000 expenses. The first 100 were created and submitted "
            "through the API. The other 9,900 were batch-written directly (the API path would "
            "take about 130,000 requests on moto), and their "
            "statistics deltas were applied to the same aggregate items with the same `ADD` "
            f"actions the transactions use, summed per item ({bulk_s:.1f} s). The statistics "
            f"call then counted {counted} expenses.",
            table(
                ["expenses", "requests per stats call", "items read", "groups (max)", "ms per call (moto)"],
                [
                    [100, small[0], small[1], small[2], f"{small[3]:.1f}"],
                    [counted, large[0], large[1], large[2], f"{large[3]:.1f}"],
                ],
            ),
            verdict(
                same and counted == 10_000,
                f"a statistics call costs {large[0]} request(s) and {large[1]} items at 10,000 expenses, "
                f"the same as at 100 ({small[0]}, {small[1]}).",
            ),
        ]
    )
