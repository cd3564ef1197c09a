"""The local stack applies the per-tenant limit as deployed: the figures of
chalicelib/limits.py, which infra gives the deployed API function (``TENANT_RATE``, held
equal by tests/infra/test_drift.py) and which the stack reads when nothing overrides them.
A tenant sending ten times its share at once gets 429s while a second tenant succeeds.

Ten times the share is ten times the burst, sent from many threads at once: the limiter
takes a token as a request arrives, before any DynamoDB request, so the 429s come back in
well under a millisecond of server time each while the admitted requests are still being
served; the admitted count is bounded by the bucket (burst + rate x elapsed) whatever the
machine's speed."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from chalicelib.limits import TENANT_RATE
from local.harness import running_stack

SECRET = "e2e-limits-secret-of-sufficient-length-0123"
THREADS = 32


@pytest.fixture(scope="module")
def limited_stack():
    saved = os.environ.pop("TENANT_RATE", None)  # the tests turn it off; unset, the stack limits as deployed
    try:
        with running_stack(SECRET) as stack:
            yield stack
    finally:
        if saved is not None:
            os.environ["TENANT_RATE"] = saved


def test_a_tenant_at_ten_times_its_share_is_throttled_and_another_is_not(limited_stack):
    share = TENANT_RATE.burst
    headers = limited_stack.headers("rep_a")
    url = limited_stack.base_url + "/v1/messages?limit=1"
    sessions = [requests.Session() for _ in range(THREADS)]

    def one(i: int) -> int:
        return sessions[i % THREADS].get(url, headers=headers, timeout=60).status_code

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(one, range(10 * share)))
    elapsed = time.monotonic() - started
    assert set(statuses) <= {200, 429}, statuses
    admitted = statuses.count(200)
    assert share <= admitted <= share + TENANT_RATE.rate * elapsed + 1, (admitted, elapsed)  # the deployed bucket
    assert statuses.count(429) >= 10 * share - share - TENANT_RATE.rate * elapsed - 1 and 429 in statuses

    other = [
        limited_stack.call("GET", "/v1/messages?limit=1", as_="boss", tenant="globex").status_code for _ in range(5)
    ]
    assert other == [200] * 5
    throttled = limited_stack.call("GET", "/v1/messages?limit=1", as_="rep_a")
    if throttled.status_code == 429:
        assert throttled.json()["error"]["code"] == "throttled" and throttled.headers["Retry-After"] == "1"
