"""Approval delegation: a user names a delegate for tenant-local days ``from``..``to``.

Stored as one ``Delegation`` item per user (PUT replaces it, DELETE removes it). Who
decides is resolved from the current delegations at every decision and every re-key
(:func:`resolve`): follow the active delegations from the tree's approver, at most
``MAX_HOPS`` hops with a visited set (so A->B->A ends), never to a deactivated delegate. A
chain that reaches the submitter at any hop gives no decider (the level passes up to the
next manager): nobody picks their own approver by delegating onwards. A PUT that
would close a cycle among delegations that overlap it is refused (422 ``delegation_cycle``).
"""

from __future__ import annotations

from datetime import date
from typing import Optional
from zoneinfo import ZoneInfo

from pynamodb.exceptions import UpdateError

from chalicelib.errors import Unprocessable
from chalicelib.models.base import BaseItem, condition_failed
from chalicelib.models.org import DELEGATION_ENDS_PK, DELEGATION_STARTS_PK, Delegation, User
from chalicelib.services.org import org
from chalicelib.services.platform.projections import Projection, Rebuild, Scope, reads
from chalicelib.timeutil import format_date, iso, local_day_bounds, parse_date, utcnow

MAX_HOPS = 5
MAX_DAYS = 366


def get(tenant_id: str, user_id: str) -> Optional[Delegation]:
    return Delegation.fetch(tenant_id, user_id)


def _days(date_from: str, date_to: str) -> tuple[date, date]:
    start, end = parse_date(date_from, "from"), parse_date(date_to, "to")
    if end < start:
        raise Unprocessable("to must not be before from", code="invalid_range")
    if (end - start).days + 1 > MAX_DAYS:
        raise Unprocessable(f"a delegation lasts at most {MAX_DAYS} days", code="invalid_range")
    return start, end


def _overlaps(d: Delegation, other: Delegation) -> bool:
    return d.starts_at < other.ends_at and other.starts_at < d.ends_at


def _check_cycle(tenant_id: str, new: Delegation) -> None:
    """Refuse a delegation whose delegate's chain (among delegations overlapping it) comes back."""
    seen, current = {new.user_id}, new.delegate_id
    for _ in range(MAX_HOPS):
        if current in seen:
            raise Unprocessable("this delegation would make a delegation cycle", code="delegation_cycle")
        seen.add(current)
        nxt = get(tenant_id, current)
        if nxt is None or not _overlaps(new, nxt):
            return
        current = nxt.delegate_id


def put(
    tenant_id: str, user_id: str, delegate_id: str, date_from: str, date_to: str, zone: Optional[ZoneInfo] = None
) -> Delegation:
    """Validate and store (nothing is stored on a 4xx); days in the tenant's ``zone``."""
    start, end = _days(date_from, date_to)
    if delegate_id == user_id:
        raise Unprocessable("you cannot delegate to yourself", code="invalid_delegate")
    delegate = org.get_user(tenant_id, delegate_id)
    if delegate is None or not delegate.is_active:
        raise Unprocessable(f"delegate_id {delegate_id!r} is not an active user of the tenant", code="unknown_user")
    zone = zone or org.tenant_zone(tenant_id)
    starts_at, _ = local_day_bounds(start, zone)
    _, ends_at = local_day_bounds(end, zone)
    d = Delegation(
        tenant_id=tenant_id,
        user_id=user_id,
        delegate_id=delegate_id,
        date_from=format_date(start),
        date_to=format_date(end),
        starts_at=iso(starts_at),
        ends_at=iso(ends_at),
        created_at=iso(utcnow()),
    )
    d.set_keys()
    _check_cycle(tenant_id, d)
    d.save()
    return d


def delete(tenant_id: str, user_id: str) -> Optional[Delegation]:
    d = get(tenant_id, user_id)
    if d is not None:
        d.delete()
    return d


def resolve(
    tenant_id: str, approver_id: str, submitter_id: str, now: Optional[str] = None
) -> tuple[Optional[str], Optional[str]]:
    """Who decides for ``approver_id`` at ``now``, and until when that answer holds (the
    earliest start or end of a delegation consulted; None: no delegation changes it).
    None as the decider: the chain reaches the submitter at some hop (the level passes up;
    delegating onwards from the submitter must not let them choose who approves them)."""
    now = now or iso(utcnow())
    current, seen, until = approver_id, {approver_id}, None
    for _ in range(MAX_HOPS):
        d = get(tenant_id, current)
        if d is None or now >= d.ends_at:
            break
        if now < d.starts_at:
            until = min(until or d.starts_at, d.starts_at)
            break
        until = min(until or d.ends_at, d.ends_at)
        if d.delegate_id in seen:
            break  # a loop: the last one reached decides
        target = org.get_user(tenant_id, d.delegate_id)
        if target is None or not target.is_active:
            break  # a delegate deactivated since: the delegator keeps deciding
        seen.add(d.delegate_id)
        current = d.delegate_id
        if current == submitter_id:
            return None, until
    return (None if current == submitter_id else current), until


def downstream(tenant_id: str, user_id: str) -> list[str]:
    """``user_id`` and everyone its stored delegations lead to (any dates, ``MAX_HOPS``
    GetItems at most): the queues a wait routed through ``user_id`` may sit in."""
    chain, current = [user_id], user_id
    for _ in range(MAX_HOPS):
        d = get(tenant_id, current)
        if d is None or d.delegate_id in chain:
            break
        chain.append(d.delegate_id)
        current = d.delegate_id
    return chain


def delegators(tenant_id: str, delegate_id: str) -> list[str]:
    """Users whose stored delegation names ``delegate_id`` (any dates): one Query (GSI3)."""
    found = Delegation.gsi3.query(Delegation.delegators_pk(tenant_id, delegate_id))
    return sorted(d.user_id for d in found if isinstance(d, Delegation) and d.delegate_id == delegate_id)


def restore_keys(tenant_id: str, user_id: str) -> int:
    """Backfill: a delegation stored before the delegate index gets its keys (1 when written)."""
    d = get(tenant_id, user_id)
    if d is None or d.GSI3PK:
        return 0
    d.set_keys()
    try:  # only the delegation read (a PUT or DELETE meanwhile wins)
        d.update(
            actions=[Delegation.GSI3PK.set(d.GSI3PK), Delegation.GSI3SK.set(d.GSI3SK)],
            condition=Delegation.created_at == d.created_at,
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return 0
    return 1


def crossed(since: str, until: str) -> list[Delegation]:
    """Delegations (every tenant) that started or ended in ``(since, until]``: two bounded
    key queries on the boundary indexes."""
    lo, hi = Delegation.boundary_range(since, until)
    found = list(Delegation.gsi1.query(DELEGATION_STARTS_PK, Delegation.GSI1SK.between(lo, hi)))
    found += list(Delegation.gsi2.query(DELEGATION_ENDS_PK, Delegation.GSI2SK.between(lo, hi)))
    return [d for d in found if isinstance(d, Delegation)]


def _rebuild_keys(scope: Scope, item: BaseItem) -> Optional[int]:
    return restore_keys(scope.tenant_id, item.user_id) if isinstance(item, User) else None


PROJECTION = Projection(
    name="delegate_index",
    reads=(reads("Delegation"),),
    kept="in_transaction",
    writes=("Delegation.GSI3",),
    rebuilds=(Rebuild("profile", _rebuild_keys, index="delegations"),),
    doc="each delegation findable by its delegate (a reactivated delegate's waiting approvals come back)",
)
