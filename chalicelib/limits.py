"""Capacity limits, defined once: the deployed stack (infra/) and the local stack (local/)
both read them, so the local stack throttles and times out as AWS does.

- ``FUNCTION_TIMEOUT_S``: each function's deployed timeout (Chalice's name). A fan-out step
  stops at 40% of it (services/platform/fanout.py), so no invocation passes half.
- ``RESERVED_CONCURRENCY``: functions that must never starve the others of the account's
  concurrency (and must never be starved): the fan-out worker gets a fixed share, the
  webhook worker is capped by its event source instead.
- ``TENANT_RATE``: the per-tenant request limiter of the API (chalicelib/ratelimit.py).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TIMEOUT_S = 30  # .chalice/config.json lambda_timeout of the deployed stages
FUNCTION_TIMEOUT_S: dict[str, int] = {
    "fanout_worker": 120,
    "plan_reminders": 60,
    "team_digest": 60,
    "close_open_visits": 60,
    "budget_alerts": 60,
    "job_worker": 60,  # org-change jobs: a step stops well before it (services/platform/jobs.py)
    "backfill_indexes": 900,  # it stops 10 s before and answers a cursor to go on from
}
RESERVED_CONCURRENCY: dict[str, int] = {
    "fanout_worker": 50,  # the schedules' tasks: 16 reminder shards a minute, a digest per tenant at 08:00
}
WORK_QUEUE_MAX_CONCURRENCY = 50  # the worker's SQS event source (at most its reserved concurrency)


def timeout_s(function: str) -> int:
    return FUNCTION_TIMEOUT_S.get(function, DEFAULT_TIMEOUT_S)


@dataclass(frozen=True)
class TenantRate:
    """A token bucket per tenant: ``rate`` requests a second sustained, ``burst`` at once."""

    rate: float
    burst: int


TENANT_RATE = TenantRate(rate=20.0, burst=40)
