"""Schedule management: plans, work logs, per-day calendar counters, the reminder checkpoint.

- A plan or a log is one item in its own partition (``T#<t>#PLAN#<id>`` / ``T#<t>#LOG#<id>``).
- GSI1 is each user's schedule, date-sorted: ``T#<t>#PLANS#<user>`` / ``T#<t>#LOGS#<user>``
  with ``GSI1SK = <date>#<id>``, so a date range is one ``BETWEEN`` query per kind.
- GSI3 is the opportunity collection (``T#<t>#OPP#<opp>``, ``PLAN#<id>`` / ``LOG#<id>``).
- GSI2 on a plan is the **due-reminder index**, sparse (only planned plans with a reminder):
  ``GSI2PK = T#~system#REMIND#<yyyy-mm-ddThh:mm>`` (the UTC minute of ``remind_at``) and
  ``GSI2SK = <remind_at>#<tenant>#<plan>``. The reminder job runs for every tenant at once,
  so this partition is not tenant-led; it leads with ``T#~system#`` ("~" cannot occur in a
  tenant id), the same reserved prefix as the sign-in due index, so no tenant key reaches
  it and no tenant-scoped IAM role can read it.
- A ``CalendarDay`` per user and day counts plans (not cancelled) and logs, kept exact in
  the same transaction as the write; a month is one query of at most 31 items.
"""

from __future__ import annotations

import zlib
from typing import Any, Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib import vocabulary
from chalicelib.models.base import BaseItem, opportunity_collection_pk, tkey

SYSTEM_PREFIX = "T#~system#"
PLAN_STATUSES = vocabulary.PLAN_STATUSES  # the one list
REMIND_SHARDS = 16  # a minute's reminders over this many partitions, one fan-out task each


def remind_shard(plan_id: str) -> int:
    return zlib.crc32(plan_id.encode()) % REMIND_SHARDS


def remind_bucket_pk(minute: str, shard: int = 0) -> str:
    """The due-index partition of one UTC minute (``2026-11-22T09:30``) and shard; shard 0
    keeps the unsharded key of earlier releases, so reminders armed before it are found."""
    return f"{SYSTEM_PREFIX}REMIND#{minute}" + (f"#{shard}" if shard else "")


def remind_range(since: str, until: str) -> tuple[str, str]:
    """GSI2SK bounds of reminders with ``since < remind_at <= until``: the lower bound
    ``<since>#~`` is exclusive in effect (no key is ``<ts>#~``: "~" leads no tenant)."""
    return f"{since}#~", f"{until}#~"


def due_reminders(minute: str, since: str, until: str, shard: int = 0) -> list[Any]:
    """Every armed reminder of one minute bucket's shard with ``since < remind_at <= until``,
    whatever its kind (plans, tasks: each entity keys its own), as raw items to read with
    :func:`item_of` one by one (an unreadable one fails alone). Paged by what is due."""
    lo, hi = remind_range(since, until)
    connection = BaseItem._get_connection()
    out: list[Any] = []
    start = None
    while True:
        page = connection.query(
            remind_bucket_pk(minute, shard),
            range_key_condition=BaseItem.GSI2SK.between(lo, hi),
            index_name="GSI2",
            exclusive_start_key=start,
        )
        out.extend(page.get("Items", []))
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


def dated_range(lo: str, hi: str) -> tuple[str, str]:
    """GSI1SK bounds (``<date>#<id>``) of the plans or logs dated ``lo`` to ``hi``."""
    return f"{lo}#", f"{hi}#~"


def dated_start_key(model: Any, tenant_id: str, user_pk: str, after: Any) -> Optional[dict[str, dict[str, str]]]:
    """The exclusive start key of a plans or logs query (GSI1, ``<date>#<id>``) resuming after
    the item whose GSI1SK is ``after``; None when ``after`` is no such key."""
    if not isinstance(after, str) or "#" not in after:
        return None
    pk, sk = model.key_of(tenant_id, after.rsplit("#", 1)[1])
    return {k: {"S": v} for k, v in {"PK": pk, "SK": sk, "GSI1PK": user_pk, "GSI1SK": after}.items()}


