"""Stamps a client or partner sends can never push ordering or "latest wins" ahead of our
clock (issue 24 item 4, timeutil.stated): more than 5 minutes ahead is 422
``future_timestamp`` with nothing stored; within that, clamped to now."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.models.fx import ExchangeRate
from chalicelib.services.expenses import fx
from chalicelib.timeutil import iso
from tests.support import account, post_webhook, signed


def test_an_activity_dated_2199_is_422_and_stores_nothing(api):
    acc = account(api)
    body = {"type": "post", "content": "pinned", "related": [{"type": "account", "id": acc}]}
    status, error = api.post("/v1/activities", {**body, "occurred_at": "2199-01-01T00:00:00Z"})
    assert status == 422 and error["error"]["code"] == "future_timestamp"
    assert api.get("/v1/feed?types=post")[1]["items"] == []
    soon = iso(datetime.now(UTC) + timedelta(minutes=2))
    status, out = api.post("/v1/activities", {**body, "occurred_at": soon})
    assert status == 201 and out["occurred_at"] <= iso(datetime.now(UTC))  # within the skew: clamped to now
    past = "2026-01-02T03:04:05Z"
    status, out = api.post("/v1/activities", {**body, "occurred_at": past})
    assert status == 201 and out["occurred_at"] == past


def test_a_far_future_rates_statement_is_refused_and_cannot_pin_a_days_rate(api, secret):  # noqa: F811
    event = {
        "type": "fx.rates_updated",
        "timestamp": "2199-01-01T00:00:00Z",
        "data": {"date": "2026-11-02", "rates": {"USD": "9.99"}},
    }
    raw, headers = signed(secret, event, "wh_future")
    status, out = post_webhook(api, raw, headers)
    assert status == 422 and out["error"]["code"] == "future_timestamp"
    assert api.get("/v1/exchange-rates/USD/2026-11-02")[0] == 422  # nothing stored
    # a statement stored before the check (dated 2199) no longer pins the day
    fx.put_rate(
        "acme", "CNY", fx.NewRate("USD", "2026-11-02", "9.99", source="webhook:old", as_of="2199-01-01T00:00:00Z")
    )
    status, _ = api.put("/v1/admin/exchange-rates/USD/2026-11-02", {"rate": "7.10"}, as_="fin")
    assert status == 200
    stored = ExchangeRate.in_effect("acme", "USD", "2026-11-02")
    assert stored is not None and stored.rate == "7.10"
