"""Timestamps, dates and months at and beyond the limits (1970..2200), and JSON nesting,
through the HTTP edge: 422 ``out_of_range`` / ``invalid_*``, 400 for deep bodies, never a
500, nothing stored, and the same user's next normal request still works."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.models.signins import SignIn
from chalicelib.timeutil import iso, utcnow
from tests.integration.hostile import table_items
from tests.support import approved_expense, post_webhook, signed

LOCATION = {"lat": 31.2304, "lng": 121.4737, "accuracy_m": 20}
EAST = {"type": "department", "id": "east"}
YEAR_1 = "0001-01-01T00:00:00Z"


def signin(api: Any, **fields: Any) -> tuple[int, Any]:
    return api.post("/v1/signins", {"kind": "check_in", "location": LOCATION, "client_time": now(), **fields})


def now() -> str:
    return iso(utcnow())


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_year_1_client_time_is_422_out_of_range_stores_nothing_and_the_next_sign_in_works(api):
    before = table_items()
    status, body = signin(api, client_time=YEAR_1)
    assert status == 422 and body["error"]["code"] == "out_of_range", body
    assert table_items() == before
    status, body = signin(api)
    assert status == 201, body
    assert body["client_time"][:4].isdigit() and len(body["client_time"]) == 20
    status, again = signin(api)  # the open visit written above is read back and closed
    assert status == 201, again
    stored = [s.client_time for s in SignIn.scan()]
    assert all(len(t) == 20 and t[4] == "-" for t in stored), stored


@pytest.mark.parametrize(
    "fields",
    [
        {"client_time": "9999-12-31T23:59:59-01:00"},
        {"client_time": "0001-01-01T00:00:00+01:00"},
        {"client_time": "1969-12-31T23:59:59Z"},
        {"client_time": "2201-01-01T00:00:00Z"},
        {"sent_at": "9999-12-31T23:59:59-01:00"},
        {"sent_at": YEAR_1},
    ],
)
def test_sign_in_times_beyond_the_limits_are_out_of_range(api, fields):
    before = table_items()
    status, body = signin(api, **fields)
    assert status == 422 and body["error"]["code"] == "out_of_range", body
    assert table_items() == before


def test_sign_in_at_the_limits_is_accepted(api):
    status, body = signin(api, client_time="2200-12-31T23:59:59Z", sent_at="1970-01-01T00:00:00Z")
    assert status == 201, body
    assert body["client_time"] == "2200-12-31T23:59:59Z"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/feed?since=9999-12-31T23:59:59-01:00",
        "/v1/feed?until=0001-01-01T00:00:00+01:00",
        "/v1/signins?from=9999-12-31",
        "/v1/signins?from=0001-01-01",
        "/v1/signins?to=0001-01-01T00:00:00+01:00",
        "/v1/plans?from=9999-12-31",
        "/v1/plans?to=0001-01-01",
        "/v1/logs?from=0001-01-01",
        "/v1/calendar?month=0000-01",
        "/v1/calendar?month=9999-12",
        "/v1/plan-comparison?from=0001-01-01&to=0001-01-02",
        "/v1/expenses?from=0001-01-01",
        "/v1/expenses?to=9999-12-31",
        "/v1/expense-stats?period=0000-01",
        "/v1/budgets/department/east/0000-01",
        "/v1/budgets/department/east/9999-12",
    ],
)
def test_extreme_query_values_are_422_out_of_range(api, path):
    scheme, _, query = path.partition("?")
    encoded = "&".join(f"{k}={quote(v, safe='')}" for k, v in (p.split("=", 1) for p in query.split("&") if p))
    status, body = api.get(f"{scheme}?{encoded}" if query else path, as_="fin" if "stats" in path else "rep_a")
    assert status == 422 and body["error"]["code"] == "out_of_range", (path, body)


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/plans", {"title": "x", "start_time": "9999-12-31T23:59:59-01:00"}, "out_of_range"),
        ("/v1/plans", {"title": "x", "date": "0000-01-01"}, "out_of_range"),
        ("/v1/plans", {"title": "x", "date": "2026-02-30"}, "invalid_date"),
        ("/v1/plans", {"title": "x", "date": "2026-01-01", "end_time": YEAR_1}, "out_of_range"),
        ("/v1/logs", {"date": "9999-12-31", "content": "x"}, "out_of_range"),
        (
            "/v1/expenses",
            {"amount": "1.00", "category": "t", "occurred_on": "2026-02-30", "unit": EAST},
            "invalid_date",
        ),
        (
            "/v1/expenses",
            {"amount": "1.00", "category": "t", "occurred_on": "0000-01-01", "unit": EAST},
            "out_of_range",
        ),
    ],
)
def test_impossible_or_extreme_body_times_are_422_and_store_nothing(api, path, body, code):
    before = table_items()
    status, out = api.post(path, body)
    assert status == 422 and out["error"]["code"] == code, out
    assert table_items() == before


def test_activity_with_an_out_of_range_occurred_at_is_422_and_stores_nothing(api):
    status, account = api.post("/v1/accounts", {"name": "A"})
    assert status == 201, account
    before = table_items()
    body = {
        "type": "post",
        "content": "x",
        "related": [{"type": "account", "id": account["id"]}],
        "occurred_at": YEAR_1,
    }
    status, out = api.post("/v1/activities", body)
    assert status == 422 and out["error"]["code"] == "out_of_range", out
    assert table_items() == before


def test_budget_of_an_impossible_period_is_refused(api):
    budget = {"amount": "1.00", "currency": "CNY", "mode": "block"}
    status, out = api.put("/v1/budgets/department/east/0000-01", budget, as_="admin")
    assert status == 422 and out["error"]["code"] == "out_of_range", out


def test_expense_patch_to_an_impossible_date_is_422_and_the_draft_keeps_its_date(api):
    status, e = api.post("/v1/expenses", {"amount": "1.00", "category": "t", "occurred_on": "2026-11-03", "unit": EAST})
    assert status == 201, e
    status, out = api.patch(f"/v1/expenses/{e['id']}", {"occurred_on": "2027-02-29"})
    assert status == 422 and out["error"]["code"] == "invalid_date", out
    assert api.get(f"/v1/expenses/{e['id']}")[1]["occurred_on"] == "2026-11-03"


@pytest.mark.parametrize("paid_at", ["not a time", YEAR_1, "9999-12-31T23:59:59-01:00", "2026-02-30T00:00:00Z", 5])
def test_payment_update_with_an_invalid_paid_at_is_422_and_not_applied(api, secret, paid_at):  # noqa: F811
    expense_id = approved_expense()
    event = {
        "type": "expense.payment_updated",
        "data": {"expense_id": expense_id, "status": "paid", "paid_at": paid_at},
    }
    raw, headers = signed(secret, event, webhook_id="wh_paid_at")
    status, out = post_webhook(api, raw, headers)
    assert status in (400, 422), out
    assert api.get(f"/v1/expenses/{expense_id}", as_="fin")[1]["payment_status"] == "unpaid"
    good = {
        "type": "expense.payment_updated",
        "data": {"expense_id": expense_id, "status": "paid", "paid_at": "2026-11-05T08:00:00+08:00"},
    }
    raw, headers = signed(secret, good, webhook_id="wh_paid_at_2")
    assert post_webhook(api, raw, headers)[0] == 200
    assert api.get(f"/v1/expenses/{expense_id}", as_="fin")[1]["paid_at"] == "2026-11-05T00:00:00Z"


def test_webhook_with_an_out_of_range_timestamp_is_422(api, secret):  # noqa: F811
    expense_id = approved_expense()
    event = {
        "type": "expense.payment_updated",
        "timestamp": YEAR_1,
        "data": {"expense_id": expense_id, "status": "paid"},
    }
    raw, headers = signed(secret, event, webhook_id="wh_ts")
    status, out = post_webhook(api, raw, headers)
    assert status == 422 and out["error"]["code"] == "out_of_range", out


# ---------------------------------------------------------------- JSON depth
BODY_ROUTES = [
    ("POST", "/v1/signins"),
    ("POST", "/v1/accounts"),
    ("POST", "/v1/expenses"),
    ("POST", "/v1/activities"),
    ("POST", "/v1/plans"),
    ("PUT", "/v1/admin/settings"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
@pytest.mark.parametrize("depth", [33, 484, 10_000])
def test_body_nested_deeper_than_32_is_400(api, method, path, depth):
    raw = json.dumps({"note": "x"})[:-1] + ', "extra": ' + nested(depth - 1) + "}"
    status, out = api.call(method, path, raw, as_="admin")
    assert status == 400 and out["error"]["code"] == "too_deeply_nested", out


def test_body_nested_32_deep_is_judged_on_its_fields_not_its_depth(api):
    raw = '{"name": "x", "extra": ' + nested(31) + "}"
    status, out = api.call("POST", "/v1/accounts", raw)
    assert status == 400 and out["error"]["code"] == "invalid_body", out


def test_deep_body_on_a_body_less_route_with_idempotency_key_is_no_500(api):
    status, e = api.post("/v1/expenses", {"amount": "1.00", "category": "t", "occurred_on": "2026-11-03", "unit": EAST})
    status, out = api.call("POST", f"/v1/expenses/{e['id']}/submit", nested(10_000), headers={"Idempotency-Key": "k1"})
    assert status < 500, out


@pytest.mark.parametrize("depth", [33, 10_000])
def test_webhook_body_nested_deeper_than_32_is_400(api, secret, depth):  # noqa: F811
    raw = ('{"type": "budget.updated", "data": {"x": ' + nested(depth - 2) + "}}").encode()
    _, headers = signed(secret, {}, webhook_id="wh_deep")
    status, out = post_webhook(api, raw, headers)
    assert status == 400 and out["error"]["code"] == "too_deeply_nested", out
