"""CRM information: activities, comments and the feed.

Visibility is decided when an activity is written (fan-out on write to per-viewer,
per-scene ``FeedEntry`` items, see services/feed/feed_index.py), so:

- a feed page is 1 Query on the caller's scene partition (``limit + 2`` items read) plus
  1 BatchGet of the activities, whatever the org's or table's size, and it is never short
  because of filtering: everything in the partition is visible to its viewer;
- ``types=`` with one type is 1 Query on GSI1 (the per-type copy of the partition);
  with k types it is k Queries merged (k <= 11, the number of types), still independent
  of the org and the table;
- in a tenant whose index is spread over n shards (models/shards.py) each of those is n
  Queries, merged the same way (``cursor.merge``); n comes with the request's settings;
- ``GET /v1/activities/{id}`` and its comments check the same entry (viewer, ``all``),
  so a direct read can never disagree with the feed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Optional

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, Tx
from chalicelib.models.feed import (
    ADMIN_VIEWER,
    Activity,
    ActivityLink,
    Comment,
    FeedEntry,
    activity_pk,
    feed_pk,
    feed_sk_range,
    feed_type_pk,
    opportunity_collection_pk,
)
from chalicelib.models.org import User
from chalicelib.models.shards import index_count, pk_suffix
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import PRIVATE_TYPES, SCENES, Resolver, may_read_record
from chalicelib.services.feed.activities import MAX_ATTACHMENTS, SYSTEM_TYPES, attachment_views, to_dict
from chalicelib.services.feed.activities import TYPES as TYPES  # the vocabulary lives in activities
from chalicelib.services.feed.activities import NewActivity as NewActivity
from chalicelib.services.feed.activities import record_activity as record_activity
from chalicelib.services.feed.feed_index import entry_shards, get_activity
from chalicelib.services.inbox import messages
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.uploads import uploads
from chalicelib.timeutil import iso, normalize, stated, utcnow


# ---------------------------------------------------------------- shapes
def comment_to_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.comment_id,
        "activity_id": comment.activity_id,
        "author_id": comment.author_id,
        "content": comment.content,
        "created_at": comment.created_at,
        "mentions": sorted(comment.mentions or ()),
    }


def create_activity(
    principal: Principal,
    type: str,
    content: str,
    related: list[tuple[str, str]],
    occurred_at: Optional[str],
    attachment_upload_ids: Optional[list[str]] = None,
) -> dict:
    """``POST /v1/activities``: every related object must exist and be visible to the author;
    every attachment must be one of the author's own ``attachment`` uploads, not rejected."""
    if type in SYSTEM_TYPES:
        raise Unprocessable(f"{type} activities are made by their own routes", code="system_activity_type")
    occurred_at = stated(occurred_at, "occurred_at")  # never ahead of our clock (feed order)
    found = refs.check(principal, objects=related)  # 422 unknown_<type> for a missing or hidden object
    attachments = _check_attachments(principal, attachment_upload_ids or [])
    new = NewActivity(
        principal.tenant_id, type, principal.user_id, content, related, occurred_at, None, None, attachments
    )
    return record_activity(new, found.resolver)


def _check_attachments(principal: Principal, upload_ids: list[str]) -> list[str]:
    ids = list(dict.fromkeys(upload_ids))
    if len(ids) > MAX_ATTACHMENTS:
        raise Unprocessable(f"at most {MAX_ATTACHMENTS} attachments", code="too_many_attachments")
    found = uploads.get_uploads(principal.tenant_id, ids) if ids else {}
    for upload_id in ids:
        upload = found.get(upload_id)
        if upload is None or upload.user_id != principal.user_id or upload.purpose != "attachment":
            raise Unprocessable(f"upload {upload_id!r} is not one of your attachments", code="unknown_upload")
        if upload.status == "rejected":
            raise Unprocessable(f"attachment {upload_id!r} was rejected ({upload.reason})", code="upload_rejected")
    return ids


# ---------------------------------------------------------------- reads
def require_visible_activity(principal: Principal, activity_id: str) -> Activity:
    """The activity when it is in the caller's visible range, else NotFound (2 GetItems)."""
    activity = get_activity(principal.tenant_id, activity_id)
    if activity is None:
        raise NotFound("activity not found")
    if principal.is_admin:
        return activity
    shards = entry_shards(activity, principal.user_id, "all")  # where it was written (one, as a rule)
    if not any(
        FeedEntry.fetch(principal.tenant_id, principal.user_id, "all", activity.occurred_at, activity.activity_id, s)
        for s in shards
    ):
        raise NotFound("activity not found")
    return activity


def _batch_activities(tenant_id: str, ids: list[str]) -> dict[str, Activity]:
    if not ids:
        return {}
    keys = [Activity.key_of(tenant_id, i) for i in dict.fromkeys(ids)]
    return {a.activity_id: a for a in BaseItem.batch_get(keys) if isinstance(a, Activity)}


