"""Exchange rates: who sets them, which one applies on a day, one Query per lookup."""

from __future__ import annotations

import pytest

from chalicelib.errors import Unprocessable
from chalicelib.services.expenses import fx


def put_rate(api, currency, day, rate, as_="fin"):
    return api.put(f"/v1/admin/exchange-rates/{currency}/{day}", {"rate": rate}, as_=as_)


def in_effect(api, currency, day, as_="rep_a"):
    return api.get(f"/v1/exchange-rates/{currency}/{day}", as_=as_)


def test_finance_and_admins_set_rates_and_anyone_reads_the_rate_in_effect(api):
    status, out = put_rate(api, "USD", "2030-03-01", "7.1234")
    assert status == 200, out
    assert out == {"currency": "USD", "date": "2030-03-01", "rate": "7.1234", "base": "CNY", "as_of": out["as_of"]}
    assert put_rate(api, "USD", "2030-03-05", "7.2000", as_="admin")[0] == 200
    status, out = in_effect(api, "USD", "2030-03-04")
    assert status == 200 and (out["rate"], out["rate_date"]) == ("7.1234", "2030-03-01")
    _, out = in_effect(api, "USD", "2030-03-05")
    assert (out["rate"], out["rate_date"]) == ("7.2000", "2030-03-05")
    _, out = in_effect(api, "USD", "2031-01-01")
    assert out["rate_date"] == "2030-03-05"


def test_a_rep_or_manager_cannot_set_a_rate_and_nothing_is_stored(api):
    for who in ("rep_a", "mgr_east"):
        status, out = put_rate(api, "USD", "2030-03-01", "1", as_=who)
        assert status == 403, out
    assert in_effect(api, "USD", "2030-03-01")[1]["error"]["code"] == "no_exchange_rate"


def test_no_rate_on_or_before_the_day_is_422_no_exchange_rate(api):
    put_rate(api, "EUR", "2030-03-10", "7.9")
    status, out = in_effect(api, "EUR", "2030-03-09")
    assert status == 422 and out["error"]["code"] == "no_exchange_rate"


def test_bad_rates_currencies_and_dates_are_refused(api):
    assert put_rate(api, "USD", "2030-03-01", "0")[1]["error"]["code"] == "invalid_rate"
    assert put_rate(api, "USD", "2030-03-01", "7.123456789")[0] == 400
    assert put_rate(api, "XYZ", "2030-03-01", "1.5")[1]["error"]["code"] == "unknown_currency"
    assert put_rate(api, "CNY", "2030-03-01", "1.5")[1]["error"]["code"] == "tenant_currency"
    assert put_rate(api, "USD", "2030-02-30", "1.5")[0] == 422
    assert put_rate(api, "usd", "2030-03-01", "1.5")[0] == 400
    assert in_effect(api, "USD", "2030-03-01")[1]["error"]["code"] == "no_exchange_rate"


def test_the_tenant_currency_converts_at_1_without_a_lookup(api):
    status, out = in_effect(api, "CNY", "2030-03-01")
    assert status == 200 and out["rate"] == "1" and out["rate_date"] is None


def test_rate_lookup_is_one_query_whatever_the_history(api, ddb_requests):
    put_rate(api, "JPY", "2030-01-01", "0.048")
    ddb_requests.reset()
    assert in_effect(api, "JPY", "2030-06-30")[0] == 200
    short = ddb_requests.calls.count("Query")
    for day in range(1, 29):
        fx.put_rate("acme", "CNY", fx.NewRate("JPY", f"2030-02-{day:02d}", "0.05", source="test"))
    ddb_requests.reset()
    _, out = in_effect(api, "JPY", "2030-06-30")
    assert out["rate_date"] == "2030-02-28"
    assert ddb_requests.calls.count("Query") == short == 1


def test_a_late_older_statement_of_a_days_rate_never_overwrites_a_newer_one(api):
    fx.put_rate(
        "acme", "CNY", fx.NewRate("USD", "2030-03-01", "7.30", source="webhook:b", as_of="2026-03-01T10:00:00Z")
    )
    stored = fx.apply_rates_update(
        "acme", "CNY", "a", {"date": "2030-03-01", "rates": {"USD": "7.10"}}, "2026-03-01T09:00:00Z"
    )
    assert stored == 0
    assert in_effect(api, "USD", "2030-03-01")[1]["rate"] == "7.30"


def test_a_rates_update_with_one_bad_entry_stores_none(api):
    with pytest.raises(Unprocessable):
        fx.apply_rates_update(
            "acme", "CNY", "w1", {"date": "2030-03-01", "rates": {"USD": "7.1", "EUR": "-1"}}, "2030-03-01T00:00:00Z"
        )
    assert in_effect(api, "USD", "2030-03-01")[0] == 422


def test_rates_are_per_tenant(api):
    put_rate(api, "USD", "2030-03-01", "7.1")
    fx.put_rate("globex", "CNY", fx.NewRate("EUR", "2030-03-01", "7.9", source="test"))
    status, out = api.get("/v1/exchange-rates/USD/2030-03-01", as_="rep_x", tenant="globex")
    assert status == 422 and out["error"]["code"] == "no_exchange_rate", out  # acme's USD rate is acme's
    status, out = api.get("/v1/exchange-rates/EUR/2030-03-01", as_="rep_x", tenant="globex")
    assert status == 200 and out["rate"] == "7.9", out
    assert in_effect(api, "EUR", "2030-03-01")[1]["error"]["code"] == "no_exchange_rate"  # and globex's is globex's
    assert in_effect(api, "USD", "2030-03-01")[1]["rate"] == "7.1"
