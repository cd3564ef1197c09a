"""Activities: the feed's items, recorded by every capability that has something to tell
(CRM stage changes, sign-ins, expenses, posts). Sits below crm and feed, which both use it.

An activity is committed with its audience resolved (``indexed``) and then fanned out to
its feed entries (services/feed/feed_index.py); see services/feed/feed.py for the reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Optional, get_args

from pynamodb.exceptions import PutError

from chalicelib import vocabulary
from chalicelib.ids import new_id
from chalicelib.models.base import condition_failed
from chalicelib.models.crm import OBJECT_TYPES
from chalicelib.models.feed import Activity
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.feed.feed_index import (
    finish_new,
    get_activity,
    indexed_keys,
    link_items,
    parse_indexed,
    reindex_activity,
    write_entries,
)
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.uploads import uploads
from chalicelib.timeutil import iso, normalize, utcnow

ActivityType = vocabulary.ActivityType  # the one list: chalicelib/vocabulary.py
TYPES: tuple[str, ...] = get_args(ActivityType)
SYSTEM_TYPES = frozenset({"signin", "stage_feedback", "expense"})  # made by their own routes
USER_TYPES = tuple(t for t in TYPES if t not in SYSTEM_TYPES)  # POST /v1/activities
CORE_FIELDS = frozenset(
    {"id", "type", "content", "author_id", "related", "occurred_at", "created_at", "comment_count", "attachments"}
)
MAX_ATTACHMENTS = 9


# ---------------------------------------------------------------- shapes
def attachment_views(tenant_id: str, activities: Any) -> dict[str, dict[str, Any]]:
    """The attachments of these activities (1 BatchGet per 100 uploads; none without any).
    Their URLs are for whoever may see the activity: callers check that first."""
    ids = [u for a in activities for u in (a.attachment_upload_ids or [])]
    found = uploads.get_uploads(tenant_id, ids) if ids else {}
    return {upload_id: uploads.photo_to_dict(upload) for upload_id, upload in found.items()}


def to_dict(activity: Activity, views: Optional[dict[str, dict[str, Any]]] = None) -> dict[str, Any]:
    """The contract shape: core fields plus the type-specific ones (``extra``)."""
    if views is None:
        views = attachment_views(activity.tenant_id, [activity])
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
        attachments=[views.get(u, {"upload_id": u, "status": "pending"}) for u in activity.attachment_upload_ids or []],
    )
    return out


# ---------------------------------------------------------------- writes
@dataclass(frozen=True)
class NewActivity:
    """What an activity is about to say: its author, type and text, the CRM objects it
    relates to (``[(object_type, object_id)]``; objects that do not exist are dropped),
    and, for an idempotent record, the id that follows its cause."""

    tenant_id: str
    type: str
    author_id: str
    content: str
    related: Sequence[tuple[str, str]] = ()
    occurred_at: Optional[str] = None
    extra: Optional[dict[str, Any]] = None
    activity_id: Optional[str] = None
    attachments: Optional[list[str]] = None


def prepare_activity(new: NewActivity, resolver: Optional[Resolver] = None) -> Activity:
    """A new activity with its audience resolved (``indexed``, state ``pending``, in the
    index shard its id picks among the tenant's ``index_shards``: the resolver's), ready to
    be committed alone or in the transaction of its cause, then :func:`publish`-ed.

    A ``resolver`` may carry objects the caller is about to commit (their new state), or
    what the request has read already (its context's visibility loader)."""
    if new.type not in TYPES:
        raise ValueError(f"unknown activity type {new.type!r}")
    refs = [(t, i) for t, i in dict.fromkeys((str(t), str(i)) for t, i in new.related) if t in OBJECT_TYPES]
    resolver = resolver or Resolver(new.tenant_id)
    objects = resolver.load_objects(refs)
    entries = resolver.activity_entries(new.author_id, objects.values(), new.type)
    now = iso(utcnow())
    activity_id = new.activity_id or new_id("act")
    activity = Activity(
        tenant_id=new.tenant_id,
        activity_id=activity_id,
        type=new.type,
        content=new.content or "",
        author_id=new.author_id,
        related=[{"type": t, "id": i, "name": objects[(t, i)].name} for t, i in refs if (t, i) in objects],
        occurred_at=normalize(new.occurred_at, "occurred_at") or now,
        created_at=now,
        comment_count=0,
        extra=new.extra or None,
        indexed=indexed_keys(activity_id, entries, resolver.index_shards),
        index_state="pending",
        index_rev=0,
        attachment_upload_ids=list(new.attachments) if new.attachments else None,
    )
    activity.set_keys()
    return activity


def publish(activity: Activity) -> None:
    """Fan a committed activity out to its feed entries and links, then mark it indexed.
    After the commit point: retried here, else left to the activity's stream INSERT."""

    def fan_out() -> None:
        write_entries(activity, sorted(parse_indexed(k) for k in activity.indexed or ()), extra=link_items(activity))
        finish_new(activity)

    settle("activity.fan_out", fan_out, activity_id=activity.activity_id)


def record_activity(new: NewActivity, resolver: Optional[Resolver] = None) -> dict:
    """Record an activity and index it for everyone who may see it, before answering.

    With ``activity_id`` the call is idempotent: a second call answers the first activity.
    ``resolver``: the request's visibility loader (what it has read is not read again).
    Cost: 3 BatchGets (objects, people, departments), 1 PutItem, ceil(n/25) BatchWrites
    for the n feed entries and links, 1 UpdateItem.
    """
    if new.activity_id is not None:
        existing = get_activity(new.tenant_id, new.activity_id)
        if existing is not None:
            if existing.index_state != "ok":
                reindex_activity(new.tenant_id, new.activity_id)
                existing = get_activity(new.tenant_id, new.activity_id) or existing
            return to_dict(existing)
    activity = prepare_activity(new, resolver)
    try:
        activity.save(condition=Activity.PK.does_not_exist())
    except PutError as exc:
        if condition_failed(exc):
            return record_activity(replace(new, activity_id=activity.activity_id), resolver)
        raise
    publish(activity)
    return to_dict(activity)
