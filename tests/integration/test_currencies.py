"""Expenses in any ISO 4217 currency: converted at submission at the rate for occurred_on,
counted converted by budgets, statistics and approval limits; rates from the finance
system's signed fx.rates_updated webhook, exactly once."""

from __future__ import annotations

import threading
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from chalicelib.auth import Principal
from chalicelib.errors import AppError
from chalicelib.services.expenses import budgets, expenses, fx
from chalicelib.services.org import org
from tests.support import post_webhook, signed

EAST = {"type": "department", "id": "east"}
REP = Principal("rep_a", "acme", frozenset())


def rate(currency: str, day: str, value: str) -> None:
    fx.put_rate("acme", "CNY", fx.NewRate(currency, day, value, source="test"))


def draft(api, amount: str, currency: str, day: str = "2026-11-09", as_: str = "rep_a") -> str:
    body = {"amount": amount, "currency": currency, "category": "travel", "occurred_on": day, "unit": EAST}
    status, out = api.post("/v1/expenses", body, as_=as_)
    assert status == 201, out
    return out["id"]


def test_a_foreign_expense_is_converted_at_the_rate_in_effect_on_its_day(api):
    rate("USD", "2026-11-01", "7.0000")
    rate("USD", "2026-11-09", "7.1235")
    rate("USD", "2026-11-10", "9.9999")  # after the expense's day: not used
    expense_id = draft(api, "10.00", "USD")
    assert api.get(f"/v1/expenses/{expense_id}")[1]["converted"] is None, "a draft is not converted yet"
    status, out = api.post(f"/v1/expenses/{expense_id}/submit")
    assert status == 200, out
    assert out["amount"] == "10.00" and out["currency"] == "USD"
    assert out["converted"] == {"amount": "71.24", "currency": "CNY", "rate": "7.1235", "rate_date": "2026-11-09"}


def test_the_latest_rate_before_the_day_applies_when_the_day_has_none(api):
    rate("EUR", "2026-11-05", "7.9")
    _, out = api.post(f"/v1/expenses/{draft(api, '3.00', 'EUR')}/submit")
    assert out["converted"]["rate_date"] == "2026-11-05" and out["converted"]["amount"] == "23.70"


def test_without_a_rate_on_or_before_the_day_submission_is_422_and_changes_nothing(api):
    rate("GBP", "2026-11-10", "9.1")
    expense_id = draft(api, "5.00", "GBP")
    status, out = api.post(f"/v1/expenses/{expense_id}/submit")
    assert status == 422 and out["error"]["code"] == "no_exchange_rate"
    assert api.get(f"/v1/expenses/{expense_id}")[1]["status"] == "draft"
    assert budgets.load("acme", "department", "east", "2026-11") is None


def test_budgets_statistics_and_approval_limits_count_the_converted_amount(api):
    rate("USD", "2026-11-01", "7.10")
    api.put(
        "/v1/budgets/department/east/2026-11", {"amount": "10000.00", "currency": "CNY", "mode": "block"}, as_="fin"
    )
    _, small = api.post(f"/v1/expenses/{draft(api, '100.00', 'USD')}/submit")
    assert small["converted"]["amount"] == "710.00" and len(small["approver_ids"]) == 1
    _, large = api.post(f"/v1/expenses/{draft(api, '800.00', 'USD')}/submit")  # 5,680 CNY > the 5,000 limit
    assert len(large["approver_ids"]) == 2
    _, budget = api.get("/v1/budgets/department/east/2026-11", as_="fin")
    assert budget["reserved"] == "6390.00"
    _, stats = api.get("/v1/expense-stats?period=2026-11&group_by=category", as_="fin")
    assert [(g["key"], g["total"], g["count"]) for g in stats["groups"]] == [("travel", "6390.00", 2)]
    status, out = api.post(f"/v1/expenses/{draft(api, '700.00', 'USD')}/submit")  # 4,970 more: over 10,000
    assert status == 409 and out["error"]["code"] == "budget_exceeded"


