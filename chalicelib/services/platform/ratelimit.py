"""Per-tenant fairness: a token bucket per tenant, in the memory of each API container.

Why in memory (and not a DynamoDB bucket or API Gateway usage plans):
- a DynamoDB bucket costs a conditional write per request and makes each tenant's bucket
  item the hottest key of the table (the very problem this guards against);
- usage plans meter API keys, which the mobile app does not hold (callers are identified
  by their Cognito token, whose tenant only the app reads).

So each container admits at most ``burst`` requests of one tenant at once and ``rate`` a
second after that; the rest are 429 ``throttled`` (``Retry-After: 1``) before any
DynamoDB request. The bound: a tenant's admitted rate is at most ``rate`` times the
number of API containers (at most the function's concurrency), while a 429 costs a
container well under a millisecond, so a tenant's burst never takes the containers
another tenant's requests need. The stage's own throttle stays as the account-wide
backstop. Buckets are kept for ``MAX_TENANTS`` tenants per container (least recently seen
dropped, which only makes a dropped tenant's next burst start full).

The figures come from ``chalicelib/limits.py`` (infra gives the deployed function the same
through ``TENANT_RATE``; ``off`` disables it, as the unit and integration tests do).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Optional

from chalicelib.config import tenant_rate
from chalicelib.errors import Throttled
from chalicelib.limits import TenantRate
from chalicelib.observability import count

MAX_TENANTS = 10_000


class Buckets:
    """Token buckets by tenant (thread-safe: the local server runs requests in threads)."""

    def __init__(self, limit: Optional[TenantRate], clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.clock = clock
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tenant -> (tokens, at)
        self.lock = threading.Lock()

    def admit(self, tenant_id: str) -> bool:
        if self.limit is None:
            return True
        now = self.clock()
        with self.lock:
            tokens, at = self.buckets.pop(tenant_id, (float(self.limit.burst), now))
            tokens = min(float(self.limit.burst), tokens + (now - at) * self.limit.rate)
            admitted = tokens >= 1
            self.buckets[tenant_id] = (tokens - 1 if admitted else tokens, now)
            while len(self.buckets) > MAX_TENANTS:
                self.buckets.popitem(last=False)
        return admitted


_buckets: Optional[Buckets] = None


def buckets() -> Buckets:
    global _buckets
    if _buckets is None:
        _buckets = Buckets(tenant_rate())
    return _buckets


def reset(limit: Optional[TenantRate] = None, clock: Callable[[], float] = time.monotonic) -> Buckets:
    """New buckets (tests: a given limit and clock; None reads the configured limit)."""
    global _buckets
    _buckets = Buckets(limit if limit is not None else tenant_rate(), clock)
    return _buckets


def check(tenant_id: str) -> None:
    """429 ``throttled`` when the tenant has used up its share of this container."""
    if not buckets().admit(tenant_id):
        count("TenantThrottled")
        raise Throttled("too many requests for this tenant; retry shortly")


__all__ = ["Buckets", "check", "reset", "buckets", "MAX_TENANTS"]
