"""Hot aggregates spread over shards: one logical counter written as up to ``MAX_SHARDS``
items (a shard picked per write, inside the write's own exactly-once transaction) and
summed on read, so concurrent writers of a big tenant never contend for one item.

How many shards a tenant writes to is its ``TenantSettings.aggregate_shards`` (1 until
raised: by an operator for a known big tenant, or by the writers themselves when their
transactions conflict); readers always read every shard key (one request), so raising it
needs no migration and never hides a count.
"""

from __future__ import annotations

import random
from typing import Any

MAX_SHARDS = 16
SEPARATOR = "~"  # never in an id ([A-Za-z0-9_-]) or a pipeline stage key


def count_of(settings: Any) -> int:
    """How many shards the tenant writes to now."""
    return max(1, min(MAX_SHARDS, int(getattr(settings, "aggregate_shards", None) or 1)))


def pick(shards: int) -> int:
    """A shard for one write (spread at random: any shard is as good as any other)."""
    return random.randrange(shards) if shards > 1 else 0  # noqa: S311 - spreading, not security


def suffix(shard: int) -> str:
    """The sort-key suffix of a shard of an aggregate in one partition (shard 0: none)."""
    return f"{SEPARATOR}{shard}" if shard else ""


__all__ = ["MAX_SHARDS", "SEPARATOR", "count_of", "pick", "suffix"]
