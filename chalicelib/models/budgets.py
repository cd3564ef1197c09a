"""Budgets: one item per accounting unit and month that always carries the unit's usage
(``spent``, ``reserved``, in integer cents) and, once someone sets a budget, its limit.

Usage is kept even without a budget, so a budget set later starts from the true usage.
``available_cents`` is ``amount - spent - reserved`` kept by every write, because a
DynamoDB condition cannot add: the block-mode check is ``available_cents >= :amount``.

Threshold alerts: ``fired`` maps a threshold ("80") to when it fired; ``pending_alerts``
holds thresholds claimed but not yet fully delivered. While a budget may owe an alert it
sits in a small system index (GSI1, ``T#~system#BUDGETS_DUE[#<shard>]``; ``~`` is never in a tenant id, so
no tenant-scoped key reaches it) that the hourly job reads: cost proportional to what is due.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

from pynamodb.attributes import MapAttribute, NumberAttribute, NumberSetAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, int_list, tkey

MODES = ("block", "warn")
UNIT_TYPES = ("department", "project", "person")
DUE_PK = "T#~system#BUDGETS_DUE"
DUE_SHARDS = 16  # the due index over this many partitions; shard 0 keeps the unsharded key


def due_pk(shard: int) -> str:
    return DUE_PK + (f"#{shard}" if shard else "")


class Budget(BaseItem, discriminator="Budget"):
    unit_type = UnicodeAttribute()
    unit_id = UnicodeAttribute()
    period = UnicodeAttribute()  # YYYY-MM
    spent_cents = NumberAttribute(default=0)
    reserved_cents = NumberAttribute(default=0)
    available_cents = NumberAttribute(default=0)
    # Set only once a budget exists for the unit and month:
    amount_cents = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    mode = UnicodeAttribute(null=True)
    thresholds = int_list(null=True)
    fired = MapAttribute[str, Any](null=True)  # {"80": "2026-11-22T09:30:00Z"}
    pending_alerts = NumberSetAttribute(null=True)
    check_seq = NumberAttribute(default=0)  # bumped by every usage or limit change
    updated_at = UnicodeAttribute(null=True)
    pushed_at = UnicodeAttribute(null=True)  # the applied budget.updated event's own time (latest wins)

    @classmethod
    def pk(cls, tenant_id: str, unit_type: str, unit_id: str) -> str:
        return tkey(tenant_id, "BUDGET", unit_type, unit_id)

    @staticmethod
    def sk(period: str) -> str:
        return f"PERIOD#{period}"

    @staticmethod
    def due_sk(tenant_id: str, unit_type: str, unit_id: str, period: str) -> str:
        return f"{tenant_id}#{unit_type}#{unit_id}#{period}"

    @classmethod
    def due_pk_of(cls, tenant_id: str, unit_type: str, unit_id: str, period: str) -> str:
        """The due-index partition of one budget (spread by its key: every usage change of
        every tenant marks a budget due, so one partition would take them all)."""
        return due_pk(zlib.crc32(cls.due_sk(tenant_id, unit_type, unit_id, period).encode()) % DUE_SHARDS)

    @property
    def configured(self) -> bool:
        return self.amount_cents is not None

    @classmethod
    def key_of(cls, tenant_id: str, unit_type: str, unit_id: str, period: str) -> tuple[str, str]:
        return cls.pk(tenant_id, unit_type, unit_id), cls.sk(period)

    @classmethod
    def fetch(cls, tenant_id: str, unit_type: str, unit_id: str, period: str) -> Optional[Budget]:
        return cls.lookup(cls.key_of(tenant_id, unit_type, unit_id, period), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.unit_type, self.unit_id, self.period)


__all__ = ["Budget", "MODES", "UNIT_TYPES", "DUE_PK", "DUE_SHARDS", "due_pk"]
