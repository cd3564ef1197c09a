"""Offline sync: the per-viewer change log, and the calendar feed's secret (services/sync).

- ``SyncChange``: ``PK = T#t#SYNC#<viewer>#<KIND>`` (kind: ``ACCOUNT``, ``CONTACT``, ``OPP``,
  ``LEAD``, ``PLAN``, ``TASK``; viewer ``*`` is the admins' tenant-wide range, as in the list
  index), ``SK = <written_at>#<object_id>`` where ``written_at`` is when the entry was
  written (RFC 3339 UTC with microseconds, so keys sort by write time). An entry says only
  "this object changed for this viewer": what changed (upsert or remove) is resolved from
  current state when the entry is read, so entries may repeat and arrive in any order.
  TTL ``RETENTION_DAYS + 1`` days after it was written.
- A *position* in a viewer's log is a sort key: everything after it is still to be read.
  ``position_at(t)`` is the position just after every entry written at or before ``t``.
- ``CalendarFeedToken``: ``PK = T#~system#CALFEED#<sha256 of the token>``, ``SK = CALFEED``
  -> tenant and user. The feed's URL carries nothing but the token, so its lookup cannot be
  tenant-led; it lives under the reserved system prefix (``~`` leads no tenant id).
- ``CalendarFeedPointer``: ``PK = T#t#USER#<user>``, ``SK = CALFEED``: the hash of the user's
  current token (a new one replaces it, a delete revokes it).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Optional

from pynamodb.attributes import UnicodeAttribute

from chalicelib.models.base import BaseItem, tkey
from chalicelib.models.crm import TYPE_CODES
from chalicelib.models.schedule import SYSTEM_PREFIX

RETENTION_DAYS = 30
KIND_CODES = {**TYPE_CODES, "plan": "PLAN", "task": "TASK"}
POSITION_TOP = "#~"  # after every "<written_at>#<id>" written at that instant
WRITTEN_AT_LEN = len("2026-12-07T03:13:14.123456Z")


def written_at(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ``: sorts as it happened (4-digit year, fixed width)."""
    u = moment.astimezone(UTC)
    return f"{u.year:04d}-{u.month:02d}-{u.day:02d}T{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}Z"


def position_at(moment: datetime) -> str:
    """The position after every entry written at or before ``moment``."""
    return written_at(moment) + POSITION_TOP


def position_time(position: str) -> Optional[datetime]:
    """When a position was taken (None when it is not a position of this log)."""
    stamp = position[:WRITTEN_AT_LEN]
    try:
        moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment if written_at(moment) == stamp and position[WRITTEN_AT_LEN : WRITTEN_AT_LEN + 1] == "#" else None


def sync_pk(tenant_id: str, viewer: str, kind: str) -> str:
    return tkey(tenant_id, "SYNC", viewer, KIND_CODES[kind])


class SyncChange(BaseItem, discriminator="SyncChange"):
    viewer = UnicodeAttribute()
    kind = UnicodeAttribute()  # account | contact | opportunity | lead | plan | task
    object_id = UnicodeAttribute()
    written_at = UnicodeAttribute()

    def set_keys(self) -> None:
        self.PK, self.SK = sync_pk(self.tenant_id, self.viewer, self.kind), f"{self.written_at}#{self.object_id}"

    @classmethod
    def make(cls, tenant_id: str, viewer: str, kind: str, object_id: str, moment: datetime) -> SyncChange:
        entry = cls(
            tenant_id=tenant_id,
            viewer=viewer,
            kind=kind,
            object_id=object_id,
            written_at=written_at(moment),
            ttl=moment + timedelta(days=RETENTION_DAYS + 1),
        )
        entry.set_keys()
        return entry

    @classmethod
    def after(cls, tenant_id: str, viewer: str, kind: str, position: str, upto: str, limit: int) -> list[SyncChange]:
        """One Query: up to ``limit`` entries of the viewer's log of ``kind`` after
        ``position`` and at or before ``upto`` (both positions), oldest first."""
        pk = sync_pk(tenant_id, viewer, kind)
        results = cls.query(
            pk,
            upto >= cls.SK,
            consistent_read=True,
            limit=limit,
            page_size=limit,
            last_evaluated_key={"PK": {"S": pk}, "SK": {"S": position}},
        )
        return [e for e in results if isinstance(e, SyncChange)]


class CalendarFeedToken(BaseItem, discriminator="CalendarFeedToken"):
    token_hash = UnicodeAttribute()
    user_id = UnicodeAttribute()
    created_at = UnicodeAttribute()

    SK_VALUE = "CALFEED"

    @staticmethod
    def hash_of(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def key_of(cls, token_hash: str) -> tuple[str, str]:
        return f"{SYSTEM_PREFIX}CALFEED#{token_hash}", cls.SK_VALUE

    @classmethod
    def fetch(cls, token_hash: str) -> Optional[CalendarFeedToken]:
        return cls.lookup(cls.key_of(token_hash), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.token_hash)


class CalendarFeedPointer(BaseItem, discriminator="CalendarFeedPointer"):
    user_id = UnicodeAttribute()
    token_hash = UnicodeAttribute()

    SK_VALUE = "CALFEED"

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return tkey(tenant_id, "USER", user_id), cls.SK_VALUE

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[CalendarFeedPointer]:
        return cls.lookup(cls.key_of(tenant_id, user_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)


__all__ = [
    "RETENTION_DAYS",
    "KIND_CODES",
    "written_at",
    "position_at",
    "position_time",
    "sync_pk",
    "SyncChange",
    "CalendarFeedToken",
    "CalendarFeedPointer",
]
