"""The feed's write-time index: fan-out on write, and re-indexing when the org changes.

Every activity's audience ``{(viewer, scene)}`` is materialised as ``FeedEntry`` items, so
a feed page is one Query on ``T#t#FEED#<viewer>#<scene>`` that never filters. The
activity remembers which entries may exist (``indexed``), which lets a re-index delete the
stale ones. The protocol keeps ``indexed`` a superset of what is on disk at every step:

1. record ``indexed = old | new`` and ``index_state = pending`` (conditional on ``index_rev``)
2. put the new entries (only ``new - old`` when the state read was ``ok``: an entry's
   content never changes, so one already indexed is on disk as wanted), delete ``old - new``
3. record ``indexed = new`` and ``index_state = ok`` (conditional on ``index_rev``)

An entry's key in ``indexed`` names its index shard too (``<viewer>|<scene>|<shard>``;
shard 0, the unsharded partition, as before: ``<viewer>|<scene>``): the shard is
``spread(<activity id>, n)`` for the tenant's ``index_shards`` ``n`` when written, so a
re-index after ``n`` was raised finds (and deletes) exactly the keys written under the old
``n`` and writes the new ones, by the same protocol.

A crash anywhere leaves ``pending``, and the next run (the stream's retry, or any later
change) finishes the job. Every run recomputes the audience from the current state, never
from the change that triggered it, so duplicate and reordered stream records converge on
the same index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from pynamodb.exceptions import UpdateError

from chalicelib.models.base import BaseItem, condition_failed
from chalicelib.models.crm import OBJECT_TYPES, CrmObject, object_pk
from chalicelib.models.expenses import Expense
from chalicelib.models.feed import Activity, ActivityLink, FeedEntry
from chalicelib.models.shards import spread
from chalicelib.observability import logger
from chalicelib.services.access.visibility import Entry, Resolver, entry_key
from chalicelib.services.platform import pacing
from chalicelib.services.platform.projections import INSERT, MODIFY, Change, Projection, Rebuild, Scope, reads

MAX_ATTEMPTS = 5
CRM_ENTITIES = {"Account", "Contact", "Opportunity", "Lead"}


Stored = tuple[str, str, int]  # (viewer, scene, index shard): one FeedEntry's partition


def indexed_key(entry: Entry, shard: int) -> str:
    """An entry's key in ``Activity.indexed``: shard 0 keeps the unsharded form."""
    return entry_key(entry) + (f"|{shard}" if shard else "")


def parse_indexed(key: str) -> Stored:
    viewer, scene, shard = (key.split("|") + ["0"])[:3]
    return viewer, scene, int(shard or 0)


def indexed_keys(activity_id: str, entries: Iterable[Entry], shards: int) -> set[str]:
    """The ``indexed`` keys of an activity's entries written now, the tenant's index being
    spread over ``shards`` partitions (every entry of one activity in the same shard)."""
    shard = spread(activity_id, shards)
    return {indexed_key(e, shard) for e in entries}


def entry_shards(activity: Activity, viewer: str, scene: str) -> list[int]:
    """The shards the activity's entry for (viewer, scene) may be in (one, two while a
    re-index moves it; none when it has no such entry)."""
    return sorted({s for v, c, s in map(parse_indexed, activity.indexed or ()) if (v, c) == (viewer, scene)})


def entry_item(activity: Activity, entry: Stored) -> FeedEntry:
    viewer, scene, shard = entry
    item = FeedEntry(
        tenant_id=activity.tenant_id,
        viewer=viewer,
        scene=scene,
        activity_id=activity.activity_id,
        type=activity.type,
        occurred_at=activity.occurred_at,
        shard=shard or None,
    )
    item.set_keys()
    return item


def link_items(activity: Activity) -> list[ActivityLink]:
    links = []
    for ref in activity.related or []:
        link = ActivityLink(
            tenant_id=activity.tenant_id,
            object_type=ref["type"],
            object_id=ref["id"],
            activity_id=activity.activity_id,
            type=activity.type,
            occurred_at=activity.occurred_at,
        )
        link.set_keys()
        links.append(link)
    return links


def write_entries(
    activity: Activity, put: Iterable[Stored], delete: Iterable[Stored] = (), extra: Iterable[Any] = ()
) -> int:
    """BatchWrite (25 per request) the entries to put and delete (their partitions charged
    to the running job step's pacer); answers items written."""
    keys: list[str] = []
    with BaseItem.batch_write() as batch:
        for item in extra:
            batch.save(item)
            keys.append(item.PK)
        for entry in put:
            item = entry_item(activity, entry)
            batch.save(item)
            keys.append(item.PK)
        for entry in delete:
            item = entry_item(activity, entry)
            batch.delete(item)
            keys.append(item.PK)
    pacing.charge(keys)
    return len(keys)


def get_activity(tenant_id: str, activity_id: str) -> Optional[Activity]:
    return Activity.fetch(tenant_id, activity_id)


def _related_refs(activity: Activity) -> list[tuple[str, str]]:
    return [(r["type"], r["id"]) for r in activity.related or [] if r.get("type") in OBJECT_TYPES]


