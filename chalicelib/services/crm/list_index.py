"""The CRM objects' write-time list index: lists, name search and nearby (models/lists.py).

Who may list an object is decided when it is written, from the feed's audience rules
(services/access/visibility.py), so a list page never filters anything out:

- ``mine``: the owner;
- ``team``: the owner's managers (any depth) and, for an account, every member of its
  relevant team (the owner counts) and each member's managers;
- ``all``: everyone who may see the object (``Resolver.object_viewers``) and the tenant's
  admin partition (``*``).

Each (viewer, scope) gets one ``ListEntry`` per subset of the object's filter values
(``owner_id``; ``account_id`` for contacts and opportunities; ``stage`` for
opportunities), in the live (``L``) or archived (``X``) partition. Located live accounts
also get one ``GeoEntry`` per ``all`` viewer. Write amplification per object:
``(1 + team viewers + all viewers) x 2^filters`` list entries (bounded by org depth and
team size, never by org or tenant size; measured in bench/bench_lists.py).

Re-indexing follows the feed's protocol (services/feed/feed_index.py) on ``ListIndexState``:
record ``keys = old | new`` (pending, conditional on ``rev``, under the run's ``claim``),
write the new entries and delete ``old - new``, record ``keys = new`` (ok, conditional on
``rev + 1``). Every run recomputes from current state, so duplicate or reordered stream
records converge. A run retried after a storage fault (same ``claim``) that finds its own
pending state resumes it instead of claiming again, so the retry leaves exactly the state
of one clean run. It runs
right after every object write, and again from the table stream on the object's change, a
``User`` whose ``path`` / ``dept_path`` changed (objects they own, accounts whose team they
are on) and a ``Department`` whose head or path changed (its members' objects): the same
triggers as the feed's re-index.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, Optional

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.models.base import BaseItem
from chalicelib.models.crm import Account, CrmObject
from chalicelib.models.feed import ADMIN_VIEWER
from chalicelib.models.lists import (
    ARCHIVED,
    GEOHASH_LEN,
    LIVE,
    GeoEntry,
    ListEntry,
    ListIndexState,
    list_pk,
    search_key,
)
from chalicelib.models.org import TenantSettings
from chalicelib.models.shards import pk_suffix, spread
from chalicelib.observability import logger
from chalicelib.services.access.visibility import Resolver, team_of
from chalicelib.services.crm import geocells
from chalicelib.services.platform import pacing
from chalicelib.services.platform.projections import Change, Projection, Rebuild, Scope, reads

MAX_ATTEMPTS = 5
CRM_ENTITIES = {"Account", "Contact", "Opportunity", "Lead"}
KEY_SEP = "\x1f"
FILTER_FIELDS = {
    "account": ("owner_id",),
    "contact": ("owner_id", "account_id"),
    "opportunity": ("owner_id", "account_id", "stage"),
    "lead": ("owner_id",),
}


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


# ---------------------------------------------------------------- what should exist
def scope_viewers(resolver: Resolver, obj: CrmObject) -> dict[str, set[str]]:
    """``{scope: viewers}`` for one object (the resolver has loaded its people)."""
    team = set(resolver.managers(obj.owner_id))
    if isinstance(obj, Account):
        for member in team_of(obj):
            team.add(member)
            team.update(resolver.managers(member))
    return {"mine": {obj.owner_id}, "team": team, "all": resolver.object_viewers(obj) | {ADMIN_VIEWER}}


def filter_sets(obj: CrmObject) -> Iterator[dict[str, str]]:
    """Every subset of the object's filter values (the empty one first)."""
    values = {f: getattr(obj, f, None) for f in FILTER_FIELDS[obj.object_type]}
    names = sorted(f for f, v in values.items() if v)
    for mask in range(1 << len(names)):
        yield {f: str(values[f]) for i, f in enumerate(names) if mask >> i & 1}


def _key(item: BaseItem) -> str:
    return f"{item.PK}{KEY_SEP}{item.SK}"


