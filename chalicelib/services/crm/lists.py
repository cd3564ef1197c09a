"""Lists, name search and nearby accounts over the write-time list index
(models/lists.py, services/crm/list_index.py).

- A list page (``sort=updated``) is 1 Query on the caller's partition for (type, scope,
  live, filters) with ``Limit = limit + 2`` per index shard of the tenant (1 for a small
  tenant; merged by ``cursor.merge``) plus 1 BatchGet of the objects; ``sort=name``
  and ``q`` are the same Query on GSI1 (``q`` is a range on the search key). With
  ``archived=true`` the archived partition is read too and merged: 2 Queries. Whatever the
  org's or tenant's size, and every non-final page is full: everything in a partition is
  visible to its viewer and matches its filters.
- ``q`` matches in name order (a prefix search is a range of the name key); ``sort`` is
  ignored with ``q``.
- Nearby: a best-first search of the geohash quadtree on the caller's geo partition
  (``_nearest``), every Query with ``Limit = limit + 1``, then 1 BatchGet of the nearest
  ``limit``; its bound is stated in ``nearby``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import Unprocessable
from chalicelib.geo import distance_m
from chalicelib.models.base import BaseItem
from chalicelib.models.crm import MODELS, CrmObject, object_key
from chalicelib.models.feed import ADMIN_VIEWER
from chalicelib.models.lists import (
    ARCHIVED,
    LIVE,
    NAME_SEP,
    NAME_TOP,
    GeoEntry,
    ListEntry,
    geo_pk,
    list_pk,
    search_key,
)
from chalicelib.models.shards import index_count, pk_suffix
from chalicelib.services.access import context
from chalicelib.services.crm import crm, geocells
from chalicelib.services.crm.list_index import FILTER_FIELDS

SCOPES = ("mine", "team", "all")
SORTS = ("updated", "name")


def _scope(principal: Principal, *parts: Any) -> str:
    return "|".join([principal.tenant_id, principal.user_id, *(str(p) for p in parts)])


def _query(pk: str, by_name: bool, prefix: str, after: Optional[str], n: int) -> list[ListEntry]:
    """One request: ``n`` entries at most, strictly after ``after`` in the stream's order."""
    if not by_name:
        return ListEntry.newest_page(pk, after, n)
    lower = prefix or NAME_SEP
    if after is not None:
        lower = max(lower, after)
    results = ListEntry.gsi1.query(pk, ListEntry.GSI1SK.between(lower, prefix + NAME_TOP), limit=n + 1, page_size=n + 1)
    return [e for e in results if e.GSI1SK != after][:n]  # noqa: SIM300


def _filters(
    object_type: str, owner_id: Optional[str] = None, account_id: Optional[str] = None, stage: Optional[str] = None
) -> dict:
    given = {"owner_id": owner_id, "account_id": account_id, "stage": stage}
    filters = {k: v for k, v in given.items() if v}
    unsupported = sorted(set(filters) - set(FILTER_FIELDS[object_type]))
    if unsupported:
        raise Unprocessable(f"{object_type} lists cannot be filtered by {unsupported}", code="unsupported_filter")
    return filters


def _objects(tenant_id: str, refs: list[tuple[str, str]]) -> dict[str, CrmObject]:
    if not refs:
        return {}
    keys = [object_key(tenant_id, t, i) for t, i in dict.fromkeys(refs)]
    return {o.object_id: o for o in BaseItem.batch_get(keys, consistent_read=True) if isinstance(o, CrmObject)}


@dataclass(frozen=True)
class ListQuery:
    """Which of the caller's objects a list asks for: a type, a scene (``scope``), a name
    prefix (``q``), field filters, an order, and whether archived ones are included."""

    object_type: str
    scope: str = "all"
    q: Optional[str] = None
    filters: Optional[dict[str, Optional[str]]] = None
    sort: str = "updated"
    archived: bool = False


