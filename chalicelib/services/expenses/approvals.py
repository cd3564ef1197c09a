"""The approvals queue, bulk decisions, and moving waiting approvals on a reporting change.

A submitted expense waits in exactly one queue: its current approver's (``ApprovalWait``,
GSI1, oldest first), written in the same transaction as every state change of the
expense. A reporting change of a user (new manager, or their manager deactivated) can
change the approver of two groups of waiting expenses only: the user's own (level 1 is
their manager, level 2 their manager's manager) and their direct reports' (whose level 2
is the user's manager). Both are found by a bounded key query (GSI2, waits grouped by the
submitter's manager), re-keyed one transaction each (the expense's ``approver_ids`` and
the wait, conditional on the expense's version), and the new approver gets the
``expense_approval_request`` message.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import AppError
from chalicelib.models.base import BaseItem, Cancelled, Tx
from chalicelib.models.expenses import ApprovalWait, Expense
from chalicelib.models.org import Delegation, User
from chalicelib.observability import count, logger
from chalicelib.services.access import context
from chalicelib.services.expenses import delegation, expenses
from chalicelib.services.org import org
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import Projection, Rebuild, Scope, reads
from chalicelib.timeutil import iso, utcnow

MAX_BULK = 50
REKEY_ATTEMPTS = 4
BOUNDARY_WINDOW = timedelta(hours=2)  # the sweep runs every 15 minutes: overlapping windows


@dataclass(frozen=True)
class Queue:
    """One kind of thing that waits on the approver chain: expenses (``EXPENSES``, below) or
    approval requests (services/collab/requests.py). Its subject has the expense's chain
    attributes (``tenant_id``, ``user_id``, ``status``, ``approvals``, ``approver_ids``,
    ``approval_levels``, ``expense_id``: its id, ``submitted_at``, ``version``); its waits
    are ``ApprovalWait``-shaped, in partitions of their own. The moves below (reporting
    changes, delegation) work on any ``Queue``, with the chain's own functions
    (``expenses.current_approvers_until``, ``expenses.wait_item``)."""

    load: Callable[[str, str], Any]  # (tenant, id) -> the subject, consistently read, or None
    model: Any  # the subject's model (its status condition)
    wait: type[ApprovalWait]
    ask: Callable[[Any, ApprovalWait], None]  # ask a wait's (new) approver
    effect: str  # the after-commit effect's name for the ask


# ---------------------------------------------------------------- the queue
def queue_page(principal: Principal, limit: int, cursor: Optional[str]) -> tuple[list[Expense], Optional[str]]:
    """Expenses waiting for the caller's decision (any level), oldest first: one Query of
    the caller's queue and one BatchGet of the expenses, whatever the tenant's size."""
    t = principal.tenant_id
    waits, next_cursor = queue_waits(ApprovalWait, principal, limit, cursor)
    found = {e.expense_id: e for e in Expense.batch_get([Expense.key_of(t, w.expense_id) for w in waits])}
    return [found[w.expense_id] for w in waits if w.expense_id in found], next_cursor


def queue_waits(
    kind: type[ApprovalWait], principal: Principal, limit: int, cursor: Optional[str]
) -> tuple[list[ApprovalWait], Optional[str]]:
    """One page of the caller's queue of ``kind`` (expense waits, or a ``Queue``'s), oldest
    first: one Query."""
    t = principal.tenant_id
    scope = f"approvals:{t}:{principal.user_id}" + ("" if kind is ApprovalWait else f":{kind.__name__}")
    start = cursors.decode(cursor, scope)
    result = kind.gsi1.query(
        kind.queue_pk(t, principal.user_id),
        scan_index_forward=True,
        limit=limit + 1,
        page_size=limit + 1,
        last_evaluated_key=start.get("k") if start else None,
    )
    now = iso(utcnow())
    waits = list(result)
    next_cursor = None
    if len(waits) > limit:
        waits = waits[:limit]
        last = waits[-1]
        next_cursor = cursors.encode({"k": last.start_key("GSI1")}, scope)
    # a wait keyed by a delegation that has since started or ended is not shown (the boundary
    # re-key moves it; the decision always resolves the current delegation)
    return [w for w in waits if w.valid_until is None or now < w.valid_until], next_cursor


# ---------------------------------------------------------------- bulk decisions
def _already_decided(principal: Principal, expense_id: str, action: str) -> bool:
    """A retried item: this caller's decision with this action is already recorded."""
    e = expenses.load(principal.tenant_id, expense_id)
    wanted = "approved" if action == "approve" else "rejected"
    return e is not None and any(
        a.get("approver_id") == principal.user_id and a.get("decision") == wanted for a in (e.approvals or [])
    )