def desired_items(resolver: Resolver, obj: CrmObject) -> dict[str, BaseItem]:
    """Every list and geo entry the object should have now, by key."""
    tenant = obj.tenant_id
    state = ARCHIVED if obj.archived_at else LIVE
    name_key = search_key(obj.name)
    shard = spread(obj.object_id, resolver.index_shards)  # every entry of the object in one shard
    viewers = scope_viewers(resolver, obj)
    out: dict[str, BaseItem] = {}
    for scope, people in viewers.items():
        for viewer in sorted(people):
            for filters in filter_sets(obj):
                entry = ListEntry(
                    tenant_id=tenant,
                    object_type=obj.object_type,
                    object_id=obj.object_id,
                    partition=list_pk(tenant, viewer, obj.object_type, scope, state, filters) + pk_suffix(shard),
                    updated_at=obj.updated_at,
                    revision=int(obj.version or 0),
                    name_key=name_key,
                )
                entry.set_keys()
                out[_key(entry)] = entry
    location = obj.location if isinstance(obj, Account) else None
    if location is not None and not obj.archived_at:
        lat, lng = float(location.lat), float(location.lng)
        cell = geocells.encode(lat, lng, GEOHASH_LEN)
        for viewer in sorted(viewers["all"]):
            item = GeoEntry(
                tenant_id=tenant,
                viewer=viewer,
                object_id=obj.object_id,
                geohash=cell,
                lat=lat,
                lng=lng,
                shard=shard or None,
            )
            item.set_keys()
            out[_key(item)] = item
    return out


PARTITION_FIELDS = ("PK", "GSI1PK", "partition", "viewer", "shard")