def test_a_budget_in_another_currency_than_the_tenants_refuses_converted_amounts(api):
    rate("USD", "2026-11-01", "7.10")
    api.put("/v1/budgets/department/east/2026-11", {"amount": "100.00", "currency": "USD", "mode": "block"}, as_="fin")
    status, out = api.post(f"/v1/expenses/{draft(api, '1.00', 'USD')}/submit")
    assert status == 422 and out["error"]["code"] == "currency_mismatch"


def test_rate_day_is_the_expenses_tenant_local_day(api):
    org.put_settings("acme", {"timezone": "Pacific/Kiritimati"})  # UTC+14
    rate("USD", "2026-11-09", "7.00")
    rate("USD", "2026-11-08", "6.00")
    _, out = api.post(f"/v1/expenses/{draft(api, '1.00', 'USD', day='2026-11-09')}/submit")
    assert out["converted"]["rate_date"] == "2026-11-09"


def test_the_finance_systems_rates_webhook_applies_once(api, secret):  # noqa: F811 - the fixture
    event = {"type": "fx.rates_updated", "data": {"date": "2026-11-02", "rates": {"USD": "7.2", "JPY": "0.047"}}}
    raw, headers = signed(secret, event, "wh_fx")
    assert post_webhook(api, raw, headers) == (200, {"webhook_id": "wh_fx", "status": "applied"})
    assert post_webhook(api, raw, headers)[1]["status"] == "duplicate"
    assert api.get("/v1/exchange-rates/JPY/2026-11-30")[1]["rate"] == "0.047"
    event["data"]["rates"]["USD"] = "1.0"
    raw, headers = signed(secret, event, "wh_fx")
    status, out = post_webhook(api, raw, headers)
    assert status == 422 and out["error"]["code"] == "webhook_id_reused"
    assert api.get("/v1/exchange-rates/USD/2026-11-02")[1]["rate"] == "7.2"
    bad = {"type": "fx.rates_updated", "data": {"date": "2026-11-03", "rates": {"USD": "7.3", "XXQ": "1"}}}
    raw, headers = signed(secret, bad, "wh_fx_bad")
    assert post_webhook(api, raw, headers)[0] == 422
    assert api.get("/v1/exchange-rates/USD/2026-11-03")[1]["rate_date"] == "2026-11-02", "nothing of it stored"


def test_fifty_concurrent_mixed_currency_submissions_never_overrun_a_block_budget(api, atomic_moto):  # noqa: F811
    rate("USD", "2026-11-01", "7.1234")
    rate("EUR", "2026-11-01", "7.7777")
    api.put("/v1/budgets/department/east/2026-11", {"amount": "2000.00", "currency": "CNY", "mode": "block"}, as_="fin")
    plan = [("USD", "7.15"), ("EUR", "6.35"), ("CNY", "50.00")]
    drafts = []
    for i in range(50):
        currency, amount = plan[i % 3]
        e = expenses.create(
            REP, {"amount": amount, "currency": currency, "category": "x", "occurred_on": "2026-11-09", "unit": EAST}
        )
        drafts.append(e.expense_id)
    accepted: list[int] = []
    errors: list[Any] = []
    barrier = threading.Barrier(len(drafts))

    def run(expense_id: str) -> None:
        barrier.wait()
        try:
            accepted.append(int(expenses.submit(REP, expense_id).converted_cents))
        except AppError as exc:
            if exc.code != "budget_exceeded":
                errors.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=(d,)) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    budget = budgets.load("acme", "department", "east", "2026-11")
    assert int(budget.reserved_cents) == sum(accepted) <= 200_000
    usd = (Decimal("7.15") * Decimal("7.1234")).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
    assert usd == Decimal("50.93") and {50_93, 49_39, 50_00} >= set(accepted)
    assert sum(accepted) > 200_000 - 5100, "the budget was filled"
