"""Per-tenant fairness (services/platform/ratelimit.py): a tenant sending ten times its
share gets 429 ``throttled`` in the contract's error shape, before any DynamoDB request,
while another tenant's requests go through."""

from __future__ import annotations

import pytest

from chalicelib.config import tenant_rate
from chalicelib.limits import TENANT_RATE, TenantRate
from chalicelib.services.platform import ratelimit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def limited():
    clock = Clock()
    yield ratelimit.reset(TenantRate(rate=5, burst=10), clock), clock
    ratelimit.reset()  # back to the configured limit (off in the tests)


def test_a_bucket_admits_its_burst_then_its_rate_and_each_tenant_has_its_own(limited):
    buckets, clock = limited
    assert [buckets.admit("a") for _ in range(12)] == [True] * 10 + [False] * 2
    assert buckets.admit("b")  # another tenant: a full bucket of its own
    clock.now += 1.0  # a second later: five more
    assert [buckets.admit("a") for _ in range(6)] == [True] * 5 + [False]
    clock.now += 100  # never more than the burst, however long it waited
    assert sum(buckets.admit("a") for _ in range(20)) == 10


def test_buckets_are_bounded_per_container(limited, monkeypatch):
    buckets, _ = limited
    monkeypatch.setattr(ratelimit, "MAX_TENANTS", 3)
    for tenant in "abcd":
        buckets.admit(tenant)
    assert list(buckets.buckets) == ["b", "c", "d"]  # the least recently seen is dropped


def test_the_configured_limit_is_the_deployed_one_unless_turned_off(monkeypatch):
    monkeypatch.delenv("TENANT_RATE", raising=False)
    assert tenant_rate() == TENANT_RATE
    monkeypatch.setenv("TENANT_RATE", "3,7")
    assert tenant_rate() == TenantRate(3.0, 7)
    monkeypatch.setenv("TENANT_RATE", "off")
    assert tenant_rate() is None


def test_a_tenant_at_ten_times_its_share_gets_429_while_another_tenant_succeeds(api, limited, ddb_requests):
    share = 10  # the burst: what one tenant may send at once
    answers = [api.get("/v1/messages?limit=1", as_="rep_a") for _ in range(10 * share)]
    statuses = [status for status, _ in answers]
    assert statuses.count(200) == share and statuses.count(429) == 9 * share
    status, body = answers[-1]
    assert body["error"]["code"] == "throttled" and body["error"]["request_id"]
    ddb_requests.reset()
    assert api.get("/v1/messages?limit=1", as_="rep_a")[0] == 429
    assert ddb_requests.total == 0  # refused before any DynamoDB request
    # the other tenant: untouched by the first one's burst
    assert [api.get("/v1/messages?limit=1", as_="boss", tenant="globex")[0] for _ in range(share)] == [200] * share