def digest(items: Iterable[BaseItem]) -> str:
    """What the entries carry besides which partition they are in (an object's entries
    share it: its revision, name key, location): equal digests and an ``ok`` state mean an
    entry kept under the same key is on disk as wanted, so only new keys need a put."""
    bodies = sorted(
        json.dumps({k: v for k, v in item.serialize().items() if k not in PARTITION_FIELDS}, sort_keys=True)
        for item in items
    )
    return hashlib.sha256("\n".join(dict.fromkeys(bodies)).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- protocol
def _load_state(tenant_id: str, object_type: str, object_id: str) -> Optional[ListIndexState]:
    return ListIndexState.fetch(tenant_id, object_type, object_id)


def _claim(
    obj_ref: tuple[str, str, str], state: Optional[ListIndexState], keys: set[str], claim: str
) -> Optional[ListIndexState]:
    """Step 1: record ``keys`` as possibly on disk, conditional on the revision read."""
    tenant_id, object_type, object_id = obj_ref
    try:
        if state is None:
            state = ListIndexState(
                tenant_id=tenant_id,
                object_type=object_type,
                object_id=object_id,
                keys=keys or None,
                rev=1,
                claim=claim,
            )
            state.save(condition=ListIndexState.PK.does_not_exist())
            return state
        rev = int(state.rev or 0)
        state.update(
            actions=[
                ListIndexState.keys.set(keys) if keys else ListIndexState.keys.remove(),
                ListIndexState.state.set("pending"),
                ListIndexState.rev.set(rev + 1),
                ListIndexState.claim.set(claim),
            ],
            condition=ListIndexState.rev == rev,
        )
    except (PutError, UpdateError) as exc:
        if _condition_failed(exc):
            return None
        raise
    return state


def _resumable(state: Optional[ListIndexState], claim: str, new_keys: set[str]) -> bool:
    """The pending state is this run's own claim (a retry after a fault) and covers ``new_keys``."""
    return state is not None and state.state == "pending" and state.claim == claim and new_keys <= set(state.keys or ())


def _finish(state: ListIndexState, keys: set[str], content: str) -> bool:
    """Step 3: record ``keys`` (and their ``content`` digest) as exactly what is on disk,
    unless someone moved on."""
    rev = int(state.rev or 0)
    try:
        state.update(
            actions=[
                ListIndexState.keys.set(keys) if keys else ListIndexState.keys.remove(),
                ListIndexState.state.set("ok"),
                ListIndexState.rev.set(rev + 1),
                ListIndexState.claim.remove(),
                ListIndexState.digest.set(content),
            ],
            condition=ListIndexState.rev == rev,
        )
    except UpdateError as exc:
        if _condition_failed(exc):
            return False
        raise
    return True


def _write(items: Iterable[BaseItem], stale: Iterable[str]) -> int:
    """BatchWrite the puts and deletes (their partitions charged to the running job step's
    pacer); answers items written."""
    keys: list[str] = []
    with BaseItem.batch_write() as batch:
        for item in items:
            batch.save(item)
            keys.append(item.PK)
        for key in stale:
            pk, _, sk = key.partition(KEY_SEP)
            batch.delete(ListEntry(PK=pk, SK=sk))
            keys.append(pk)
    pacing.charge(keys)
    return len(keys)


def _to_put(state: Optional[ListIndexState], items: dict[str, BaseItem], content: str) -> list[BaseItem]:
    """The entries to put: those the index lacks when the state read was complete with the
    same content (every other entry is on disk as wanted), else all of them."""
    if state is not None and state.state == "ok" and state.digest == content:
        old = set(state.keys or ())
        return [item for key, item in items.items() if key not in old]
    return list(items.values())


def reindex_object(
    tenant_id: str,
    object_type: str,
    object_id: str,
    resolver: Optional[Resolver] = None,
    claim: Optional[str] = None,
) -> bool:
    """Bring one object's list and geo entries in line with current state. True if it wrote.
    ``claim``: the run's name, the same when the run is retried (see the module docstring)."""
    claim = claim or uuid.uuid4().hex
    settings = resolver.settings if resolver is not None else None
    for attempt in range(MAX_ATTEMPTS):
        res = resolver if resolver is not None and attempt == 0 else Resolver(tenant_id, settings)
        res.objects.pop((object_type, object_id), None)  # always the object's current state
        obj = res.load_objects([(object_type, object_id)]).get((object_type, object_id))
        state = _load_state(tenant_id, object_type, object_id)
        items = desired_items(res, obj) if obj is not None else {}
        settings = res.settings  # what a retry needs not read again
        new_keys = set(items)
        old_keys = set(state.keys or ()) if state is not None else set()
        content = digest(items.values())
        if state is None and not new_keys:
            return False
        if state is not None and state.state == "ok" and new_keys == old_keys and state.digest in (None, content):
            return False  # (a state from before digests: its keys carry the revision)
        puts = _to_put(state, items, content)  # from the state as read: claiming updates it
        if _resumable(state, claim, new_keys):
            claimed = state
        else:
            claimed = _claim((tenant_id, object_type, object_id), state, old_keys | new_keys, claim)
        if claimed is None:
            continue
        _write(puts, old_keys - new_keys)
        if _finish(claimed, new_keys, content):
            return True
    logger.warning("list re-index gave up after retries", extra={"object_id": object_id})
    raise RuntimeError(f"could not re-index {object_type} {object_id}")


def index_object(obj: CrmObject, claim: Optional[str] = None, settings: Optional[TenantSettings] = None) -> bool:
    """Right after an object write (the stream re-runs it if this one fails); the caller's
    retries pass the same ``claim``; ``settings``: the tenant's, when the request has them."""
    return reindex_object(obj.tenant_id, obj.object_type, obj.object_id, Resolver(obj.tenant_id, settings), claim)


def handle_change(change: Change) -> int:
    """React to one table change (:data:`PROJECTION`): answers how many objects were
    re-indexed. (An org change: its job re-indexes the objects, services/flows/orgjobs.py.)"""
    item: Any = change.new or change.old
    if not isinstance(item, CrmObject):
        return 0
    return int(reindex_object(item.tenant_id, item.object_type, item.object_id))


def _rebuild(scope: Scope, item: BaseItem) -> Optional[int]:
    if not isinstance(item, CrmObject):
        return None
    return int(reindex_object(scope.tenant_id, item.object_type, item.object_id, scope.resolver))


PROJECTION = Projection(
    name="list_index",
    reads=(reads(*CRM_ENTITIES),),
    kept="after_commit",
    writes=("ListEntry", "GeoEntry", "ListIndexState"),
    apply=handle_change,
    rebuilds=(Rebuild("objects", _rebuild, index="lists"),),
    doc="list, search and geo entries of each CRM object per viewer who lists it",
)
