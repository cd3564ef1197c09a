"""CRM information: activities, comments and the feed.

Visibility is decided when an activity is written (fan-out on write to per-viewer,
per-scene ``FeedEntry`` items, see services/feed_index.py), so:

- a feed page is 1 Query on the caller's scene partition (``limit + 2`` items read) plus
  1 BatchGet of the activities, whatever the org's or table's size, and it is never short
  because of filtering: everything in the partition is visible to its viewer;
- ``types=`` with one type is 1 Query on GSI1 (the per-type copy of the partition);
  with k types it is k Queries merged (k <= 11, the number of types), still independent
  of the org and the table;
- ``GET /v1/activities/{id}`` and its comments check the same entry (viewer, ``all``),
  so a direct read can never disagree with the feed.
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.transactions import TransactWrite

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem
from chalicelib.models.crm import OBJECT_TYPES
from chalicelib.models.feed import (
    ACTIVITY_SK,
    ADMIN_VIEWER,
    Activity,
    Comment,
    FeedEntry,
    activity_pk,
    feed_pk,
    feed_sk,
    feed_type_pk,
    opportunity_collection_pk,
)
from chalicelib.services import crm, messages
from chalicelib.services.aftercommit import settle
from chalicelib.services.feed_audience import SCENES, Resolver, entry_key, parse_entry_key
from chalicelib.services.feed_index import finish_new, get_activity, link_items, reindex_activity, write_entries
from chalicelib.timeutil import iso, normalize, utcnow

TYPES = (
    "sales_record",
    "service_record",
    "stage_feedback",
    "signin",
    "report",
    "post",
    "approval",
    "task",
    "calendar",
    "instruction",
    "expense",
)
SYSTEM_TYPES = frozenset({"signin", "stage_feedback", "expense"})  # made by their own routes
CORE_FIELDS = frozenset({"id", "type", "content", "author_id", "related", "occurred_at", "created_at", "comment_count"})
SK_FLOOR = "0"  # below every "<timestamp>#<id>"
SK_CEIL = "9999~"  # above every one


# ---------------------------------------------------------------- shapes
def to_dict(activity: Activity) -> dict[str, Any]:
    """The contract shape: core fields plus the type-specific ones (``extra``)."""
    out: dict[str, Any] = {k: v for k, v in (activity.extra or {}).items() if k not in CORE_FIELDS}
    out.update(
        id=activity.activity_id,
        type=activity.type,
        content=activity.content or "",
        author_id=activity.author_id,
        related=[{"type": r["type"], "id": r["id"], "name": r.get("name")} for r in activity.related or []],
        occurred_at=activity.occurred_at,
        created_at=activity.created_at,
        comment_count=int(activity.comment_count or 0),
    )
    return out


def comment_to_dict(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.comment_id,
        "activity_id": comment.activity_id,
        "author_id": comment.author_id,
        "content": comment.content,
        "created_at": comment.created_at,
    }


# ---------------------------------------------------------------- writes
def prepare_activity(
    tenant_id: str,
    type: str,
    author_id: str,
    content: str,
    related: list[tuple[str, str]],
    occurred_at: str | None = None,
    extra: dict | None = None,
    activity_id: str | None = None,
    resolver: Optional[Resolver] = None,
) -> Activity:
    """A new activity with its audience resolved (``indexed``, state ``pending``), ready to
    be committed alone or in the transaction of its cause, then :func:`publish`-ed.

    ``related`` is ``[(object_type, object_id)]``; objects that do not exist are dropped.
    A ``resolver`` may carry objects the caller is about to commit (their new state)."""
    if type not in TYPES:
        raise ValueError(f"unknown activity type {type!r}")
    refs = [(t, i) for t, i in dict.fromkeys((str(t), str(i)) for t, i in related) if t in OBJECT_TYPES]
    resolver = resolver or Resolver(tenant_id)
    objects = resolver.load_objects(refs)
    entries = resolver.activity_entries(author_id, objects.values())
    now = iso(utcnow())
    activity = Activity(
        tenant_id=tenant_id,
        activity_id=activity_id or new_id("act"),
        type=type,
        content=content or "",
        author_id=author_id,
        related=[{"type": t, "id": i, "name": objects[(t, i)].name} for t, i in refs if (t, i) in objects],
        occurred_at=normalize(occurred_at, "occurred_at") or now,
        created_at=now,
        comment_count=0,
        extra=extra or None,
        indexed={entry_key(e) for e in entries},
        index_state="pending",
        index_rev=0,
    )
    activity.set_keys()
    return activity


def publish(activity: Activity) -> None:
    """Fan a committed activity out to its feed entries and links, then mark it indexed.
    After the commit point: retried here, else left to the activity's stream INSERT."""

    def fan_out() -> None:
        write_entries(activity, sorted(parse_entry_key(k) for k in activity.indexed or ()), extra=link_items(activity))
        finish_new(activity)

    settle("activity.fan_out", fan_out, activity_id=activity.activity_id)


