"""The money rules (services/expenses/money.py) on every route that writes money: a
currency is an ISO 4217 code in use, an expense is never dated after the tenant's today
(also a draft stored before the rule, at submission), and nothing refused is stored."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.models.expenses import Expense
from chalicelib.services.org import org
from chalicelib.timeutil import today
from tests.support import EAST, draft


def tenant_today():
    return today(org.tenant_zone("acme"))


def test_an_expense_dated_after_the_tenants_today_is_422_and_stores_nothing(api):
    tomorrow = (tenant_today() + timedelta(days=1)).isoformat()
    body = {"amount": "10.00", "category": "travel", "occurred_on": tomorrow, "unit": EAST}
    status, error = api.post("/v1/expenses", body)
    assert status == 422 and error["error"]["code"] == "future_date"
    assert api.get("/v1/expenses")[1]["items"] == []
    status, _ = api.post("/v1/expenses", {**body, "occurred_on": tenant_today().isoformat()})
    assert status == 201
    e = draft(api)
    status, error = api.patch(f"/v1/expenses/{e['id']}", {"occurred_on": "2027-03-01"})
    assert status == 422 and error["error"]["code"] == "future_date"
    assert api.get(f"/v1/expenses/{e['id']}")[1]["occurred_on"] == e["occurred_on"]


def test_a_draft_stored_before_the_rule_with_a_future_date_cannot_be_submitted(api):
    e = draft(api)
    item = Expense.fetch("acme", e["id"])
    assert item is not None
    item.occurred_on = "2027-12-01"  # dodging this month's block budget
    item.save()
    status, error = api.post(f"/v1/expenses/{e['id']}/submit")
    assert status == 422 and error["error"]["code"] == "future_date"
    assert api.get(f"/v1/expenses/{e['id']}")[1]["status"] == "draft"


@pytest.mark.parametrize(
    ("method", "path", "body", "as_"),
    [
        (
            "POST",
            "/v1/expenses",
            {"amount": "1.00", "currency": "QQQ", "category": "t", "occurred_on": "2026-11-03", "unit": EAST},
            "rep_a",
        ),
        ("PUT", "/v1/budgets/department/east/2026-11", {"amount": "100.00", "currency": "QQQ", "mode": "block"}, "fin"),
        ("PUT", "/v1/admin/settings", {"currency": "XTS"}, "admin"),
        ("PUT", "/v1/admin/exchange-rates/QQQ/2026-11-01", {"rate": "1.5"}, "fin"),
    ],
)
def test_a_currency_that_is_no_iso_4217_code_in_use_is_422_everywhere(api, method, path, body, as_):
    status, error = api.call(method, path, body, as_=as_)
    assert status == 422 and error["error"]["code"] == "unknown_currency", error
    assert api.get("/v1/admin/settings", as_="admin")[1]["currency"] == "CNY"


def test_an_opportunity_in_an_unknown_currency_is_422(api):
    status, accounts = api.get("/v1/accounts?scope=mine")
    account = accounts["items"][0]["id"] if accounts["items"] else api.post("/v1/accounts", {"name": "A"})[1]["id"]
    body = {"name": "Deal", "account_id": account, "stage": "lead", "amount": "10.00", "currency": "QQQ"}
    status, error = api.post("/v1/opportunities", body)
    assert status == 422 and error["error"]["code"] == "unknown_currency"