def list_page(
    principal: Principal, query: ListQuery, limit: int = 20, cursor: Optional[str] = None
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """One page of the caller's objects of a type, and the cursor of the next page."""
    object_type, scope, q, filters, sort, archived = (
        query.object_type,
        query.scope,
        query.q,
        query.filters,
        query.sort,
        query.archived,
    )
    if object_type not in MODELS or scope not in SCOPES or sort not in SORTS:
        raise ValueError((object_type, scope, sort))
    wanted = _filters(object_type, **(filters or {}))
    prefix = search_key(q or "")
    by_name = sort == "name" or bool(prefix)
    key = _scope(principal, "list", object_type, scope, sorted(wanted.items()), by_name, prefix, archived)
    position = cursors.decode(cursor, key) or {}
    viewer = ADMIN_VIEWER if scope == "all" and principal.is_admin else principal.user_id
    tenant = principal.tenant_id
    shards = index_count(context.of(principal).settings)
    states = (LIVE, ARCHIVED) if archived else (LIVE,)
    pks = {
        s + pk_suffix(n): list_pk(tenant, viewer, object_type, scope, s, wanted) + pk_suffix(n)
        for s in states
        for n in range(shards)
    }
    streams = {name: partial(_query, pk, by_name, prefix) for name, pk in pks.items()}
    sort_key = (lambda e: e.GSI1SK) if by_name else (lambda e: e.SK)
    merged = cursors.merge(streams, position, limit, sort_key, descending=not by_name)
    page = [e for _, e in merged.items]
    objects = _objects(tenant, [(e.object_type, e.object_id) for e in page])
    items = [crm.to_dict(objects[e.object_id]) for e in page if e.object_id in objects]
    return items, cursors.encode(merged.position, key) if merged.more else None


NEARBY_PAGE_EXTRA = 1  # a nearby Query's Limit is limit + this: a full cell holds more than the answer
MAX_NEARBY_QUERIES = 32  # the stated bound (see nearby); the benchmark checks it
SPLIT_LEVELS = 2  # a full cell is split 2 quadtree levels down (16 cells): half the levels of 4-way splits


def nearby(principal: Principal, lat: float, lng: float, radius_m: float, limit: int = 20) -> list[dict[str, Any]]:
    """Visible live accounts within ``radius_m``, nearest first, each with ``distance_m``
    (ties by id): exactly what sorting every entry within the radius would answer, from
    ``_nearest``'s bounded search, + 1 BatchGet of those accounts.

    Bound: at most ``MAX_NEARBY_QUERIES`` (32) Queries per index shard of the tenant (1 for
    a small tenant), each with ``Limit = limit + 1``, + 1 BatchGet, so items read <= 32 x
    (limit + 1) per shard + limit, whatever the tenant's size or density
    (bench/bench_lists.py measures it at 1k and 100k accounts clustered on the
    point). Why: a Query reads one cell and only cells that meet the circle of the
    limit-th nearest answer are read; a cell is split only when it holds more than the
    answer, 2 levels at a time, so the search goes down about one split per factor 16 of
    density (at most 15 splits to the 60-bit geohash) with a few cells per split. What can
    exceed it is a crowd, not a tenant: more than limit + 1 accounts within about a cell of
    the answer's circle at every level (say hundreds on one spot just beyond the limit-th
    nearest); that costs more Queries (still Limit-ed), never a wrong answer."""
    viewer = ADMIN_VIEWER if principal.is_admin else principal.user_id
    shards = index_count(context.of(principal).settings)
    nearest = _nearest([geo_pk(principal.tenant_id, viewer, s) for s in range(shards)], lat, lng, radius_m, limit)
    objects = _objects(principal.tenant_id, [("account", i) for i, _ in nearest])
    out: list[dict[str, Any]] = []
    for object_id, d in nearest:
        obj = objects.get(object_id)
        if obj is not None and obj.archived_at is None:
            out.append({**crm.to_dict(obj), "distance_m": round(d, 1)})
    return out


Pending = tuple[float, int, str, str, Optional[GeoEntry]]  # (distance, CELL | ENTRY | FINEST, bits | id, pk, after)
CELL, ENTRY, FINEST = 0, 1, 2  # at one distance: cells first, then entries, then a finest cell's rest


def _nearest(pks: list[str], lat: float, lng: float, radius_m: float, limit: int) -> list[tuple[str, float]]:
    """The ``limit`` entries nearest the point within ``radius_m``: a best-first search of
    the geohash quadtree (services/crm/geocells.py) from the cells covering the circle, in
    every index shard's partition (``pks``: one for a small tenant) at once: a cell is read
    per partition, and every entry of every partition waits in the one heap, so the
    nearest pending thing is the nearest of all of them.

    A heap holds cells keyed by their exact distance from the point (nothing in a cell is
    nearer) and the entries read so far keyed by theirs; a cell ties before an entry. The
    nearest pending thing is taken: an entry is then the next answer (every cell left is no
    nearer); a cell is read with one Query of ``Limit = limit + 1``. A cell that fills its
    Limit is split into its 16 sixteenths (``SPLIT_LEVELS``), less those already read whole (the Query reads in
    key order: the one holding the last entry read resumes after it): no entry is read
    twice. The search stops at ``limit`` answers or when everything left is beyond the radius.

    A crowd in one finest cell (a 12-character geohash, about 4 x 2 cm: hundreds of accounts
    on one spot) is not read through: the rest of such a cell counts as lying where its
    last entry read lies (``FINEST``: after the entries at that distance), so the answer
    comes from the first Query of it. Within that cell, the order is the key order (ids),
    not the centimetres between its entries; ``distance_m`` is answered to 0.1 m anyway.
    The cost is then bounded by ``limit``, never by a crowd (issue 24 item 6: 250 accounts
    on one spot cost 125 Queries for ``limit=1``).
    """
    page = limit + NEARBY_PAGE_EXTRA
    heap: list[Pending] = []

    def push(pk: str, bits: str, after: Optional[GeoEntry], at: Optional[float] = None) -> None:
        """A cell to read (after ``after``); ``at``: the rest of a finest cell, placed at its
        last entry's distance (see above)."""
        bound = geocells.min_distance_m(lat, lng, geocells.cell_box(bits))
        kind = CELL if at is None else FINEST
        bound = bound if at is None else max(bound, at)
        if bound <= radius_m:
            heapq.heappush(heap, (bound, kind, bits, pk, after))

    for cell in geocells.cover(lat, lng, radius_m):
        for pk in pks:
            push(pk, geocells.bits_of(cell), None)
    found: dict[str, float] = {}
    while heap and len(found) < limit:
        d, kind, name, pk, after = heapq.heappop(heap)
        if kind == ENTRY:
            found.setdefault(name, d)  # the nearest of an object's entries (one, unless stale)
            continue
        lo, hi = geocells.key_range(name)
        entries = GeoEntry.in_cell(pk, lo, hi, page, after)
        distance = 0.0
        for entry in entries:
            distance = distance_m((lat, lng), (float(entry.lat), float(entry.lng)))
            if distance <= radius_m:
                heapq.heappush(heap, (distance, ENTRY, entry.object_id, pk, None))
        if len(entries) == page:
            _resume(partial(push, pk), name, entries[-1], distance)
    return list(found.items())


def _resume(push: Any, bits: str, last: GeoEntry, last_distance: float) -> None:
    """The rest of a cell whose Query filled its Limit, ``last`` being the last entry read."""
    children = geocells.split(bits, SPLIT_LEVELS)
    if not children:  # the finest cell: read on after the last entry, after what is as near
        push(bits, last, last_distance)
    for child in children:
        lo, hi = geocells.key_range(child)
        reached = last.geohash[: len(lo)]
        if reached < lo:
            push(child, None)  # not read yet
        elif reached <= hi:
            push(child, last)  # read up to the last entry
