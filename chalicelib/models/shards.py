"""Hot aggregates spread over shards: one logical counter written as up to ``MAX_SHARDS``
items (a shard picked per write, inside the write's own exactly-once transaction) and
summed on read, so concurrent writers of a big tenant never contend for one item.

Hot index partitions (a tenant-wide GSI partition every write of the tenant lands in, or a
system partition every tenant's writes land in) are spread the same way, by partition-key
suffix (``#<s>``; shard 0 keeps the unsharded key, so data written before reads as
before): an item's shard is a stable hash of its own id (``spread``), so a rewrite of the
item lands where it is, and a reader Queries every shard and merges (a constant number of
requests: the tenant's ``TenantSettings.index_shards``, 1 for a small tenant, so a small
tenant pays nothing more).

How many shards a tenant writes to is its ``TenantSettings.aggregate_shards`` (1 until
raised: by an operator for a known big tenant, or by the writers themselves when their
transactions conflict); readers always read every shard key (one request), so raising it
needs no migration and never hides a count.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

MAX_SHARDS = 16
SEPARATOR = "~"  # never in an id ([A-Za-z0-9_-]) or a pipeline stage key


def count_of(settings: Any) -> int:
    """How many shards the tenant writes to now."""
    return max(1, min(MAX_SHARDS, int(getattr(settings, "aggregate_shards", None) or 1)))


def index_count(settings: Any) -> int:
    """How many partitions the tenant's hot index partitions are spread over now (raised, never
    lowered: readers read every one)."""
    return max(1, min(MAX_SHARDS, int(getattr(settings, "index_shards", None) or 1)))


def spread(key: str, shards: int) -> int:
    """The shard of an item by its own stable key (the same one every time it is written)."""
    return zlib.crc32(key.encode()) % shards if shards > 1 else 0


def pk_suffix(shard: int) -> str:
    """The partition-key suffix of an index shard (shard 0: none, the unsharded key)."""
    return f"#{shard}" if shard else ""


def pick(shards: int) -> int:
    """A shard for one write (spread at random: any shard is as good as any other)."""
    return random.randrange(shards) if shards > 1 else 0  # noqa: S311 - spreading, not security


def suffix(shard: int) -> str:
    """The sort-key suffix of a shard of an aggregate in one partition (shard 0: none)."""
    return f"{SEPARATOR}{shard}" if shard else ""


__all__ = ["MAX_SHARDS", "SEPARATOR", "count_of", "index_count", "spread", "pk_suffix", "pick", "suffix"]
