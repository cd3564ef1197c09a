"""Expenses over real HTTP on the local stack: concurrent submissions against one block
budget never overrun it, usage equals the accepted amounts, one alert per threshold."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

pytestmark = pytest.mark.e2e

THRESHOLDS = [50, 80, 100]


@pytest.mark.parametrize("submissions", [100])
def test_concurrent_submissions_against_one_block_budget_never_overrun(stack, submissions):
    amount_cap = Decimal(20 * submissions)  # fills after about 80 % of the submissions
    # A month of its own so that nothing else the stack holds touches this budget.
    period = f"19{71 + uuid.uuid4().int % 28}-{1 + uuid.uuid4().int % 12:02d}"  # past: no expense is dated after today
    budget_path = f"/v1/budgets/department/west/{period}"
    r = stack.call(
        "PUT",
        budget_path,
        {"amount": str(amount_cap), "currency": "CNY", "mode": "block", "thresholds": THRESHOLDS},
        as_="fin",
    )
    assert r.status_code == 200, r.text
    drafts = []
    for i in range(submissions):
        amount = Decimal(15 + i % 20) + Decimal(i % 7) / 100  # 15.00 .. 34.06, 24.5 on average
        body = {
            "amount": str(amount),
            "category": "travel",
            "occurred_on": f"{period}-10",
            "unit": {"type": "department", "id": "west"},
        }
        r = stack.call("POST", "/v1/expenses", body, as_="rep_c")
        assert r.status_code == 201, r.text
        drafts.append((r.json()["id"], amount))

    def submit(draft: tuple[str, Decimal]) -> tuple[int, str, Decimal]:
        expense_id, amount = draft
        with requests.Session() as session:  # moto serves the burst slowly: a longer timeout than stack.call's
            r = session.post(
                f"{stack.base_url}/v1/expenses/{expense_id}/submit",
                data="{}",
                headers=stack.headers("rep_c"),
                timeout=180,
            )
        code = r.json().get("error", {}).get("code", "") if r.status_code != 200 else ""
        return r.status_code, code, amount

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=submissions) as pool:
        results = list(pool.map(submit, drafts))
    print(f"{submissions} concurrent submissions took {time.monotonic() - started:.1f} s")

    assert [r for r in results if r[0] >= 500] == []
    assert {(s, c) for s, c, _ in results} <= {(200, ""), (409, "budget_exceeded")}
    accepted = sum((a for s, _, a in results if s == 200), Decimal(0))
    budget = stack.call("GET", budget_path, as_="fin").json()
    assert Decimal(budget["reserved"]) == accepted and Decimal(budget["spent"]) == 0
    assert accepted <= amount_cap and accepted > amount_cap - 35  # filled, never over
    assert Decimal(budget["remaining"]) == amount_cap - accepted

    stack.fire("budget_alerts")  # the hourly job finds nothing left to send
    crossed = {t for t in THRESHOLDS if accepted * 100 >= t * amount_cap}
    alerts = [
        m
        for m in stack.call("GET", "/v1/messages?limit=100", as_="mgr_west").json()["items"]
        if m["kind"] == "budget_alert" and m["ref"]["id"] == f"department:west:{period}"
    ]
    assert sorted(a["title"] for a in alerts) == sorted(
        f"Budget department west {period} reached {t}%" for t in crossed
    )
    assert sorted(a["threshold"] for a in budget["alerts"]) == sorted(crossed)
    stats = stack.call("GET", f"/v1/expense-stats?period={period}&group_by=unit", as_="fin").json()
    assert [(g["key"], Decimal(g["total"])) for g in stats["groups"]] == [("department:west", accepted)]