def record_activity(
    tenant_id: str,
    type: str,
    author_id: str,
    content: str,
    related: list[tuple[str, str]],
    occurred_at: str | None = None,
    extra: dict | None = None,
    activity_id: str | None = None,
) -> dict:
    """Record an activity and index it for everyone who may see it, before answering.

    With ``activity_id`` the call is idempotent: a second call answers the first activity.
    Cost: 3 BatchGets (objects, people, departments), 1 PutItem, ceil(n/25) BatchWrites
    for the n feed entries and links, 1 UpdateItem.
    """
    if activity_id is not None:
        existing = get_activity(tenant_id, activity_id)
        if existing is not None:
            if existing.index_state != "ok":
                reindex_activity(tenant_id, activity_id)
                existing = get_activity(tenant_id, activity_id) or existing
            return to_dict(existing)
    activity = prepare_activity(tenant_id, type, author_id, content, related, occurred_at, extra, activity_id)
    try:
        activity.save(condition=Activity.PK.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return record_activity(
                tenant_id, type, author_id, content, related, occurred_at, extra, activity.activity_id
            )
        raise
    publish(activity)
    return to_dict(activity)


def create_activity(
    principal: Principal, type: str, content: str, related: list[tuple[str, str]], occurred_at: Optional[str]
) -> dict:
    """``POST /v1/activities``: every related object must exist and be visible to the author."""
    if type in SYSTEM_TYPES:
        raise Unprocessable(f"{type} activities are made by their own routes", code="system_activity_type")
    resolver = Resolver(principal.tenant_id)
    for object_type, object_id in dict.fromkeys(related):
        obj = crm.get_object(principal.tenant_id, object_type, object_id)
        if obj is None or not crm.can_see(principal, obj, resolver):
            raise Unprocessable(f"{object_type} {object_id!r} does not exist", code="unknown_related")
    return record_activity(principal.tenant_id, type, principal.user_id, content, related, occurred_at)


# ---------------------------------------------------------------- reads
def require_visible_activity(principal: Principal, activity_id: str) -> Activity:
    """The activity when it is in the caller's visible range, else NotFound (2 GetItems)."""
    activity = get_activity(principal.tenant_id, activity_id)
    if activity is None:
        raise NotFound("activity not found")
    if principal.is_admin:
        return activity
    try:
        FeedEntry.get(
            feed_pk(principal.tenant_id, principal.user_id, "all"),
            feed_sk(activity.occurred_at, activity.activity_id),
            consistent_read=True,
        )
    except DoesNotExist:
        raise NotFound("activity not found") from None
    return activity


def _batch_activities(tenant_id: str, ids: list[str]) -> dict[str, Activity]:
    if not ids:
        return {}
    keys = [(activity_pk(tenant_id, i), ACTIVITY_SK) for i in dict.fromkeys(ids)]
    return {a.activity_id: a for a in BaseItem.batch_get(keys) if isinstance(a, Activity)}


def _scope(principal: Principal, *parts: Any) -> str:
    return "|".join([principal.tenant_id, principal.user_id, *(str(p) for p in parts)])


def _query_partition(
    tenant_id: str,
    viewer: str,
    scene: str,
    activity_type: Optional[str],
    lo: str,
    hi: str,
    after: Optional[str],
    n: int,
) -> list[FeedEntry]:
    """Newest first, strictly below ``after``; one request (``n`` items at most)."""
    upper = min(hi, after) if after else hi
    if upper < lo:
        return []
    if activity_type is None:
        results = FeedEntry.query(
            feed_pk(tenant_id, viewer, scene),
            FeedEntry.SK.between(lo, upper),
            scan_index_forward=False,
            consistent_read=True,
            limit=n + 1,
            page_size=n + 1,
        )
    else:
        results = FeedEntry.gsi1.query(
            feed_type_pk(tenant_id, viewer, scene, activity_type),
            FeedEntry.GSI1SK.between(lo, upper),
            scan_index_forward=False,
            limit=n + 1,
            page_size=n + 1,
        )
    return [e for e in results if e.SK != after][:n]  # noqa: SIM300 - attribute, not a constant


def feed_page(
    principal: Principal,
    scene: str = "all",
    types: Optional[list[str]] = None,
    since: Optional[str] = None,
    until: Optional[str] = None,
    limit: int = 20,
    cursor: Optional[str] = None,
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """One page of the caller's feed, newest first, and the cursor of the next page."""
    if scene not in SCENES:
        raise ValueError(scene)
    wanted = sorted(set(types or ()))
    since_n, until_n = normalize(since, "since"), normalize(until, "until")
    scope = _scope(principal, "feed", scene, ",".join(wanted), since_n or "", until_n or "")
    position = cursors.decode(cursor, scope) or {}
    viewer = ADMIN_VIEWER if scene == "all" and principal.is_admin else principal.user_id
    lo = since_n or SK_FLOOR
    hi = f"{until_n}#~" if until_n else SK_CEIL
    tenant = principal.tenant_id
    streams = wanted or [None]
    fetched: dict[Optional[str], list[FeedEntry]] = {}
    for t in streams:
        after = position.get(t or "*")
        if after is not None and not isinstance(after, str):
            raise Unprocessable("cursor is not valid for this query", code="invalid_cursor")
        fetched[t] = _query_partition(tenant, viewer, scene, t, lo, hi, after, limit + 1)
    merged = sorted(((e.SK, t, e) for t, es in fetched.items() for e in es), key=lambda x: x[0], reverse=True)
    page = merged[:limit]
    has_more = len(merged) > limit
    next_position = dict(position)
    for sk, t, _ in page:
        next_position[t or "*"] = sk  # page is sorted descending: the last one wins
    activities = _batch_activities(tenant, [e.activity_id for _, _, e in page])
    items = [to_dict(activities[e.activity_id]) for _, _, e in page if e.activity_id in activities]
    return items, cursors.encode(next_position, scope) if has_more else None


def get_activity_for(principal: Principal, activity_id: str) -> dict[str, Any]:
    return to_dict(require_visible_activity(principal, activity_id))


def add_comment(principal: Principal, activity_id: str, content: str) -> dict[str, Any]:
    """Comment on a visible activity; its author (if someone else) gets a message."""
    activity = require_visible_activity(principal, activity_id)
    comment = Comment(
        tenant_id=principal.tenant_id,
        comment_id=new_id("cmt"),
        activity_id=activity_id,
        author_id=principal.user_id,
        content=content,
        created_at=iso(utcnow()),
    )
    comment.set_keys()
    with TransactWrite(connection=Activity._get_connection().connection) as tx:
        tx.save(comment, condition=Comment.PK.does_not_exist())
        tx.update(activity, actions=[Activity.comment_count.add(1)], condition=Activity.PK.exists())
    settle("comment.notify", lambda: notify_comment(activity, comment), comment_id=comment.comment_id)
    return comment_to_dict(comment)


def notify_comment(activity: Activity, comment: Comment) -> None:
    """The activity's author (if someone else) hears of the comment, once per comment
    (the comment's stream INSERT re-drives this)."""
    if activity.author_id == comment.author_id:
        return
    messages.send(
        comment.tenant_id,
        activity.author_id,
        "comment",
        "New comment on your activity",
        comment.content[:200],
        ref_type="activity",
        ref_id=activity.activity_id,
        dedupe_key=comment.comment_id,
    )


def list_comments(
    principal: Principal, activity_id: str, limit: int = 20, cursor: Optional[str] = None
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """Oldest first."""
    require_visible_activity(principal, activity_id)
    scope = _scope(principal, "comments", activity_id)
    position = cursors.decode(cursor, scope) or {}
    after = position.get("after")
    start = after if isinstance(after, str) else "COMMENT#"
    condition = Comment.SK.between(start, "COMMENT#~")
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


def activities_for_opportunity(tenant_id: str, opp_id: str) -> list[dict]:
    """Every activity related to the opportunity, newest first (GSI3 + BatchGet).

    For the opportunity overview, whose caller has already passed ``require_visible`` on
    the opportunity: every activity on a visible opportunity is in the caller's range."""
    ids = [
        item.activity_id
        for item in BaseItem.gsi3.query(
            opportunity_collection_pk(tenant_id, opp_id), BaseItem.GSI3SK.startswith("ACTIVITY#")
        )
        if getattr(item, "activity_id", None)
    ]
    activities = _batch_activities(tenant_id, ids)
    ordered = sorted(activities.values(), key=lambda a: (a.occurred_at, a.activity_id), reverse=True)
    return [to_dict(a) for a in ordered]
