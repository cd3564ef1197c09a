"""The opportunity overview: everything tied to an opportunity, in a bounded number of
requests, and only for callers who may see the opportunity."""

from __future__ import annotations

from typing import Any


def opportunity(api: Any) -> dict[str, Any]:
    status, account = api.post("/v1/accounts", {"name": "Acme Foods"})
    assert status == 201, account
    status, opp = api.post(
        "/v1/opportunities", {"name": "Cold chain", "account_id": account["id"], "stage": "proposal"}
    )
    assert status == 201, opp
    return opp


def expense_on(api: Any, opp_id: str, amount: str) -> dict[str, Any]:
    body = {
        "amount": amount,
        "category": "client dinner",
        "occurred_on": "2026-11-05",
        "unit": {"type": "department", "id": "east"},
        "opportunity_id": opp_id,
    }
    status, e = api.post("/v1/expenses", body)
    assert status == 201, e
    return e


def test_expense_on_opportunity_records_its_stage(api):
    opp = opportunity(api)
    e = expense_on(api, opp["id"], "88.00")
    assert e["opportunity_id"] == opp["id"] and e["stage"] == "proposal"
    status, _ = api.post(f"/v1/expenses/{e['id']}/submit")
    _, stats = api.get("/v1/expense-stats?period=2026-11&group_by=stage", as_="fin")
    assert stats["groups"] == [{"key": "proposal", "total": "88.00", "count": 1, "currency": "CNY"}]


def test_expense_on_invisible_opportunity_is_422(api):
    opp = opportunity(api)
    body = {
        "amount": "1.00",
        "category": "x",
        "occurred_on": "2026-11-05",
        "unit": {"type": "department", "id": "west"},
        "opportunity_id": opp["id"],
    }
    status, error = api.post("/v1/expenses", body, as_="rep_c")
    assert status == 422 and error["error"]["code"] == "unknown_opportunity"


def test_overview_lists_expenses_and_activity_of_the_opportunity(api):
    opp = opportunity(api)
    first = expense_on(api, opp["id"], "10.00")
    second = expense_on(api, opp["id"], "20.00")
    api.post(f"/v1/expenses/{second['id']}/submit")
    status, overview = api.get(f"/v1/opportunities/{opp['id']}/overview")
    assert status == 200
    assert overview["opportunity"]["id"] == opp["id"] and overview["account"]["name"] == "Acme Foods"
    assert {e["id"] for e in overview["expenses"]} == {first["id"], second["id"]}
    assert set(overview) == {"opportunity", "account", "plans", "logs", "signins", "photos", "expenses", "activities"}
    assert any(a["type"] == "expense" for a in overview["activities"])  # the submission's activity


def test_overview_costs_the_same_for_2_and_12_expenses(api, ddb_requests):
    opp = opportunity(api)
    counts = []
    for n in (2, 12):
        while len(api.get(f"/v1/opportunities/{opp['id']}/overview")[1]["expenses"]) < n:
            expense_on(api, opp["id"], "1.00")
        ddb_requests.reset()
        api.get(f"/v1/opportunities/{opp['id']}/overview")
        counts.append(ddb_requests.total)
    assert counts[0] == counts[1]


def test_overview_of_invisible_or_unknown_opportunity_is_404(api):
    opp = opportunity(api)
    assert api.get(f"/v1/opportunities/{opp['id']}/overview", as_="rep_c")[0] == 404
    assert api.get("/v1/opportunities/opp_nope/overview")[0] == 404
    assert api.get(f"/v1/opportunities/{opp['id']}/overview", as_="boss", tenant="globex")[0] == 404
