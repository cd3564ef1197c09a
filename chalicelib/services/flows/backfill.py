"""Backfill of the write-time indexes for data stored before they existed (run once per
tenant after deploying the release that added them; see README "Upgrading").

The read side navigates by entries written with each item: list, search and geo entries of
CRM objects (services/crm/list_index.py), directory rows of users (services/org/org.py), the
approvals-queue entry of a waiting expense (services/expenses/approvals.py), the team-day row of a
sign-in (services/fieldwork/signins.py), project memberships, pipeline statistics
(services/performance/oppstats.py) and the digest's registry, check-in days and opportunity pulses
(services/performance/digest.py), the delegate index of a delegation (who delegates to a
user: their reactivation pulls back what passed over them), and the feed audience of each expense's activity (narrowed
to the expense's readers by issue 24: one indexed before keeps its wider audience until
re-indexed here). Items stored by an earlier release have none. This walks a tenant's
items with bounded, key-condition Queries only (no Scan): the tenant's users (the
reporting index, one user per Query), then per user the objects they own, their sign-ins
and their expenses (GSI1, ``page_size`` items per Query), then the tenant's projects; and
writes what is missing by calling the functions the write paths and the stream consumer
call, never a copy of their logic. Each of them recomputes from the item as stored now and
is idempotent (conditional on the version read, ``ADD`` to a set, or guarded by the
index's own state), so a second run, a run beside live writes, or a run resumed after a
crash leaves exactly one correct entry per item; a deleted or archived object is never
put back in a live list.

What runs on each item comes from the projection registry (services/flows/projections.py):
every projection's ``Rebuild`` of the walk the item came from (``profile``, ``objects``,
``signins``, ``expenses``, ``projects``), in the registry's order; ``written`` counts
entries under each rebuild's ``index``.

A run processes steps (one page each) until the time left is under ``SAFETY_MS`` and
answers a cursor (``done: false``) to continue from; an unreadable item is skipped,
logged and counted (``BadItemSkipped``), never fatal. A storage failure ends the run with
the cursor of the step that failed (re-running it is harmless). Not backfilled: the goal
actuals (services/performance/actuals.py count stream deltas; counting old items again beside live
deltas would count twice). Objects owned by an id that is no user are not reached.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib.auth import ID_RE
from chalicelib.errors import Unprocessable
from chalicelib.models.base import BaseItem, item_of, raw_page, resume_key
from chalicelib.models.crm import owned_pk
from chalicelib.models.expenses import Expense
from chalicelib.models.org import Project, User
from chalicelib.models.signins import SignIn
from chalicelib.observability import count, is_corrupt_item, logger, skip_bad_item
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.org import org
from chalicelib.services.performance import digest
from chalicelib.services.platform.projections import Scope

PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
MAX_SEGMENTS = 64
SAFETY_MS = 10_000  # stop while a page (at most PAGE_SIZE items, each a few requests) fits
USER_KINDS = ("profile", "objects", "signins", "expenses")


@dataclass
class Progress:
    written: Counter[str] = field(default_factory=Counter)  # index -> entries written
    visited: int = 0
    skipped: int = 0


@dataclass
class Context:
    tenant_id: str
    zone: ZoneInfo
    page_size: int
    progress: Progress = field(default_factory=Progress)


# ---------------------------------------------------------------- one item
def _rebuild(ctx: Context, scope: Scope, walk: str, item: BaseItem) -> None:
    """Every projection's rebuild of this walk (the registry's order), for one item."""
    for rebuild in REGISTRY.rebuilds(walk):
        written = rebuild.apply(scope, item)
        if written is not None and rebuild.index:
            ctx.progress.written[rebuild.index] += written


def _each(ctx: Context, raws: list[dict[str, Any]], handle: Callable[[BaseItem], None], kind: str) -> None:
    """Hand each item to ``handle``; an unreadable one is skipped and counted."""
    for raw in raws:
        ctx.progress.visited += 1
        try:
            handle(item_of(raw))
        except Exception as exc:
            if not is_corrupt_item(exc):
                raise
            ctx.progress.skipped += 1
            key = f"{(raw.get('PK') or {}).get('S')}|{(raw.get('SK') or {}).get('S')}"
            skip_bad_item(f"backfill.{kind}", exc, tenant_id=ctx.tenant_id, key=key)


# ---------------------------------------------------------------- steps
def _user_kind_page(ctx: Context, kind: str, user_id: str, start: Optional[dict[str, Any]]) -> Optional[dict]:
    """One page of a user's objects, sign-ins or expenses; answers where the next starts."""
    t, size = ctx.tenant_id, ctx.page_size
    scope = Scope(t, ctx.zone)
    if kind == "objects":
        raws, last = raw_page(owned_pk(t, user_id), "GSI1", start, size)
        scope = Scope(t, ctx.zone, Resolver(t))
    elif kind == "signins":
        raws, last = raw_page(SignIn.user_pk(t, user_id), "GSI1", start, size)
    else:
        raws, last = raw_page(Expense.by_user_pk(t, user_id), "GSI1", start, size)
        scope = Scope(t, ctx.zone, Resolver(t))  # expense activities' audiences
    _each(ctx, raws, lambda item: _rebuild(ctx, scope, kind, item), kind)
    return last


