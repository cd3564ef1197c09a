"""Dates and times outside the years the services compute with (1970..9000) are refused by
the published schema's pattern: a clean 400, never date arithmetic on them (was a 500)."""

from __future__ import annotations

import pytest

SIGNIN = {"kind": "check_in", "location": {"lat": 31.23, "lng": 121.47, "accuracy_m": 10.0}}


@pytest.mark.parametrize("when", ["0365-03-09T23:17:19Z", "1969-12-31T23:59:59Z", "9001-01-01T00:00:00Z"])
def test_a_sign_in_outside_the_years_is_422_out_of_range(api, when):
    status, body = api.post("/v1/signins", {**SIGNIN, "client_time": when})
    assert (status, body["error"]["code"]) == (422, "out_of_range")
    status, body = api.get(f"/v1/signins?from={when[:10]}")
    assert (status, body["error"]["code"]) == (422, "out_of_range")


def test_a_sign_in_inside_the_years_is_taken(api):
    status, body = api.post("/v1/signins", {**SIGNIN, "client_time": "2026-12-01T09:00:00Z"})
    assert status == 201, body