class Plan(BaseItem, discriminator="Plan"):
    COLLECTION_PREFIX = "PLAN#"  # GSI3SK in the opportunity's collection

    plan_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    date = UnicodeAttribute()  # YYYY-MM-DD in the tenant's time zone
    title = UnicodeAttribute()
    start_time = UnicodeAttribute(null=True)  # RFC 3339 UTC
    end_time = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    opportunity_id = UnicodeAttribute(null=True)
    remind_minutes_before = NumberAttribute(null=True)
    remind_at = UnicodeAttribute(null=True)  # RFC 3339 UTC, when the reminder is due
    zone = UnicodeAttribute(null=True)  # the tenant's time zone when armed (the message's text)
    status = UnicodeAttribute(default="planned")
    log_id = UnicodeAttribute(null=True)  # the work log reporting on this plan
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @classmethod
    def pk(cls, tenant_id: str, plan_id: str) -> str:
        return tkey(tenant_id, "PLAN", plan_id)

    @classmethod
    def user_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "PLANS", user_id)

    @property
    def reminder_armed(self) -> bool:
        return self.status == "planned" and bool(self.remind_at)

    @classmethod
    def key_of(cls, tenant_id: str, plan_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, plan_id), "PLAN"

    @classmethod
    def fetch(cls, tenant_id: str, plan_id: str, consistent_read: bool = False) -> Optional[Plan]:
        return cls.lookup(cls.key_of(tenant_id, plan_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.plan_id)
        self.GSI1PK, self.GSI1SK = self.user_pk(self.tenant_id, self.user_id), f"{self.date}#{self.plan_id}"
        if self.reminder_armed:
            self.GSI2PK = remind_bucket_pk(self.remind_at[:16], remind_shard(self.plan_id))
            self.GSI2SK = f"{self.remind_at}#{self.tenant_id}#{self.plan_id}"
        else:
            self.GSI2PK = self.GSI2SK = None
        if self.opportunity_id:
            self.GSI3PK, self.GSI3SK = (
                opportunity_collection_pk(self.tenant_id, self.opportunity_id),
                f"{self.COLLECTION_PREFIX}{self.plan_id}",
            )
        else:
            self.GSI3PK = self.GSI3SK = None


class WorkLog(BaseItem, discriminator="WorkLog"):
    COLLECTION_PREFIX = "LOG#"  # GSI3SK in the opportunity's collection

    log_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    date = UnicodeAttribute()
    content = UnicodeAttribute()
    plan_id = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    opportunity_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, log_id: str) -> str:
        return tkey(tenant_id, "LOG", log_id)

    @classmethod
    def user_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "LOGS", user_id)

    @classmethod
    def key_of(cls, tenant_id: str, log_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, log_id), "LOG"

    @classmethod
    def fetch(cls, tenant_id: str, log_id: str, consistent_read: bool = False) -> Optional[WorkLog]:
        return cls.lookup(cls.key_of(tenant_id, log_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.log_id)
        self.GSI1PK, self.GSI1SK = self.user_pk(self.tenant_id, self.user_id), f"{self.date}#{self.log_id}"
        if self.opportunity_id:
            self.GSI3PK, self.GSI3SK = (
                opportunity_collection_pk(self.tenant_id, self.opportunity_id),
                f"{self.COLLECTION_PREFIX}{self.log_id}",
            )
        else:
            self.GSI3PK = self.GSI3SK = None


class CalendarDay(BaseItem, discriminator="CalendarDay"):
    """Counts for one user and day; one partition per user and month."""

    user_id = UnicodeAttribute()
    date = UnicodeAttribute()
    plans = NumberAttribute(default=0)
    logs = NumberAttribute(default=0)

    @classmethod
    def month_pk(cls, tenant_id: str, user_id: str, month: str) -> str:
        return tkey(tenant_id, "CAL", user_id, month)

    def set_keys(self) -> None:
        self.PK, self.SK = self.month_pk(self.tenant_id, self.user_id, self.date[:7]), self.date


class ReminderCheckpoint(BaseItem, discriminator="ReminderCheckpoint"):
    """Every reminder of one due-index shard due at or before ``done_until`` has been
    delivered. One per shard (the job serves every tenant), under the reserved system
    prefix; shard 0's is the global checkpoint of earlier releases."""

    done_until = UnicodeAttribute()  # RFC 3339 UTC, seconds
    updated_at = UnicodeAttribute()
    shard = NumberAttribute(default=0)

    KEY = (f"{SYSTEM_PREFIX}REMINDERS", "CHECKPOINT")

    @classmethod
    def key_of(cls, shard: int = 0) -> tuple[str, str]:
        return cls.KEY if not shard else (f"{cls.KEY[0]}#{shard}", cls.KEY[1])

    @classmethod
    def fetch(cls, shard: int = 0) -> Optional[ReminderCheckpoint]:
        return cls.lookup(cls.key_of(shard), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(int(self.shard or 0))


__all__ = [
    "Plan",
    "WorkLog",
    "CalendarDay",
    "ReminderCheckpoint",
    "SYSTEM_PREFIX",
    "remind_bucket_pk",
    "remind_shard",
    "REMIND_SHARDS",
    "remind_range",
    "dated_range",
    "due_reminders",
]