def _user_step(ctx: Context, position: dict[str, Any]) -> dict[str, Any]:
    """One step of the current user (the first after ``u``): their profile, or one page of
    one kind of their items. Answers the next position."""
    users, _ = raw_page(User.reports_pk(ctx.tenant_id), "GSI1", position.get("u"), 1)
    if not users:
        return {"phase": "projects"}
    raw = users[0]
    kind_index = int(position.get("k", 0))
    next_user = {"phase": "users", "u": resume_key(raw, "GSI1")}
    user_id = (raw.get("user_id") or {}).get("S")
    if kind_index == 0 or not user_id:
        _each(ctx, [raw], lambda item: _rebuild(ctx, Scope(ctx.tenant_id, ctx.zone), "profile", item), "profile")
        return {**position, "k": 1} if user_id else next_user
    last = _user_kind_page(ctx, USER_KINDS[kind_index], user_id, position.get("i"))
    if last:
        return {**position, "k": kind_index, "i": last}
    if kind_index + 1 < len(USER_KINDS):
        return {"phase": "users", "u": position.get("u"), "k": kind_index + 1}
    return next_user


def step(ctx: Context, position: dict[str, Any]) -> Optional[dict[str, Any]]:
    """One page of work from ``position``; answers the next position (None: done)."""
    if position.get("phase") != "projects":
        return _user_step(ctx, position)
    raws, last = raw_page(Project.tenant_pk(ctx.tenant_id), "GSI1", position.get("i"), ctx.page_size)
    _each(ctx, raws, lambda item: _rebuild(ctx, Scope(ctx.tenant_id, ctx.zone), "projects", item), "projects")
    return {"phase": "projects", "i": last} if last else None


