"""CRM information: activities, their comments, and the feed's write-time index.

- ``Activity``: ``PK = T#t#ACT#<id>``, ``SK = ACT``; its comments share the partition
  (``SK = COMMENT#<id>``). ``indexed`` records every feed entry that may exist for it
  (a superset while ``index_state == "pending"``), so a re-index can delete stale ones.
- ``FeedEntry``: one per (viewer, scene, activity): ``PK = T#t#FEED#<viewer>#<scene>``,
  ``SK = <occurred_at>#<activity_id>``. GSI1 holds the same entry per (viewer, scene,
  type) for ``types=`` filters. Visibility is decided when these are written, so a page
  is one Query that never filters anything out.
- ``ActivityLink``: ``PK = <object partition>``, ``SK = ACT#<id>``: the activities of one
  object (for re-indexing), and for opportunities GSI3 ``T#t#OPP#<id>`` /
  ``ACTIVITY#<id>`` (the opportunity overview).
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute

from chalicelib.models.base import BaseItem, opportunity_collection_pk, raw_page, string_list, tkey
from chalicelib.models.crm import object_pk
from chalicelib.models.shards import pk_suffix

ADMIN_VIEWER = "*"  # the tenant-wide partition admins read; no user id can be "*"
ACTIVITY_SK = "ACT"


def activity_pk(tenant_id: str, activity_id: str) -> str:
    return tkey(tenant_id, "ACT", activity_id)


def feed_pk(tenant_id: str, viewer: str, scene: str, shard: int = 0) -> str:
    """A viewer's scene partition; ``shard`` > 0 for an entry of a tenant whose index is
    spread (models/shards.py: shard 0 is the unsharded key)."""
    return tkey(tenant_id, "FEED", viewer, scene) + pk_suffix(shard)


def feed_type_pk(tenant_id: str, viewer: str, scene: str, activity_type: str, shard: int = 0) -> str:
    return tkey(tenant_id, "FEEDT", viewer, scene, activity_type) + pk_suffix(shard)


def feed_sk(occurred_at: str, activity_id: str) -> str:
    return f"{occurred_at}#{activity_id}"


FEED_SK_FLOOR = "0"  # below every feed_sk
FEED_SK_CEIL = "9999~"  # above every one


def feed_sk_range(since: str | None, until: str | None) -> tuple[str, str]:
    """The feed_sk bounds of entries that occurred in [since, until] (either end open)."""
    return since or FEED_SK_FLOOR, f"{until}#~" if until else FEED_SK_CEIL


class Activity(BaseItem, discriminator="Activity"):
    activity_id = UnicodeAttribute()
    type = UnicodeAttribute()
    content = UnicodeAttribute(default="")
    author_id = UnicodeAttribute()
    related = JSONAttribute(default=list)  # [{"type", "id", "name"}]
    occurred_at = UnicodeAttribute()
    created_at = UnicodeAttribute()
    comment_count = NumberAttribute(default=0)
    extra = JSONAttribute(null=True)  # type-specific fields, merged into the contract shape
    indexed = UnicodeSetAttribute(null=True)  # {"<viewer>|<scene>"} (shard 0), {"<viewer>|<scene>|<shard>"}
    index_state = UnicodeAttribute(default="pending")  # pending | ok
    index_rev = NumberAttribute(default=0)
    attachment_upload_ids = string_list(null=True)  # uploads, purpose attachment

    @classmethod
    def key_of(cls, tenant_id: str, activity_id: str) -> tuple[str, str]:
        return activity_pk(tenant_id, activity_id), ACTIVITY_SK

    @classmethod
    def fetch(cls, tenant_id: str, activity_id: str) -> Optional[Activity]:
        return cls.lookup(cls.key_of(tenant_id, activity_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.activity_id)


class FeedEntry(BaseItem, discriminator="FeedEntry"):
    viewer = UnicodeAttribute()
    scene = UnicodeAttribute()
    activity_id = UnicodeAttribute()
    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    shard = NumberAttribute(null=True)  # the partition's shard (None: 0, the unsharded key)

    @classmethod
    def key_of(
        cls, tenant_id: str, viewer: str, scene: str, occurred_at: str, activity_id: str, shard: int = 0
    ) -> tuple[str, str]:
        return feed_pk(tenant_id, viewer, scene, shard), feed_sk(occurred_at, activity_id)

    @classmethod
    def fetch(
        cls, tenant_id: str, viewer: str, scene: str, occurred_at: str, activity_id: str, shard: int = 0
    ) -> Optional[FeedEntry]:
        return cls.lookup(cls.key_of(tenant_id, viewer, scene, occurred_at, activity_id, shard), consistent_read=True)

    def set_keys(self) -> None:
        shard = int(self.shard or 0)
        self.PK, self.SK = self.key_of(
            self.tenant_id, self.viewer, self.scene, self.occurred_at, self.activity_id, shard
        )
        self.GSI1PK = feed_type_pk(self.tenant_id, self.viewer, self.scene, self.type, shard)
        self.GSI1SK = self.SK


class ActivityLink(BaseItem, discriminator="ActivityLink"):
    object_type = UnicodeAttribute()
    object_id = UnicodeAttribute()
    activity_id = UnicodeAttribute()
    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()

    PREFIX = "ACT#"
    COLLECTION_PREFIX = "ACTIVITY#"  # GSI3SK in the opportunity's collection

    @classmethod
    def sk(cls, activity_id: str) -> str:
        return f"{cls.PREFIX}{activity_id}"

    def set_keys(self) -> None:
        self.PK, self.SK = object_pk(self.tenant_id, self.object_type, self.object_id), self.sk(self.activity_id)
        if self.object_type == "opportunity":
            self.GSI3PK = opportunity_collection_pk(self.tenant_id, self.object_id)
            self.GSI3SK = f"{self.COLLECTION_PREFIX}{self.activity_id}"

    @classmethod
    def page_of(
        cls, tenant_id: str, object_type: str, object_id: str, start: Optional[dict[str, Any]], limit: int
    ) -> tuple[list[str], Optional[dict[str, Any]]]:
        """Up to ``limit`` activity ids linked to an object, and where the next page starts
        (None: no more). 1 Query."""
        raws, last = raw_page(
            object_pk(tenant_id, object_type, object_id), None, start, limit, cls.SK.startswith(cls.PREFIX)
        )
        return [str((r.get("activity_id") or {}).get("S")) for r in raws if r.get("activity_id")], last


class Comment(BaseItem, discriminator="Comment"):
    comment_id = UnicodeAttribute()
    activity_id = UnicodeAttribute()
    author_id = UnicodeAttribute()
    content = UnicodeAttribute()
    created_at = UnicodeAttribute()
    mentions = UnicodeSetAttribute(null=True)  # users who get a ``mention`` message

    PREFIX = "COMMENT#"

    @classmethod
    def sk(cls, comment_id: str) -> str:
        return f"{cls.PREFIX}{comment_id}"

    @classmethod
    def after(cls, after_sk: str | None) -> tuple[str, str]:
        """SK bounds of an activity's comments from ``after_sk`` (a comment's SK; the
        caller drops that one) or from the first, to the last."""
        return after_sk or cls.PREFIX, f"{cls.PREFIX}~"

    def set_keys(self) -> None:
        self.PK, self.SK = activity_pk(self.tenant_id, self.activity_id), self.sk(self.comment_id)


__all__ = [
    "ADMIN_VIEWER",
    "ACTIVITY_SK",
    "activity_pk",
    "feed_pk",
    "feed_type_pk",
    "feed_sk",
    "feed_sk_range",
    "opportunity_collection_pk",
    "Activity",
    "FeedEntry",
    "ActivityLink",
    "Comment",
]
