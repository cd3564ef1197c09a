"""Sign-ins (check-in / check-out) and the visits they open and close.

- A sign-in is one item, indexed by its user's timeline (GSI1, by client time), by its
  plan (GSI2) and by its opportunity (GSI3, the opportunity collection).
- A visit is one item; while open it also has a per-user pointer (read consistently by
  check-out) and sits in a sparse, sharded "due" index that the ``close_open_visits``
  schedule reads, so the schedule costs what is due, never a scan.
"""

from __future__ import annotations

import zlib
from typing import Optional

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.models.base import BaseItem, opportunity_collection_pk, string_list, tkey

# The due index spans tenants (the schedule is one job for all of them). Its partition
# keys lead with "T#~system#": "~" cannot occur in a tenant id, so no tenant's key can
# reach it, and no tenant-scoped IAM role (LeadingKeys "T#<tenant>#*") can read it.
SYSTEM_PREFIX = "T#~system#"
DUE_SHARDS = 16  # was 4: shards 0-3 keep their keys, so visits stored before stay found


class SignIn(BaseItem, discriminator="SignIn"):
    COLLECTION_PREFIX = "SIGNIN#"  # GSI3SK in the opportunity's collection

    signin_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # check_in | check_out
    lat = NumberAttribute()
    lng = NumberAttribute()
    accuracy_m = NumberAttribute()
    client_time = UnicodeAttribute()  # device time of the visit, RFC 3339 UTC (seconds)
    sent_at = UnicodeAttribute(null=True)  # device clock when sent (optional)
    server_time = UnicodeAttribute()
    account_id = UnicodeAttribute(null=True)
    opportunity_id = UnicodeAttribute(null=True)
    plan_id = UnicodeAttribute(null=True)
    photo_upload_ids = string_list(default=list)
    note = UnicodeAttribute(null=True)
    mock_location = BooleanAttribute(default=False)
    distance_m = NumberAttribute(null=True)
    radius_m = NumberAttribute(null=True)
    base_flags = UnicodeSetAttribute(null=True)  # decided when the sign-in is made
    photo_flags = UnicodeSetAttribute(null=True)  # added (ADD, idempotent) as photos are verified
    visit_id = UnicodeAttribute(null=True)
    activity_id = UnicodeAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, signin_id: str) -> str:
        return tkey(tenant_id, "SIGNIN", signin_id)

    @classmethod
    def user_pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "USERSIGNINS", user_id)

    @classmethod
    def plan_pk(cls, tenant_id: str, plan_id: str) -> str:
        return tkey(tenant_id, "PLANSIGNINS", plan_id)

    @property
    def timeline_sk(self) -> str:
        return f"{self.client_time}#{self.signin_id}"

    @property
    def flags(self) -> list[str]:
        return sorted(set(self.base_flags or ()) | set(self.photo_flags or ()))

    @classmethod
    def key_of(cls, tenant_id: str, signin_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, signin_id), "SIGNIN"

    @classmethod
    def fetch(cls, tenant_id: str, signin_id: str, consistent_read: bool = False) -> Optional[SignIn]:
        return cls.lookup(cls.key_of(tenant_id, signin_id), consistent_read=consistent_read)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.signin_id)
        self.GSI1PK, self.GSI1SK = self.user_pk(self.tenant_id, self.user_id), self.timeline_sk
        if self.plan_id:
            self.GSI2PK, self.GSI2SK = self.plan_pk(self.tenant_id, self.plan_id), self.timeline_sk
        else:
            self.GSI2PK = self.GSI2SK = None
        if self.opportunity_id:
            self.GSI3PK, self.GSI3SK = (
                opportunity_collection_pk(self.tenant_id, self.opportunity_id),
                f"{self.COLLECTION_PREFIX}{self.signin_id}",
            )
        else:
            self.GSI3PK = self.GSI3SK = None


class Visit(BaseItem, discriminator="Visit"):
    visit_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    status = UnicodeAttribute(default="open")  # open | closed
    checkin_id = UnicodeAttribute()
    checkout_id = UnicodeAttribute(null=True)
    account_id = UnicodeAttribute(null=True)
    opportunity_id = UnicodeAttribute(null=True)
    plan_id = UnicodeAttribute(null=True)
    started_at = UnicodeAttribute()  # the check-in's client time
    close_after = UnicodeAttribute()  # end of the started_at day, tenant time zone, as UTC
    ended_at = UnicodeAttribute(null=True)
    duration_s = NumberAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)  # user | check_in | system

    @classmethod
    def pk(cls, tenant_id: str, visit_id: str) -> str:
        return tkey(tenant_id, "VISIT", visit_id)

    @classmethod
    def due_pk(cls, shard: int) -> str:
        return f"{SYSTEM_PREFIX}OPENVISITS#{shard}"

    @classmethod
    def shard_of(cls, visit_id: str) -> int:
        return zlib.crc32(visit_id.encode()) % DUE_SHARDS

    @classmethod
    def key_of(cls, tenant_id: str, visit_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, visit_id), "VISIT"

    @classmethod
    def fetch(cls, tenant_id: str, visit_id: str, consistent_read: bool = False) -> Optional[Visit]:
        return cls.lookup(cls.key_of(tenant_id, visit_id), consistent_read=consistent_read)

    @staticmethod
    def due_before(instant: str) -> str:
        """The GSI2SK bound (``<close_after>#<tenant>#<id>``) above every visit due at or
        before ``instant``: ``~`` sorts after every character of a key."""
        return instant + "~"

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.visit_id)
        if self.status == "open":
            self.GSI2PK = self.due_pk(self.shard_of(self.visit_id))
            self.GSI2SK = f"{self.close_after}#{self.tenant_id}#{self.visit_id}"
        else:
            self.GSI2PK = self.GSI2SK = None


class OpenVisit(BaseItem, discriminator="OpenVisit"):
    """The user's open visit, if any: one item, read consistently by check-in/out."""

    user_id = UnicodeAttribute()
    visit_id = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "USERVISIT", user_id)

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, user_id), "OPEN"

    @classmethod
    def fetch(cls, tenant_id: str, user_id: str) -> Optional[OpenVisit]:
        return cls.lookup(cls.key_of(tenant_id, user_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id)


class UserDay(BaseItem, discriminator="UserDay"):
    """A user's sign-ins of one tenant-local day (``<client_time>#<signin_id>``), added
    with ``ADD`` in the sign-in's own transaction (idempotent). Keys are known from the
    user and the date, so a team's day is one BatchGetItem per 100 people."""

    user_id = UnicodeAttribute()
    date = UnicodeAttribute()  # YYYY-MM-DD, tenant time zone
    signins = UnicodeSetAttribute(null=True)

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "USERDAY", user_id)

    @staticmethod
    def sk(date: str) -> str:
        return f"DAY#{date}"

    @classmethod
    def key_of(cls, tenant_id: str, user_id: str, date: str) -> tuple[str, str]:
        return cls.pk(tenant_id, user_id), cls.sk(date)

    @property
    def signin_ids(self) -> list[str]:
        """The ids of the day's sign-ins (each line is ``<client_time>#<signin_id>``)."""
        return [line.rsplit("#", 1)[1] for line in (self.signins or ())]

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.user_id, self.date)


__all__ = ["SignIn", "Visit", "OpenVisit", "UserDay", "DUE_SHARDS", "SYSTEM_PREFIX"]