# ---------------------------------------------------------------- cursor and run
def encode_cursor(tenant_id: str, position: Optional[dict[str, Any]]) -> Optional[str]:
    if position is None:
        return None
    raw = json.dumps({"t": tenant_id, "p": position}, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_cursor(tenant_id: str, cursor: Optional[str]) -> dict[str, Any]:
    """The position a cursor names (the start when none); 422 for another tenant's or junk."""
    if not cursor:
        return {"phase": "users"}
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if body["t"] == tenant_id and isinstance(body["p"], dict):
            return dict(body["p"])
    except (ValueError, TypeError, KeyError):
        pass
    raise Unprocessable("cursor is not a backfill cursor of this tenant", code="invalid_cursor")


def run(
    tenant_id: str,
    cursor: Optional[str] = None,
    remaining_ms: Callable[[], int] = lambda: 900_000,
    page_size: int = PAGE_SIZE,
    max_steps: Optional[int] = None,
) -> dict[str, Any]:
    """Backfill one tenant from ``cursor`` until done or out of time (``remaining_ms`` is the
    Lambda context's ``get_remaining_time_in_millis``); ``max_steps`` bounds the run too.
    Answers ``{done, cursor, written: {index: n}, visited, skipped}``."""
    position: Optional[dict[str, Any]] = decode_cursor(tenant_id, cursor)
    ctx = Context(tenant_id, org.tenant_zone(tenant_id), page_size)
    steps, error = 0, None
    while position is not None and remaining_ms() > SAFETY_MS and (max_steps is None or steps < max_steps):
        try:
            position = step(ctx, position)
        except Exception as exc:  # noqa: BLE001 - a storage fault: answer where to resume
            logger.exception("backfill step failed", extra={"tenant_id": tenant_id, "position": position})
            error = f"{type(exc).__name__}: {exc}"[:300]
            break
        steps += 1
    return _report(ctx, position, steps, error)


def _report(ctx: Context, position: Optional[dict[str, Any]], steps: int, error: Optional[str]) -> dict[str, Any]:
    p = ctx.progress
    written = sum(p.written.values())
    count("BackfillEntriesWritten", written)
    count("BackfillItemsVisited", p.visited)
    result = {
        "tenant_id": ctx.tenant_id,
        "done": position is None,
        "cursor": encode_cursor(ctx.tenant_id, position),
        "written": dict(sorted(p.written.items())),
        "visited": p.visited,
        "skipped": p.skipped,
        "steps": steps,
        **({"error": error} if error else {}),
    }
    logger.info("backfill run", extra={k: v for k, v in result.items() if k != "cursor"})
    return result


# ---------------------------------------------------------------- every tenant
def discover(
    segment: int, total_segments: int, cursor: Optional[str] = None, remaining_ms: Callable[[], int] = lambda: 900_000
) -> dict[str, Any]:
    """Stage 1 of "every tenant": register in the tenant registry every tenant that has
    users, from one segment of a parallel Scan (``page_size`` x 4 items per request). A
    Scan because tenants stored before the registry existed are in no index a Query can
    read; run once, one invocation per segment (in parallel), before :func:`run_all`."""
    scope = f"~discover#{segment}#{total_segments}"
    start: Optional[dict[str, Any]] = decode_cursor(scope, cursor).get("k") if cursor else None
    found: set[str] = set()
    while remaining_ms() > SAFETY_MS:
        tenants, start = User.tenants_scanned(segment, total_segments, start, PAGE_SIZE * 4)
        for tenant_id in tenants - found:
            digest.register_tenant(tenant_id)
        found |= tenants
        if not start:
            break
    result = {"done": not start, "cursor": encode_cursor(scope, {"k": start}) if start else None}
    logger.info("backfill tenant discovery", extra={"segment": segment, "tenants": len(found), **result})
    return {**result, "tenants_found": len(found)}


def run_all(cursor: Optional[str] = None, remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
    """Stage 2 of "every tenant": :func:`run` for each tenant of the registry in turn, the
    cursor naming the tenant and its position. Answers the per-tenant reports of this run."""
    position = decode_cursor("~all", cursor) if cursor else {}
    reports: list[dict[str, Any]] = []
    while remaining_ms() > SAFETY_MS:
        nxt = digest.next_tenant(position.get("tk"))
        if nxt is None:
            return {"done": True, "cursor": None, "tenants": reports}
        tenant_id, resume = nxt
        report = run(tenant_id, position.get("tc"), remaining_ms)
        reports.append(report)
        if not report["done"]:
            position = {"tk": position.get("tk"), "tc": report["cursor"]}
            return {"done": False, "cursor": encode_cursor("~all", position), "tenants": reports}
        position = {"tk": resume}
    return {"done": False, "cursor": encode_cursor("~all", position), "tenants": reports}


# ---------------------------------------------------------------- the admin's event
def _tenant_id(value: Any) -> str:
    if not isinstance(value, str) or not ID_RE.match(value):
        raise Unprocessable("tenant_id is not a tenant id", code="invalid_event")
    return value


def _segments(event: dict[str, Any]) -> tuple[int, int]:
    segment, total = event.get("segment", 0), event.get("total_segments", 1)
    if not (isinstance(segment, int) and isinstance(total, int) and 0 <= segment < total <= MAX_SEGMENTS):
        raise Unprocessable(f"need 0 <= segment < total_segments <= {MAX_SEGMENTS}", code="invalid_event")
    return segment, total


def handle_event(event: Any, remaining_ms: Callable[[], int]) -> dict[str, Any]:
    """The Lambda's event: ``{"tenant_id": "acme"}`` (one tenant), ``{"discover_tenants":
    true, "segment": 0, "total_segments": 4}`` then ``{"all_tenants": true}`` (every
    tenant), each with the ``cursor`` the previous answer gave while ``done`` is false."""
    if not isinstance(event, dict):
        raise Unprocessable("the event is a JSON object", code="invalid_event")
    cursor = event.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise Unprocessable("cursor is a string", code="invalid_event")
    if event.get("discover_tenants") is True:
        return discover(*_segments(event), cursor, remaining_ms)
    if event.get("all_tenants") is True:
        return run_all(cursor, remaining_ms)
    page_size = event.get("page_size", PAGE_SIZE)
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Unprocessable(f"page_size is 1..{MAX_PAGE_SIZE}", code="invalid_event")
    return run(_tenant_id(event.get("tenant_id")), cursor, remaining_ms, page_size)
