"""``GET /v1/sync``: the first sync of a caller's whole range, then every change after a
position of their change log (services/sync/changelog.py), resolved from current state.

The ``next`` cursor is signed for the caller (chalicelib/cursor.py) and holds, per type,
the viewer it was issued for and either the first sync's progress (the type being read
and where, plus the log position the first sync started from) or the log position
reached. A ``since`` that does not verify for this caller, that was issued for other
types or another viewer (an admin's range is the tenant's), or whose position is older
than ``RETENTION_DAYS`` is 410 ``resync_required``.

Requests per page, whatever the tenant's size: first sync: one Query per type read on
that page (at most 6) + 1 BatchGet per 100 objects; incremental: one Query per type asked
for (at most 6) + 1 BatchGet per 100 objects + 1 BatchGet per 100 CRM objects (their
whole-range list entries: is the object still in the caller's range?).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from chalicelib import cursor
from chalicelib.auth import Principal
from chalicelib.errors import AppError, Gone
from chalicelib.models.base import BaseItem
from chalicelib.models.shards import index_count
from chalicelib.models.sync import RETENTION_DAYS, SyncChange, position_at, position_time
from chalicelib.services.access import context
from chalicelib.services.sync import changelog, sources
from chalicelib.services.sync.sources import TYPES, Source, source_of
from chalicelib.timeutil import utcnow

DEFAULT_LIMIT, MAX_LIMIT = 200, 500
RESYNC = "resync_required"


@dataclass(frozen=True)
class Ask:
    principal: Principal
    types: tuple[str, ...]
    limit: int
    now: datetime


def _scope(principal: Principal) -> str:
    return f"sync|{principal.tenant_id}|{principal.user_id}"


def _viewers(ask: Ask) -> dict[str, str]:
    out = {}
    for t in ask.types:
        source = source_of(t)
        out[t] = source.viewer(ask.principal) if source is not None else ask.principal.user_id
    return out


def _gone(message: str) -> Gone:
    return Gone(f"{message}: start again without since", code=RESYNC)


def _decode(ask: Ask, since: str) -> dict[str, Any]:
    """The cursor's state, or 410 ``resync_required``."""
    try:
        state = cursor.decode(since, _scope(ask.principal)) or {}
    except AppError:
        raise _gone("since was not issued to this user") from None
    if state.get("t") != ",".join(ask.types) or state.get("v") != _range_viewer(ask):
        raise _gone("since was issued for other types or another range")
    if state.get("m") == "i":
        state["p"] = _unpack(ask, state.get("p"))
    positions = [state.get("s")] if state.get("m") == "s" else list(state["p"].values())
    oldest = ask.now - timedelta(days=RETENTION_DAYS)
    for position in positions:
        moment = position_time(position) if isinstance(position, str) else None
        if moment is None:
            raise _gone("since is not a sync position")
        if moment < oldest:
            raise _gone(f"since is older than {RETENTION_DAYS} days")
    if state.get("m") == "s" and not (isinstance(state.get("k"), int) and 0 <= state["k"] <= len(ask.types)):
        raise _gone("since is not a sync position")
    return state


def _range_viewer(ask: Ask) -> str:
    """Whose CRM range the cursor follows (an admin's is the tenant's): other types follow
    the caller."""
    return sources.CrmSource("account").viewer(ask.principal)


def _unpack(ask: Ask, packed: Any) -> dict[str, Any]:
    """Per-type positions: one string when they are all equal, else a list in type order."""
    if isinstance(packed, str):
        return dict.fromkeys(ask.types, packed)
    if isinstance(packed, list) and len(packed) == len(ask.types):
        return dict(zip(ask.types, packed, strict=True))
    raise _gone("since is not a sync position")


def _encode(ask: Ask, state: dict[str, Any]) -> str:
    if state.get("m") == "i":
        values = [state["p"][t] for t in ask.types]
        state = {**state, "p": values[0] if len(set(values)) == 1 else values}
    token = cursor.encode({**state, "t": ",".join(ask.types), "v": _range_viewer(ask)}, _scope(ask.principal))
    assert token is not None
    return token


def _change(type_name: str, object_id: str, item: Optional[BaseItem], source: Source, visible: bool) -> dict:
    if item is not None and visible:
        return {"type": type_name, "id": object_id, "op": "upsert", "object": source.shape(item)}
    return {"type": type_name, "id": object_id, "op": "remove", "object": None}


def _read(keys: list[tuple[str, str]]) -> dict[tuple[str, str], BaseItem]:
    """Items by key: 1 BatchGet per 100 keys (none when there are none)."""
    if not keys:
        return {}
    return {(i.PK, i.SK): i for i in BaseItem.batch_get(list(dict.fromkeys(keys)), consistent_read=True)}