def _scope(principal: Principal, *parts: Any) -> str:
    return "|".join([principal.tenant_id, principal.user_id, *(str(p) for p in parts)])


@dataclass(frozen=True)
class Partition:
    """One feed partition: a viewer's scene, or its entries of one activity type, in one of
    the tenant's index shards (models/shards.py)."""

    tenant_id: str
    viewer: str
    scene: str
    activity_type: Optional[str] = None
    shard: int = 0

    @property
    def stream(self) -> str:
        """Its name in a cursor: the type (``*``: the scene), and its shard when not 0."""
        return (self.activity_type or "*") + pk_suffix(self.shard)


def _query_partition(part: Partition, lo: str, hi: str, after: Optional[str], n: int) -> list[FeedEntry]:
    """Newest first, strictly below ``after``; one request (``n`` items at most)."""
    tenant_id, viewer, scene, activity_type = part.tenant_id, part.viewer, part.scene, part.activity_type
    upper = min(hi, after) if after else hi
    if upper < lo:
        return []
    if activity_type is None:
        results = FeedEntry.query(
            feed_pk(tenant_id, viewer, scene, part.shard),
            FeedEntry.SK.between(lo, upper),
            scan_index_forward=False,
            consistent_read=True,
            limit=n + 1,
            page_size=n + 1,
        )
    else:
        results = FeedEntry.gsi1.query(
            feed_type_pk(tenant_id, viewer, scene, activity_type, part.shard),
            FeedEntry.GSI1SK.between(lo, upper),
            scan_index_forward=False,
            limit=n + 1,
            page_size=n + 1,
        )
    return [e for e in results if e.SK != after][:n]  # noqa: SIM300 - attribute, not a constant


@dataclass(frozen=True)
class FeedQuery:
    """Which part of the caller's feed a page reads: a scene, activity types, a time range."""

    scene: str = "all"
    types: Optional[list[str]] = None
    since: Optional[str] = None
    until: Optional[str] = None