def decide_one(principal: Principal, action: str, expense_id: str, note: Optional[str]) -> dict[str, Any]:
    try:
        if action == "approve":
            expenses.approve(principal, expense_id, note)
        else:
            expenses.reject(principal, expense_id, note or "")
        return {"expense_id": expense_id, "status": "ok"}
    except AppError as exc:
        if exc.status in (403, 409) and _already_decided(principal, expense_id, action):
            return {"expense_id": expense_id, "status": "ok"}
        return {"expense_id": expense_id, "status": "error", "error": {"code": exc.code, "message": exc.message}}


def bulk(principal: Principal, action: str, expense_ids: list[str], note: Optional[str]) -> list[dict[str, Any]]:
    """Each item is its own transaction: one refusal or conflict changes no other item. A
    repeated id or a retried request answers ``ok`` for what this caller already decided."""
    results = [decide_one(principal, action, expense_id, note) for expense_id in expense_ids]
    count("ApprovalsBulk")
    return results


# ---------------------------------------------------------------- reporting changes
def waits_affected_by(
    tenant_id: str, user_id: str, old_manager_id: Optional[str], queue: Optional[Queue] = None
) -> list[ApprovalWait]:
    """The waits whose approver may change when ``user_id``'s manager changes: their own
    and their direct reports' (two bounded key queries)."""
    kind = (queue or EXPENSES).wait
    waits: list[ApprovalWait] = []
    if old_manager_id:
        waits.extend(
            kind.gsi2.query(
                kind.under_pk(tenant_id, old_manager_id),
                kind.GSI2SK.startswith(kind.submitter_prefix(user_id)),
            )
        )
    waits.extend(kind.gsi2.query(kind.under_pk(tenant_id, user_id)))
    return waits


def _rekey(
    tenant_id: str,
    expense_id: str,
    users: dict[str, User],
    keyed: Optional[ApprovalWait] = None,
    queue: Optional[Queue] = None,
) -> Optional[tuple[Any, ApprovalWait]]:
    """Move one waiting expense (or other subject of ``queue``) to its approver in the
    current tree (delegations applied). Answers the subject and its new wait when it moved,
    None when nothing had to change (given the wait as ``keyed``, a changed validity alone
    rewrites it too)."""
    q = queue or EXPENSES
    for attempt in range(REKEY_ATTEMPTS):
        e = q.load(tenant_id, expense_id)
        if e is None or e.status != "submitted":
            return None
        submitter = users.get(e.user_id) or org.get_user(tenant_id, e.user_id)
        approvers, keying = expenses.current_approvers_until(e, submitter)
        wait = expenses.wait_item(e, approvers, keying, q.wait)
        if wait is None:
            _drop_orphan(e, approvers, q)
            return None
        same_wait = keyed is None or (keyed.approver_id, keyed.valid_until) == (wait.approver_id, wait.valid_until)
        if list(e.approver_ids or []) == approvers and same_wait:
            return None
        read_version = e.version
        e.approver_ids = approvers
        try:
            Tx().put("expense", e, q.model.status == "submitted").put("wait", wait).commit()
            return e, wait
        except Cancelled:
            e.version = read_version
            time.sleep(random.uniform(0.005, 0.02) * (2**attempt))
    logger.warning("approval re-key gave up after conflicts", extra={"expense_id": expense_id})
    return None