def finish_new(activity: Activity) -> None:
    """Mark a freshly written activity's index complete (skipped if a re-index took over)."""
    try:
        activity.update(
            actions=[Activity.index_state.set("ok")],
            condition=(Activity.index_rev == activity.index_rev) & (Activity.index_state == "pending"),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def reindex_activity(tenant_id: str, activity_id: str, resolver: Optional[Resolver] = None) -> bool:
    """Bring one activity's feed entries in line with the current state. True if it wrote."""
    resolver = resolver or Resolver(tenant_id)
    for _ in range(MAX_ATTEMPTS):
        activity = get_activity(tenant_id, activity_id)
        if activity is None:
            return False
        objects = resolver.load_objects(_related_refs(activity))
        new = resolver.activity_entries(activity.author_id, objects.values(), activity.type)
        new_keys = indexed_keys(activity.activity_id, new, resolver.index_shards)
        old_keys = set(activity.indexed or ())
        related = [
            {**r, "name": objects[(r["type"], r["id"])].name} if (r["type"], r["id"]) in objects else r
            for r in activity.related or []
        ]
        if activity.index_state == "ok" and old_keys == new_keys and related == activity.related:
            return False
        rev = int(activity.index_rev or 0)
        was_ok = activity.index_state == "ok"  # then ``indexed`` is exactly what is on disk
        try:
            activity.update(
                actions=[
                    Activity.indexed.set(old_keys | new_keys),
                    Activity.index_state.set("pending"),
                    Activity.index_rev.set(rev + 1),
                ],
                condition=Activity.index_rev == rev,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                continue
            raise
        stale = [parse_indexed(k) for k in old_keys - new_keys]
        # an entry's content is the activity's (type, time: never changed), so a complete
        # index (``ok``) needs only the entries it lacks; a pending one may lack any, and may
        # never have been fanned out: then every entry and its links go (idempotent)
        put = [parse_indexed(k) for k in (new_keys if not was_ok else new_keys - old_keys)]
        write_entries(activity, sorted(put), stale, extra=[] if was_ok else link_items(activity))
        try:
            activity.update(
                actions=[
                    Activity.indexed.set(new_keys),
                    Activity.index_state.set("ok"),
                    Activity.index_rev.set(rev + 2),
                    Activity.related.set(related),
                ],
                condition=Activity.index_rev == rev + 1,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                continue  # someone else moved it on: recompute once more
            raise
        return True
    logger.warning("re-index gave up after retries", extra={"activity_id": activity_id})
    raise RuntimeError(f"could not re-index activity {activity_id}")


def activities_of_object(tenant_id: str, object_type: str, object_id: str) -> list[str]:
    return [
        link.activity_id
        for link in BaseItem.query(
            object_pk(tenant_id, object_type, object_id), BaseItem.SK.startswith(ActivityLink.PREFIX)
        )
        if isinstance(link, ActivityLink)
    ]


def reindex_objects(tenant_id: str, refs: Iterable[tuple[str, str]], resolver: Optional[Resolver] = None) -> int:
    resolver = resolver or Resolver(tenant_id)
    seen: set[str] = set()
    changed = 0
    for object_type, object_id in dict.fromkeys(refs):
        for activity_id in activities_of_object(tenant_id, object_type, object_id):
            if activity_id in seen:
                continue
            seen.add(activity_id)
            changed += reindex_activity(tenant_id, activity_id, resolver)
    return changed


# ---------------------------------------------------------------- stream
def _team(obj: Any) -> dict[str, Any]:
    return obj.team.as_dict() if getattr(obj, "team", None) is not None else {}


def handle_change(change: Change) -> int:
    """React to one table change (:data:`PROJECTION`): answers how many activities were
    re-indexed. An org change (a User's or Department's) is not re-indexed here, in one
    stream record: its job does it in bounded pages (services/flows/orgjobs.py)."""
    new, old = change.new, change.old
    if change.entity == "Activity":
        # A new activity: recompute from current state, closing the race with an org
        # change whose re-index ran before this activity was written.
        if isinstance(new, Activity):
            return int(reindex_activity(new.tenant_id, new.activity_id))
        return 0
    if not isinstance(new, CrmObject) or not isinstance(old, CrmObject):
        return 0
    if (old.owner_id, old.name, _team(old), old.archived_at is None) == (
        new.owner_id,
        new.name,
        _team(new),
        new.archived_at is None,
    ):
        return 0
    return reindex_objects(new.tenant_id, [(new.object_type, new.object_id)])


def _rebuild_expense_activity(scope: Scope, item: BaseItem) -> Optional[int]:
    """An expense submitted once has a feed activity: its audience as the current rule
    computes it (issue 24 item 2 narrowed an expense's activity to the expense's readers;
    one indexed before keeps its wider audience until this removes what no longer belongs)."""
    if not isinstance(item, Expense) or item.status == "draft":
        return None
    return int(reindex_activity(scope.tenant_id, item.activity_id, scope.resolver))


PROJECTION = Projection(
    name="feed_index",
    reads=(reads(*CRM_ENTITIES, events=[MODIFY]), reads("Activity", events=[INSERT])),
    kept="after_commit",
    writes=("FeedEntry", "ActivityLink"),
    apply=handle_change,
    rebuilds=(Rebuild("expenses", _rebuild_expense_activity, index="expense_activities"),),
    doc=(
        "feed entries per (viewer, scene) of each activity; "
        "a CRM object's owner, name or team change re-indexes its activities"
    ),
)