def feed_page(
    principal: Principal, query: FeedQuery = FeedQuery(), limit: int = 20, cursor: Optional[str] = None
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """One page of the caller's feed, newest first, and the cursor of the next page: one
    Query per (type, index shard) merged (``cursor.merge``), + 1 BatchGet of the activities.
    The tenant's shard count comes with the request's settings (read at the edge)."""
    scene, types, since, until = query.scene, query.types, query.since, query.until
    if scene not in SCENES:
        raise ValueError(scene)
    wanted = sorted(set(types or ()))
    since_n, until_n = normalize(since, "since"), normalize(until, "until")
    scope = _scope(principal, "feed", scene, ",".join(wanted), since_n or "", until_n or "")
    position = cursors.decode(cursor, scope) or {}
    viewer = ADMIN_VIEWER if scene == "all" and principal.is_admin else principal.user_id
    lo, hi = feed_sk_range(since_n, until_n)
    tenant = principal.tenant_id
    shards = index_count(context.of(principal).settings)
    kinds: list[Optional[str]] = [*wanted] or [None]
    parts = [Partition(tenant, viewer, scene, t, s) for t in kinds for s in range(shards)]
    streams = {p.stream: partial(_query_partition, p, lo, hi) for p in parts}
    merged = cursors.merge(streams, position, limit, lambda e: e.SK, descending=True)
    page = [e for _, e in merged.items]
    activities = _batch_activities(tenant, [e.activity_id for e in page])
    views = attachment_views(tenant, activities.values())
    items = [to_dict(activities[e.activity_id], views) for e in page if e.activity_id in activities]
    return items, cursors.encode(merged.position, scope) if merged.more else None


def get_activity_for(principal: Principal, activity_id: str) -> dict[str, Any]:
    return to_dict(require_visible_activity(principal, activity_id))


def _check_mentions(principal: Principal, activity: Activity, user_ids: list[str]) -> set[str]:
    """Mentioned users must be active users of the tenant who see the activity (its ``all``
    entry: the same audience the feed and GET /v1/activities/{id} answer to, private
    projections narrowed; or admin role): else 422 ``unknown_user`` (never revealing
    which), and nothing is stored. 2 BatchGets at most."""
    ids = list(dict.fromkeys(user_ids))
    if not ids:
        return set()
    tenant = principal.tenant_id
    found = BaseItem.batch_get([User.key_of(tenant, u) for u in ids], consistent_read=True)
    users = {u.user_id: u for u in found if isinstance(u, User)}
    keys = [
        FeedEntry.key_of(tenant, u, "all", activity.occurred_at, activity.activity_id, s)
        for u in ids
        if u in users
        for s in entry_shards(activity, u, "all")
    ]
    found_entries = BaseItem.batch_get(keys, consistent_read=True) if keys else []
    seeing = {e.viewer for e in found_entries if isinstance(e, FeedEntry)}
    for user_id in ids:
        user = users.get(user_id)
        if user is None or not user.is_active or (user_id not in seeing and "admin" not in (user.roles or ())):
            raise Unprocessable(f"user {user_id!r} does not exist", code="unknown_user")
    return set(ids)


def add_comment(
    principal: Principal, activity_id: str, content: str, mentions: Optional[list[str]] = None
) -> dict[str, Any]:
    """Comment on a visible activity; its author (if someone else) gets a ``comment``
    message and each mentioned user (who must see the activity) a ``mention`` message."""
    activity = require_visible_activity(principal, activity_id)
    mentioned = _check_mentions(principal, activity, mentions or [])
    comment = Comment(
        tenant_id=principal.tenant_id,
        comment_id=new_id("cmt"),
        activity_id=activity_id,
        author_id=principal.user_id,
        content=content,
        created_at=iso(utcnow()),
        mentions=mentioned or None,
    )
    comment.set_keys()
    tx = Tx("comment").put("comment", comment, Comment.PK.does_not_exist())
    tx.update("activity", activity, [Activity.comment_count.add(1)], Activity.PK.exists()).commit()
    settle("comment.notify", lambda: notify_comment(activity, comment), comment_id=comment.comment_id)
    return comment_to_dict(comment)


def notify_comment(activity: Activity, comment: Comment) -> None:
    """The activity's author (if someone else) hears of the comment and each mentioned user
    of the mention, once per comment and user (the comment's stream INSERT re-drives this)."""
    for user_id in sorted(comment.mentions or ()):
        if user_id == comment.author_id:
            continue
        messages.send(
            messages.NewMessage(
                comment.tenant_id,
                user_id,
                "mention",
                "You were mentioned in a comment",
                comment.content[:200],
                ref_type="activity",
                ref_id=activity.activity_id,
                dedupe_key=f"{comment.comment_id}:mention:{user_id}",
            )
        )
    if activity.author_id == comment.author_id:
        return
    messages.send(
        messages.NewMessage(
            comment.tenant_id,
            activity.author_id,
            "comment",
            "New comment on your activity",
            comment.content[:200],
            ref_type="activity",
            ref_id=activity.activity_id,
            dedupe_key=comment.comment_id,
        )
    )


def list_comments(
    principal: Principal, activity_id: str, limit: int = 20, cursor: Optional[str] = None
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """Oldest first."""
    require_visible_activity(principal, activity_id)
    scope = _scope(principal, "comments", activity_id)
    position = cursors.decode(cursor, scope) or {}
    after = position.get("after")
    start, end = Comment.after(after if isinstance(after, str) else None)
    condition = Comment.SK.between(start, end)
    results = list(
        Comment.query(
            activity_pk(principal.tenant_id, activity_id),
            condition,
            consistent_read=True,
            limit=limit + 2,
            page_size=limit + 2,
        )
    )
    results = [c for c in results if isinstance(c, Comment) and c.SK != start]  # noqa: SIM300
    page = results[:limit]
    next_cursor = cursors.encode({"after": page[-1].SK}, scope) if len(results) > limit else None
    return [comment_to_dict(c) for c in page], next_cursor


def activities_for_opportunity(principal: Principal, opp_id: str) -> list[dict]:
    """Every activity related to the opportunity that the caller may read, newest first
    (GSI3 + BatchGet, + two BatchGets: the authors of private ones and their departments).

    For the opportunity overview, whose caller has already passed ``require_visible`` on
    the opportunity: every activity on a visible opportunity is in the caller's range,
    except one projecting a personal record (``visibility.PRIVATE_TYPES``: an expense),
    which answers only to those who may read the record (``visibility.may_read_record``)."""
    tenant_id = principal.tenant_id
    ids = [
        item.activity_id
        for item in BaseItem.gsi3.query(
            opportunity_collection_pk(tenant_id, opp_id), BaseItem.GSI3SK.startswith(ActivityLink.COLLECTION_PREFIX)
        )
        if getattr(item, "activity_id", None)
    ]
    activities = _batch_activities(tenant_id, ids)
    resolver = Resolver(tenant_id)
    resolver.load_users(sorted({a.author_id for a in activities.values() if a.type in PRIVATE_TYPES}))
    readable = [
        a
        for a in activities.values()
        if a.type not in PRIVATE_TYPES or may_read_record(principal, resolver, a.author_id)
    ]
    ordered = sorted(readable, key=lambda a: (a.occurred_at, a.activity_id), reverse=True)
    views = attachment_views(tenant_id, ordered)
    return [to_dict(a, views) for a in ordered]