def _proven(viewers: dict[str, str], found: dict[tuple[str, str], BaseItem], shards: int) -> set[tuple[str, str]]:
    """The (type, id) of ``found`` that their viewer lists now: the whole-range list entry of
    the object's current revision exists (1 BatchGet per 100), or, when that revision is
    not indexed yet, the object's index state is settled and holds an entry of the viewer's
    (1 BatchGet per 100 of those, none in the usual case)."""
    proofs, settle = {}, {}
    for ref, item in found.items():
        source = source_of(ref[0])
        key = source.proof_key(viewers[ref[0]], item, shards) if source is not None else None
        if key is not None:
            proofs[ref] = key
    present = _read(list(proofs.values()))
    proven = {ref for ref, key in proofs.items() if key in present}
    for ref in proofs.keys() - proven:
        source = source_of(ref[0])
        key = source.state_key(found[ref]) if source is not None else None
        if key is not None:
            settle[ref] = key
    states = _read(list(settle.values()))
    for ref, key in settle.items():
        source = source_of(ref[0])
        if source is not None and key in states and source.state_proves(viewers[ref[0]], states[key]):
            proven.add(ref)
    return proven


def _resolve(ask: Ask, refs: list[tuple[str, str]], viewers: dict[str, str], prove: bool) -> list[dict[str, Any]]:
    """Each (type, id) as an upsert of its current state or a remove: 1 BatchGet per 100
    objects, and (``prove``) what ``_proven`` reads."""
    tenant = ask.principal.tenant_id
    keys = {ref: s.object_key(tenant, ref[1]) for ref in dict.fromkeys(refs) if (s := source_of(ref[0])) is not None}
    items = _read(list(keys.values()))
    found = {ref: items[key] for ref, key in keys.items() if key in items}
    proven = _proven(viewers, found, index_count(context.of(ask.principal).settings)) if prove else set(found)
    out = []
    for ref in keys:
        source, item = source_of(ref[0]), found.get(ref)
        assert source is not None
        visible = item is not None and source.visible(viewers[ref[0]], item, ref in proven)
        out.append(_change(ref[0], ref[1], item, source, visible))
    return out


def _first_sync(ask: Ask, state: dict[str, Any]) -> dict[str, Any]:
    """A page of the whole range, type after type; when done, ``next`` continues from the
    log position taken when the first sync began (has_more: go on at once)."""
    viewers, tenant = _viewers(ask), ask.principal.tenant_id
    shards = index_count(context.of(ask.principal).settings)
    k, after, remaining = int(state["k"]), state.get("a"), ask.limit
    refs: list[tuple[str, str]] = []
    while remaining > 0 and k < len(ask.types):
        source = source_of(ask.types[k])
        ids, after = source.snapshot(tenant, viewers[ask.types[k]], after, remaining, shards) if source else ([], None)
        refs += [(ask.types[k], i) for i in ids]
        remaining -= len(ids)
        if after is None:
            k += 1
    changes = [c for c in _resolve(ask, refs, viewers, prove=False) if c["op"] == "upsert"]
    following: dict[str, Any]
    if k >= len(ask.types):
        following = {"m": "i", "p": dict.fromkeys(ask.types, state["s"])}
    else:
        following = {"m": "s", "s": state["s"], "k": k, "a": after}
    return {"changes": changes, "next": _encode(ask, following), "has_more": True}


def _incremental(ask: Ask, state: dict[str, Any]) -> dict[str, Any]:
    """Every type's log after its position, up to the horizon, merged in write order."""
    viewers, tenant = _viewers(ask), ask.principal.tenant_id
    upto = position_at(ask.now - timedelta(seconds=changelog.SAFE_LAG_S))
    positions: dict[str, str] = dict(state["p"])
    fetched: list[tuple[str, str, SyncChange]] = []
    for t in ask.types:
        source = source_of(t)
        if source is None or positions[t] >= upto:
            continue
        for entry in SyncChange.after(tenant, viewers[t], source.kind, positions[t], upto, ask.limit + 1):
            fetched.append((entry.SK, t, entry))
    fetched.sort(key=lambda f: (f[0], f[1]))
    page = fetched[: ask.limit]
    for sort_key, t, _ in page:
        positions[t] = sort_key
    if len(fetched) <= ask.limit:  # every type read to the horizon
        positions = {t: max(p, upto) for t, p in positions.items()}
    refs = [(t, e.object_id) for _, t, e in reversed(page)]  # an object's last change decides its place
    changes = list(reversed(_resolve(ask, list(dict.fromkeys(refs)), viewers, prove=True)))
    return {"changes": changes, "next": _encode(ask, {"m": "i", "p": positions}), "has_more": len(fetched) > ask.limit}


def sync_page(
    principal: Principal,
    types: Optional[tuple[str, ...]] = None,
    since: Optional[str] = None,
    limit: int = DEFAULT_LIMIT,
    now: Optional[datetime] = None,
) -> dict[str, Any]:
    """One page of ``{changes, next, has_more}`` (see the module docstring)."""
    wanted = set(types or TYPES)
    # one order; one context (the tenant's settings: the index shards, read once if at all)
    ask = Ask(context.of(principal), tuple(t for t in TYPES if t in wanted), limit, now or utcnow())
    if since is None:
        start = position_at(ask.now - timedelta(seconds=changelog.SAFE_LAG_S))
        return _first_sync(ask, {"m": "s", "s": start, "k": 0, "a": None})
    state = _decode(ask, since)
    return _first_sync(ask, state) if state.get("m") == "s" else _incremental(ask, state)
