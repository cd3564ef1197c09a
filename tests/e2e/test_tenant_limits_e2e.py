"""The local stack applies the per-tenant limit as deployed (services/platform/ratelimit.py,
figures in chalicelib/limits.py, restated by infra and held equal by tests/infra): a tenant
sending ten times its share gets 429s while a second tenant succeeds.

The stack here runs the same limiter scaled down (``TENANT_RATE=2,4``): ten times the
deployed share (400 requests at once, 200 a second) is more than a shared two-core test
machine serves; the figures themselves are checked by the integration and infra tests."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.limits import TenantRate
from local.harness import running_stack

LIMIT = TenantRate(rate=2, burst=4)

SECRET = "e2e-limits-secret-of-sufficient-length-0123"


@pytest.fixture(scope="module")
def limited_stack():
    saved = os.environ.get("TENANT_RATE")  # the tests turn it off; this stack limits
    os.environ["TENANT_RATE"] = f"{LIMIT.rate},{LIMIT.burst}"
    try:
        with running_stack(SECRET) as stack:
            yield stack
    finally:
        os.environ.pop("TENANT_RATE")
        if saved is not None:
            os.environ["TENANT_RATE"] = saved


def test_a_tenant_at_ten_times_its_share_is_throttled_and_another_is_not(limited_stack):
    share = LIMIT.burst
    headers = limited_stack.headers("rep_a")
    url = limited_stack.base_url + "/v1/messages?limit=1"

    def one(_: int) -> int:
        return limited_stack.http.get(url, headers=headers, timeout=30).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(10 * share)))
    assert statuses.count(429) >= 5 * share, statuses  # the burst, plus the rate while it lasted, went through
    assert set(statuses) <= {200, 429}
    other = [
        limited_stack.call("GET", "/v1/messages?limit=1", as_="boss", tenant="globex").status_code for _ in range(5)
    ]
    assert other == [200] * 5
    throttled = limited_stack.call("GET", "/v1/messages?limit=1", as_="rep_a")
    if throttled.status_code == 429:
        assert throttled.json()["error"]["code"] == "throttled" and throttled.headers["Retry-After"] == "1"
