"""The per-viewer change log, kept from the table stream (a projection).

What it reads and what it writes, per stream record:

- a ``ListEntry`` inserted into or removed from a viewer's whole visible range of a type
  (scope ``all``, live, no filter: ``ListEntry.full_range_viewer``) -> one entry in that
  viewer's log of that type. The list index already decides, for every object write,
  transfer, team change, archive, restore and org change (re-index jobs included), exactly
  which viewers list the object; a new revision replaces each viewer's entry (a remove
  and an insert), a viewer who loses the object only sees a remove. Rewrites of an
  unchanged entry (MODIFY) are not changes.
- a ``Plan`` written -> one entry in its owner's plan log.
- a ``Task`` written -> one entry in the task log of each of its readers before or after
  the write: its creator, its assignees and their managers (the viewers of its list
  entries, ``indexed`` on the item; a reporting change rewrites the task, so a manager who
  gains or loses it is logged too); the tasks capability may also call :func:`record`.

An entry names the object only; ``GET /v1/sync`` resolves upsert or remove from current
state when it reads the entry (services/sync/sync.py), so duplicates (stream redelivery)
and any order of arrival are harmless: the last entry of an object is always written
after its last change.

**The horizon.** An entry's sort key is the time it was written (``written_at``), taken
*after* the change it reports was committed (the stream delivers committed changes only).
Readers read no further than ``SAFE_LAG_S`` behind their own clock. That is safe when
every entry is committed within ``SAFE_LAG_S`` of its ``written_at``: :func:`record`
measures each write and, when one took longer than ``MAX_WRITE_S`` (a throttled retry, a
paused function), writes the entries again with a fresh time; the remaining
``SAFE_LAG_S - MAX_WRITE_S`` covers clock skew between functions (NTP-synchronised: well
under a second). So a reader at time ``r`` reading up to ``r - SAFE_LAG_S`` sees every
entry it will ever see up to there: a change committed while a page is read gets an
entry after the page's position, never before it.

Write cost: one ``PutItem`` (about 120 bytes, 1 WCU) per entry: for an object change,
two per viewer of its whole range (the old revision's remove and the new one's insert),
one per viewer who gains or loses it; for a plan change, one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any, Optional

from chalicelib.models.base import BaseItem
from chalicelib.models.lists import ListEntry
from chalicelib.models.schedule import Plan
from chalicelib.models.sync import SyncChange
from chalicelib.services.platform.projections import INSERT, REMOVE, Change, Projection, reads
from chalicelib.timeutil import utcnow

SAFE_LAG_S = 5.0
MAX_WRITE_S = 2.0
MAX_WRITES = 3
TASK_ENTITIES = {"Task"}


def record(
    tenant_id: str,
    kind: str,
    object_id: str,
    viewers: Iterable[str],
    clock: Callable[[], datetime] = utcnow,
) -> int:
    """Append "``object_id`` of ``kind`` changed" to each viewer's log (the hook for a
    capability whose objects are not in the list index: plans, tasks). Answers how many
    entries were written; raises after ``MAX_WRITES`` slow attempts (the stream retries)."""
    people = sorted(set(viewers))
    if not people:
        return 0
    for _ in range(MAX_WRITES):
        moment, started = clock(), time.monotonic()
        with BaseItem.batch_write() as batch:
            for viewer in people:
                batch.save(SyncChange.make(tenant_id, viewer, kind, object_id, moment))
        if time.monotonic() - started <= MAX_WRITE_S:
            return len(people)
    raise RuntimeError(f"change log entries for {kind} {object_id} kept taking over {MAX_WRITE_S} s")


def _strings(value: Optional[dict[str, Any]]) -> list[str]:
    """A DynamoDB JSON string, string set or list of strings, as a list."""
    if not value:
        return []
    if "S" in value:
        return [value["S"]]
    if "SS" in value:
        return list(value["SS"])
    return [v["S"] for v in value.get("L", []) if isinstance(v, dict) and "S" in v]


def task_viewers(*images: Optional[dict[str, Any]]) -> tuple[Optional[str], Optional[str], set[str]]:
    """(tenant, task id, readers before and after) of a task's stream images: creator,
    assignees and the viewers of its list entries (``<viewer>|<role>|...``)."""
    tenant = task_id = None
    viewers: set[str] = set()
    for image in images:
        if not image:
            continue
        tenant = tenant or next(iter(_strings(image.get("tenant_id"))), None)
        task_id = task_id or next(iter(_strings(image.get("task_id"))), None)
        viewers.update(_strings(image.get("creator_id")) + _strings(image.get("assignee_ids")))
        viewers.update(key.split("|", 1)[0] for key in _strings(image.get("indexed")))
    return tenant, task_id, viewers


def handle_change(change: Change) -> int:
    """React to one table change (:data:`PROJECTION`): answers how many log entries it wrote."""
    entity, event_name = change.entity, change.event_name
    if entity == "ListEntry":
        entry = change.new if event_name == INSERT else change.old
        viewer = entry.full_range_viewer() if isinstance(entry, ListEntry) else None
        if viewer is None or not isinstance(entry, ListEntry):
            return 0
        return record(entry.tenant_id, entry.object_type, entry.object_id, [viewer])
    if entity == "Plan":
        plans = [p for p in (change.old, change.new) if isinstance(p, Plan)]
        if not plans:
            return 0
        return record(plans[0].tenant_id, "plan", plans[0].plan_id, {p.user_id for p in plans})
    if entity in TASK_ENTITIES:
        tenant, task_id, viewers = task_viewers(change.old_image, change.new_image)
        return record(tenant, "task", task_id, viewers) if tenant and task_id else 0
    return 0


PROJECTION = Projection(
    name="sync_changelog",
    reads=(reads("ListEntry", events=[INSERT, REMOVE]), reads("Plan", *TASK_ENTITIES)),
    kept="after_commit",
    writes=("SyncChange",),
    apply=handle_change,
    doc="the per-viewer offline sync change log (whole-range list entries, plans, tasks)",
)