def _drop_orphan(e: Any, approvers: list[str], q: Queue) -> None:
    """Nobody in the current tree may decide the expense's next level (every candidate is
    its submitter, routes back to them, or decided another level): its wait leaves the
    queue it sits in (no holder may keep an entry they cannot decide); counted and logged
    so an administrator fixes the reporting line."""
    stale = q.wait.fetch(e.tenant_id, e.expense_id)
    if stale is None:
        return
    read_version = e.version
    e.approver_ids = approvers
    try:
        Tx().put("expense", e, q.model.status == "submitted").delete("wait", stale).commit()
    except Cancelled:
        e.version = read_version
        return  # a concurrent change re-keys it again
    count("ApprovalOrphaned")
    logger.warning("no approver left for a waiting expense", extra={"expense_id": e.expense_id})


def restore_wait(tenant_id: str, expense_id: str) -> int:
    """Backfill (services/flows/backfill.py): a submitted expense stored before the queue existed
    gets its wait, keyed as a re-key would (the approver in the current tree, delegations
    applied), in one transaction conditional on the expense's version and on no wait
    existing: a concurrent submit, decision or re-key wins, and a second run finds the
    wait and writes nothing. Answers 1 when it wrote a wait."""
    for attempt in range(REKEY_ATTEMPTS):
        e = expenses.load(tenant_id, expense_id)
        if e is None or e.status != "submitted" or ApprovalWait.fetch(tenant_id, expense_id) is not None:
            return 0
        approvers, keying = expenses.current_approvers_until(e)
        wait = expenses.wait_item(e, approvers, keying)
        if wait is None:
            return 0
        tx = Tx("wait.backfill").put("wait", wait, ApprovalWait.PK.does_not_exist())
        moved = list(e.approver_ids or []) != approvers
        read_version = e.version
        if moved:
            e.approver_ids = approvers
            tx.put("expense", e, Expense.status == "submitted")
        else:
            tx.check("expense", e, Expense.version == read_version)
        try:
            tx.commit()
        except Cancelled:
            e.version = read_version
            time.sleep(random.uniform(0.005, 0.02) * (2**attempt))
            continue
        if moved:
            settle("expense.approval_request", functools.partial(request_moved, e, wait), expense_id=e.expense_id)
        return 1
    logger.warning("approval backfill gave up after conflicts", extra={"expense_id": expense_id})
    return 0


def move_waiting(tenant_id: str, user_id: str, old_manager_id: Optional[str], queue: Optional[Queue] = None) -> int:
    """After ``user_id``'s manager changed (or their manager was deactivated): every
    affected waiting expense (or subject of ``queue``) moves to its approver in the current
    tree, who is asked."""
    q = queue or EXPENSES
    moved = 0
    users: dict[str, User] = {}
    for w in waits_affected_by(tenant_id, user_id, old_manager_id, q):
        result = _rekey(tenant_id, w.expense_id, users, queue=q)
        if result is None:
            continue
        e, wait = result
        moved += 1
        settle(q.effect, functools.partial(q.ask, e, wait), expense_id=e.expense_id)
    if moved:
        count("ApprovalsMoved", moved)
    return moved


def request_moved(e: Expense, wait: ApprovalWait) -> None:
    """The new approver's request message (deduplicated per approver and level)."""
    expenses.request_approval(e, wait.approver_id, int(wait.level))


EXPENSES = Queue(
    load=expenses.load, model=Expense, wait=ApprovalWait, ask=request_moved, effect="expense.approval_request"
)


# ---------------------------------------------------------------- delegation
def delegation_to_dict(d: Optional[Delegation]) -> Optional[dict[str, Any]]:
    """A delegation's API shape (None: none set)."""
    if d is None:
        return None
    return {"delegate_id": d.delegate_id, "from": d.date_from, "to": d.date_to, "active": d.active_at(iso(utcnow()))}


def get_delegation(principal: Principal) -> Optional[Delegation]:
    return delegation.get(principal.tenant_id, principal.user_id)


