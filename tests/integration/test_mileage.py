"""POST /v1/mileage-claims: the great-circle path through a day's trusted sign-ins, times
the tenant's rate, as a draft expense; one claim per user and day."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from chalicelib.geo import EARTH_RADIUS_M
from chalicelib.services.org import org

STEP = 1000 / (math.pi * EARTH_RADIUS_M / 180)  # degrees of longitude for 1 km on the equator
NOW = datetime.now(UTC).replace(microsecond=0)  # each test's start (the now_at_start fixture)
pytestmark = pytest.mark.usefixtures("now_at_start")
UNIT, SPAN = 45, 1800  # a time step is 45 s (1 km per step: 80 km/h); the first sign-in 30 min ago


def first_signin_at() -> datetime:
    """The day's first sign-in: SPAN ago, or, within SPAN after the tenant's midnight, SPAN
    before that midnight: a claim's sign-ins share one local day whatever the hour the suite
    runs at (16:00-16:30 UTC is the first half hour of the day in Shanghai)."""
    zone = org.tenant_zone("acme")
    first = NOW - timedelta(seconds=SPAN)
    midnight = datetime.combine(NOW.astimezone(zone).date(), time(0), tzinfo=zone)
    return first if first >= midnight else midnight - timedelta(seconds=SPAN)


def today() -> str:
    """The claims' day: the tenant's local day of the sign-ins."""
    return first_signin_at().astimezone(org.tenant_zone("acme")).date().isoformat()


@pytest.fixture
def rated(api):
    assert api.put("/v1/admin/settings", {"mileage_rate": "1.25"}, as_="admin")[0] == 200
    return api


def sign_in(api, lat, lng, seconds, kind="check_in", as_="rep_a", **extra):
    body = {
        "kind": kind,
        "location": {"lat": lat, "lng": lng, "accuracy_m": extra.pop("accuracy_m", 10)},
        "client_time": (first_signin_at() + timedelta(seconds=UNIT * seconds)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **extra,
    }
    status, out = api.post("/v1/signins", body, as_=as_)
    assert status == 201, out
    return out["id"]


def claim(api, day=None, as_="rep_a"):
    return api.post("/v1/mileage-claims", {"date": day or today()}, as_=as_)


def test_a_claim_is_the_path_through_the_days_sign_ins_in_time_order_times_the_rate(rated):
    ids = [sign_in(rated, 0.0, STEP * k, seconds=k) for k in (0, 1, 3)]  # 0 km, 1 km, 3 km: a 3 km path
    status, out = claim(rated)
    assert status == 201, out
    assert (out["category"], out["status"], out["currency"]) == ("mileage", "draft", "CNY")
    assert out["unit"] == {"type": "department", "id": "east"}
    assert out["mileage"]["distance_km"] == "3.000"
    assert out["amount"] == "3.75"
    assert out["mileage"]["signin_ids"] == ids and out["mileage"]["excluded"] == []
    assert rated.get(f"/v1/expenses/{out['id']}")[1]["mileage"] == out["mileage"]


def test_flagged_sign_ins_are_left_out_and_named(rated):
    sign_in(rated, 0.0, 0.0, seconds=0)
    fake = sign_in(rated, 0.0, STEP * 50, seconds=1, mock_location=True)
    fuzzy = sign_in(rated, 0.0, STEP * 40, seconds=2, accuracy_m=500)
    sign_in(rated, 0.0, STEP * 2, seconds=3)
    status, out = claim(rated)
    assert status == 201, out
    assert out["mileage"]["distance_km"] == "2.000" and out["amount"] == "2.50"
    assert out["mileage"]["excluded"] == [
        {"signin_id": fake, "flags": ["mock_location"]},
        {"signin_id": fuzzy, "flags": ["low_accuracy"]},
    ]


def test_a_path_across_the_antimeridian_is_the_short_way(rated):
    sign_in(rated, 0.0, 180 - STEP / 2, seconds=0)
    sign_in(rated, 0.0, -180 + STEP / 2, seconds=1)
    status, out = claim(rated)
    assert status == 201, out
    assert out["mileage"]["distance_km"] == "1.000"


def test_a_second_claim_for_the_day_is_409_and_stores_nothing(rated):
    sign_in(rated, 0.0, 0.0, seconds=0)
    sign_in(rated, 0.0, STEP, seconds=1)
    assert claim(rated)[0] == 201
    status, out = claim(rated)
    assert status == 409 and out["error"]["code"] == "mileage_already_claimed"
    _, listed = rated.get(f"/v1/expenses?from={today()}&to={today()}")
    assert [e["category"] for e in listed["items"]].count("mileage") == 1


def test_without_sign_ins_rate_or_distance_the_claim_is_422(api, rated):
    assert claim(rated)[1]["error"]["code"] == "no_signins"
    sign_in(rated, 0.0, 0.0, seconds=0)
    assert claim(rated)[1]["error"]["code"] == "no_distance"
    assert claim(rated, as_="rep_b")[1]["error"]["code"] == "no_signins"
    assert claim(rated, day="2026-02-30")[0] == 422


def test_no_rate_set_is_422_no_mileage_rate(api):
    sign_in(api, 0.0, 0.0, seconds=0)
    sign_in(api, 0.0, STEP, seconds=1)
    status, out = claim(api)
    assert status == 422 and out["error"]["code"] == "no_mileage_rate"


def test_a_claim_goes_through_the_usual_lifecycle(rated):
    sign_in(rated, 0.0, 0.0, seconds=0)
    sign_in(rated, 0.0, STEP * 4, seconds=3)
    _, out = claim(rated)
    assert Decimal(out["amount"]) == Decimal("5.00")
    status, submitted = rated.post(f"/v1/expenses/{out['id']}/submit")
    assert status == 200 and submitted["status"] == "submitted"
    assert rated.post(f"/v1/expenses/{out['id']}/approve", {}, as_="mgr_east")[0] == 200


def test_a_claim_costs_the_same_requests_whatever_the_history(rated, ddb_requests):
    sign_in(rated, 0.0, 0.0, seconds=0)
    sign_in(rated, 0.0, STEP, seconds=1)
    ddb_requests.reset()
    assert claim(rated)[0] == 201
    first = list(ddb_requests.calls)
    for k in range(30):
        sign_in(rated, 0.0, STEP * k, seconds=10 + k, as_="rep_b")
    ddb_requests.reset()
    assert claim(rated, as_="rep_b")[0] == 201
    assert ddb_requests.calls == first


def test_a_leg_no_car_can_drive_is_left_out_and_listed(rated):
    # issue 24 item 3: 1,068 km in 60 s was counted
    sign_in(rated, 0.0, 0.0, seconds=0)
    jump = sign_in(rated, 0.0, STEP * 1068, seconds=1)
    sign_in(rated, 0.0, STEP * 2, seconds=3)  # 2 km in 135 s from the first: plausible
    status, out = claim(rated)
    assert status == 201, out
    assert out["mileage"]["distance_km"] == "2.000" and out["amount"] == "2.50"
    assert out["mileage"]["excluded"] == [{"signin_id": jump, "flags": ["implausible_speed"]}]


def test_the_speed_limit_is_a_tenant_setting(rated):
    status, settings = rated.put("/v1/admin/settings", {"max_speed_kmh": 60}, as_="admin")
    assert status == 200 and settings["max_speed_kmh"] == 60
    sign_in(rated, 0.0, 0.0, seconds=0)
    fast = sign_in(rated, 0.0, STEP, seconds=1)  # 80 km/h: above 60
    status, out = claim(rated)
    assert status == 422 and out["error"]["code"] == "no_distance", out
    assert rated.put("/v1/admin/settings", {"max_speed_kmh": 5}, as_="admin")[0] == 400
    assert fast


def test_a_claims_amount_distance_currency_and_date_cannot_be_patched_apart(rated):
    sign_in(rated, 0.0, 0.0, seconds=0)
    sign_in(rated, 0.0, STEP, seconds=1)
    _, out = claim(rated)
    for change in ({"amount": "9999.00"}, {"currency": "USD"}, {"category": "travel"}, {"occurred_on": "2026-01-02"}):
        status, error = rated.patch(f"/v1/expenses/{out['id']}", change)
        assert status == 422 and error["error"]["code"] == "mileage_fixed", (change, error)
    status, patched = rated.patch(f"/v1/expenses/{out['id']}", {"description": "client visits"})
    assert status == 200 and patched["description"] == "client visits"
    assert (patched["amount"], patched["mileage"]["distance_km"]) == ("1.25", "1.000")


def test_mileage_is_only_made_by_the_claim_route(rated):
    body = {"amount": "50.00", "category": "mileage", "occurred_on": today(), "unit": {"type": "person", "id": "rep_a"}}
    status, error = rated.post("/v1/expenses", body)
    assert status == 422 and error["error"]["code"] == "mileage_fixed"
    status, e = rated.post("/v1/expenses", {**body, "category": "travel"})
    assert status == 201
    status, error = rated.patch(f"/v1/expenses/{e['id']}", {"category": "mileage"})
    assert status == 422 and error["error"]["code"] == "mileage_fixed"
