"""The local stack applies the per-tenant limit as deployed: started with nothing
overriding it, its API enforces chalicelib/limits.py's ``TENANT_RATE``, the figure infra
gives the deployed API function (held equal by tests/infra/test_drift.py). A tenant
sending ten times its share gets 429s while a second tenant succeeds.

The burst runs at a tenth of the deployed figures (set through the stack's control port,
the same limiter): ten times the deployed share is 400 requests at 200 a second, more than
a shared two-core test machine serves (measured: 400 requests took 31 s, so the bucket
never emptied). The admitted count is checked against the bucket's bound
(burst + rate x elapsed) whatever the machine's speed."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib.limits import TENANT_RATE, TenantRate
from local.harness import running_stack

SECRET = "e2e-limits-secret-of-sufficient-length-0123"
SCALED = TenantRate(rate=TENANT_RATE.rate / 10, burst=TENANT_RATE.burst // 10)


@pytest.fixture(scope="module")
def limited_stack():
    saved = os.environ.pop("TENANT_RATE", None)  # the tests turn it off; unset, the stack limits as deployed
    try:
        with running_stack(SECRET) as stack:
            yield stack
    finally:
        if saved is not None:
            os.environ["TENANT_RATE"] = saved


def test_the_local_stack_limits_each_tenant_as_deployed(limited_stack):
    applied = requests.get(limited_stack.control_url + "/tenant_rate", timeout=10).json()
    assert applied == {"rate": TENANT_RATE.rate, "burst": TENANT_RATE.burst}


def test_a_tenant_at_ten_times_its_share_is_throttled_and_another_is_not(limited_stack):
    scaled = requests.post(
        f"{limited_stack.control_url}/tenant_rate?rate={SCALED.rate}&burst={SCALED.burst}", timeout=10
    )
    assert scaled.json() == {"rate": SCALED.rate, "burst": SCALED.burst}
    share = SCALED.burst
    headers = limited_stack.headers("rep_a")
    url = limited_stack.base_url + "/v1/messages?limit=1"

    def one(_: int) -> int:
        return limited_stack.http.get(url, headers=headers, timeout=30).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(10 * share)))
    elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}, statuses
    admitted = statuses.count(200)
    assert share <= admitted <= share + SCALED.rate * elapsed + 1, (admitted, elapsed)  # the bucket's bound
    assert statuses.count(429) >= 5 * share, statuses

    # the other tenant, within its own share (its burst), meanwhile: all answered
    other = [
        limited_stack.call("GET", "/v1/messages?limit=1", as_="boss", tenant="globex").status_code for _ in range(share)
    ]
    assert other == [200] * share
    throttled = limited_stack.call("GET", "/v1/messages?limit=1", as_="rep_a")
    if throttled.status_code == 429:
        assert throttled.json()["error"]["code"] == "throttled" and throttled.headers["Retry-After"] == "1"