def set_delegation(
    principal: Principal, delegate_id: str, date_from: str, date_to: str, queues: tuple[Queue, ...] = ()
) -> Delegation:
    """PUT /v1/me/delegate: store it, then re-key what waits for the caller (or for the
    previous delegate on the caller's behalf) to whoever decides now, in the expense queue
    and each of ``queues``."""
    t = principal.tenant_id
    before = delegation.get(t, principal.user_id)
    d = delegation.put(t, principal.user_id, delegate_id, date_from, date_to, context.of(principal).zone)
    for q in (EXPENSES, *queues):
        move_for_delegation(t, {principal.user_id, d.delegate_id} | ({before.delegate_id} if before else set()), q)
    return d


def remove_delegation(principal: Principal, queues: tuple[Queue, ...] = ()) -> None:
    """DELETE /v1/me/delegate: the original approver decides again; waiting approvals move back."""
    t = principal.tenant_id
    before = delegation.delete(t, principal.user_id)
    if before is not None:
        for q in (EXPENSES, *queues):
            move_for_delegation(t, {principal.user_id, before.delegate_id}, q)


def move_for_delegation(tenant_id: str, queue_owners: set[str], queue: Optional[Queue] = None) -> int:
    """Re-key every wait in these users' queues (one bounded Query each, paged) to the
    approver resolved now; the new approver is asked (deduplicated per level)."""
    q = queue or EXPENSES
    moved = 0
    users: dict[str, User] = {}
    seen: set[str] = set()
    # a wait routed through one of them may sit at the end of their delegation chain
    owners = {who for owner in queue_owners for who in delegation.downstream(tenant_id, owner)}
    for owner in sorted(owners):
        for w in q.wait.gsi1.query(q.wait.queue_pk(tenant_id, owner)):
            if w.expense_id in seen or type(w) is not q.wait:
                continue
            seen.add(w.expense_id)
            result = _rekey(tenant_id, w.expense_id, users, keyed=w, queue=q)
            if result is None:
                continue
            e, wait = result
            moved += 1
            if wait.approver_id != w.approver_id:
                settle(q.effect, functools.partial(q.ask, e, wait), expense_id=e.expense_id)
    if moved:
        count("ApprovalsMoved", moved)
    return moved


def move_for_reactivation(tenant_id: str, user_id: str, queue: Optional[Queue] = None) -> int:
    """A user reactivated: what passed over them as an inactive delegate goes back to them.
    While a delegate is inactive, ``delegation.resolve`` stops at the delegator, so those
    waits sit in the queues of the users who delegate to them (one Query, GSI3) and of
    their delegation chains; each is re-keyed to whoever decides now (the contract: "between
    those dates the caller's approvals go to the delegate (also those already waiting)")."""
    owners = {user_id, *delegation.delegators(tenant_id, user_id)}
    return move_for_delegation(tenant_id, owners, queue)


def sweep_delegation_boundaries(
    now: Optional[datetime] = None, window: timedelta = BOUNDARY_WINDOW, queues: tuple[Queue, ...] = ()
) -> int:
    """Scheduled: the waits of every delegation that started or ended within ``window``
    move to whoever decides now (idempotent: a wait already right is not written), in
    the expense queue and in each of ``queues``."""
    until = now or utcnow()
    moved = 0
    for d in delegation.crossed(iso(until - window), iso(until)):
        try:
            for q in (EXPENSES, *queues):
                moved += move_for_delegation(d.tenant_id, {d.user_id, d.delegate_id}, q)
        except Exception:  # noqa: BLE001 - one tenant's trouble must not stop the others
            logger.exception("delegation boundary re-key failed", extra={"tenant_id": d.tenant_id})
    return moved


def _rebuild(scope: Scope, item: BaseItem) -> Optional[int]:
    if not isinstance(item, Expense) or item.status != "submitted":
        return None
    return restore_wait(scope.tenant_id, item.expense_id)


PROJECTION = Projection(
    name="approval_waits",
    reads=(reads("Expense", "User", "Delegation"),),
    kept="in_transaction",
    writes=("ApprovalWait",),
    rebuilds=(Rebuild("expenses", _rebuild, index="approvals"),),
    doc=(
        "the approvers' queue: a waiting expense's entry per current approver, "
        "written with each submit, decision and re-key"
    ),
)
