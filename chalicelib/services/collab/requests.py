"""Approval requests (leave, business trip, discount, other) on the expense approver chain.

Nothing about who decides is written here: the levels (``expenses.levels_for``: above the
tenant's ``approval_limit`` the manager's manager too), who decides each level now, at
creation and at every decision (``expenses.current_approvers_until``: the reporting tree,
delegations, the chain's separation-of-duties rules), the wait in the approver's queue (``expenses.wait_item``)
and its moves on reporting changes and delegation (services/expenses/approvals.py, with
``REQUESTS`` as the ``Queue``) are the expense chain's own functions. A request is that
chain's subject: it has an expense's chain attributes (models/collab.py).

- Every state change is one transaction: the request (conditional on ``submitted`` and on
  the version read) with its wait (put, re-keyed or deleted) and, for an approved leave,
  its ``LeaveSpan``.
- Who sees one: the requester, their managers (any depth), its current approvers, admins;
  anyone else 404. Deciding: the current approver of the next level (else 403
  ``not_approver``); withdrawing: the requester (else 403 ``not_owner``). Not submitted: 409.
- Messages: ``approval_request`` to each level's approver (once per level),
  ``approval_result`` to the requester (once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Optional, cast

from chalicelib.auth import Principal
from chalicelib.currencies import require_currency
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, Cancelled, Tx
from chalicelib.models.collab import ApprovalRequest, RequestWait
from chalicelib.models.expenses import ApprovalWait, Expense
from chalicelib.services.access import context
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.collab import common, leave
from chalicelib.services.expenses import approvals, budgets, expenses, fx
from chalicelib.services.inbox import messages
from chalicelib.services.org import org
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import format_date, iso, parse_date, utcnow

DATED_KINDS = ("leave", "business_trip")
MAX_DAYS = 366


@dataclass(frozen=True)
class NewRequest:
    kind: str
    title: str
    details: str = ""
    from_date: Optional[str] = None
    to_date: Optional[str] = None
    amount: Optional[str] = None
    currency: Optional[str] = None
    related: Optional[list[dict[str, Any]]] = None


def _chain(req: ApprovalRequest) -> Expense:
    """The request as the approver chain's subject (it has an expense's chain attributes)."""
    return cast(Expense, req)


# ---------------------------------------------------------------- shape and reads
def to_dict(r: ApprovalRequest) -> dict[str, Any]:
    return {
        "id": r.request_id,
        "kind": r.kind,
        "title": r.title,
        "details": r.details or "",
        "from_date": r.from_date,
        "to_date": r.to_date,
        "amount": budgets.money(r.amount_cents),
        "currency": r.currency,
        "related": list(r.related or []),
        "requester_id": r.user_id,
        "status": r.status,
        "approvals": list(r.approvals or []),
        "approver_ids": list(r.approver_ids or []),
        "next_approver_id": expenses.next_approver(_chain(r)),
        "created_at": r.created_at,
        "updated_at": r.updated_at,
        "decided_at": r.decided_at,
    }


def load(tenant_id: str, request_id: str) -> Optional[ApprovalRequest]:
    return ApprovalRequest.fetch(tenant_id, request_id)


def _can_view(principal: Principal, r: ApprovalRequest, approvers: list[str]) -> bool:
    return principal.user_id in approvers or org.can_read_user_data(principal, r.user_id)


def get(principal: Principal, request_id: str) -> ApprovalRequest:
    r = load(principal.tenant_id, request_id)
    if r is None or not _can_view(principal, r, list(r.approver_ids or [])):
        raise NotFound("approval request not found")
    return r


# ---------------------------------------------------------------- create
def _dates(new: NewRequest) -> tuple[Optional[str], Optional[str]]:
    if new.kind in DATED_KINDS and not (new.from_date and new.to_date):
        raise Unprocessable(f"a {new.kind} request needs from_date and to_date", code="dates_required")
    if bool(new.from_date) != bool(new.to_date):
        raise Unprocessable("from_date and to_date go together", code="invalid_range")
    if not new.from_date or not new.to_date:
        return None, None
    start, end = parse_date(new.from_date, "from_date"), parse_date(new.to_date, "to_date")
    if end < start or (end - start).days + 1 > MAX_DAYS:
        raise Unprocessable(f"to_date must be from_date or later, at most {MAX_DAYS} days", code="invalid_range")
    return format_date(start), format_date(end)


def _amount(principal: Principal, new: NewRequest) -> tuple[Optional[int], Optional[str], Optional[Decimal]]:
    """(cents, currency, amount in the tenant currency for the levels)."""
    if new.amount is None:
        if new.currency is not None:
            raise Unprocessable("currency needs an amount", code="invalid_amount")
        return None, None, None
    cents = budgets.to_cents(new.amount)
    ctx = context.of(principal)
    base = ctx.settings.currency
    currency = require_currency(new.currency) or base  # the one list, as for expenses
    today = format_date(utcnow().astimezone(ctx.zone).date())
    converted = fx.convert(principal.tenant_id, base, Decimal(cents) / 100, currency, today)
    return cents, currency, converted.amount


def create(principal: Principal, new: NewRequest) -> ApprovalRequest:
    """POST /v1/approval-requests -> submitted, waiting for the requester's manager (and,
    above the approval limit, the manager's manager next)."""
    from_date, to_date = _dates(new)
    cents, currency, booked = _amount(principal, new)
    related = common.check_related(principal, new.related)
    now = iso(utcnow())
    r = ApprovalRequest(
        tenant_id=principal.tenant_id,
        request_id=new_id("apr"),
        user_id=principal.user_id,
        kind=new.kind,
        title=new.title,
        details=new.details or "",
        from_date=from_date,
        to_date=to_date,
        amount_cents=cents,
        currency=currency,
        related=related,
        status="submitted",
        approvals=[],
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    r.approval_levels = expenses.levels_for(context.of(principal).settings, booked)
    approvers, keying = expenses.current_approvers_until(_chain(r), org.caller_user(principal))
    if not approvers:
        raise Unprocessable("the requester has no manager to approve this request", code="no_approver")
    r.approver_ids, r.approval_levels = approvers, len(approvers)
    wait = expenses.wait_item(_chain(r), approvers, keying, RequestWait)
    tx = Tx("request.create").put("request", r, ApprovalRequest.PK.does_not_exist())
    if wait is not None:
        tx.put("wait", wait)
    tx.commit()
    settle("request.approval_request", functools.partial(_ask, r, approvers[0], 1), request_id=r.request_id)
    extra = {"request_id": r.request_id}
    resolver = context.of(principal).resolver  # the request's: its settings and what it read
    settle("request.activity", lambda: common.record(resolver, "approval", r.user_id, r.title, r, extra))
    return r


# ---------------------------------------------------------------- messages
def _ask(r: ApprovalRequest, approver: str, level: int) -> None:
    messages.send(
        messages.NewMessage(
            r.tenant_id,
            approver,
            "approval_request",
            f"To approve ({r.kind.replace('_', ' ')}): {r.title}",
            _summary(r),
            ref_type="approval_request",
            ref_id=r.request_id,
            dedupe_key=f"approval_request:{r.request_id}:approval:{level}",
        )
    )


def _summary(r: ApprovalRequest) -> str:
    parts = [f"From {r.user_id}"]
    if r.from_date:
        parts.append(f"{r.from_date} to {r.to_date}")
    if r.amount_cents is not None:
        parts.append(f"{budgets.money(r.amount_cents)} {r.currency}")
    return ", ".join(parts) + (f". {r.details}" if r.details else "")


def ask_moved(subject: Any, wait: ApprovalWait) -> None:
    """A moved request's new approver is asked (once per level)."""
    _ask(subject, wait.approver_id, int(wait.level))


def _tell_result(r: ApprovalRequest, note: Optional[str]) -> None:
    messages.send(
        messages.NewMessage(
            r.tenant_id,
            r.user_id,
            "approval_result",
            f"Request {r.status}: {r.title}",
            note or "",
            ref_type="approval_request",
            ref_id=r.request_id,
            dedupe_key=f"approval_request:{r.request_id}:result",
        )
    )


REQUESTS = approvals.Queue(
    load=load, model=ApprovalRequest, wait=RequestWait, ask=ask_moved, effect="request.approval_request"
)


# ---------------------------------------------------------------- decisions
def _require_approver(principal: Principal, request_id: str) -> tuple[ApprovalRequest, Any]:
    """The request, if the caller decides its next level now (the chain read from the
    current tree and delegations); its ``approver_ids`` brought up to date."""
    r = load(principal.tenant_id, request_id)
    if r is None:
        raise NotFound("approval request not found")
    approvers, keying = expenses.current_approvers_until(_chain(r)) if r.status == "submitted" else ([], None)
    if not _can_view(principal, r, approvers or list(r.approver_ids or [])):
        raise NotFound("approval request not found")
    if r.status != "submitted":
        raise Conflict(f"the request is {r.status}", code="invalid_state")
    level = expenses.approved_levels(_chain(r))
    if level >= len(approvers):
        raise Conflict("the requester has no manager at this level to approve", code="no_approver")
    if approvers[level] != principal.user_id:
        raise Forbidden("you are not the current approver of this request", code="not_approver")
    r.approver_ids = approvers
    return r, keying


def decide(principal: Principal, request_id: str, approve: bool, note: Optional[str]) -> ApprovalRequest:
    """POST .../approve (``approve``) or .../reject: one transaction."""
    r, keying = _require_approver(principal, request_id)
    level = expenses.approved_levels(_chain(r)) + 1
    now = iso(utcnow())
    decision = "approved" if approve else "rejected"
    entry = {"level": level, "approver_id": principal.user_id, "decision": decision, "comment": note, "at": now}
    r.approvals = [*(r.approvals or []), entry]
    r.updated_at = now
    final = not approve or level >= len(r.approver_ids or [])
    if final:
        r.status, r.decided_at = decision, now
    wait = None if final else expenses.wait_item(_chain(r), list(r.approver_ids), keying, RequestWait)
    tx = Tx("request.decide").put("request", r, ApprovalRequest.status == "submitted")
    if wait is not None:
        tx.put("wait", wait)
    else:
        tx.delete("wait", _wait_key(r))
    if r.status == "approved" and r.kind == "leave" and r.from_date:
        tx.put("leave", leave.span_of(r))
    _commit(tx, r)
    if final:
        settle("request.result", functools.partial(_tell_result, r, note), request_id=r.request_id)
    else:
        ask = functools.partial(_ask, r, expenses.next_approver(_chain(r)) or "", level + 1)
        settle("request.approval_request", ask, request_id=r.request_id)
    return r


def withdraw(principal: Principal, request_id: str) -> ApprovalRequest:
    """POST .../withdraw: the requester, while it is submitted."""
    r = get(principal, request_id)
    if r.user_id != principal.user_id:
        raise Forbidden("only the requester withdraws a request", code="not_owner")
    if r.status != "submitted":
        raise Conflict(f"the request is {r.status}", code="invalid_state")
    r.status = "withdrawn"
    r.updated_at = r.decided_at = iso(utcnow())
    tx = Tx("request.withdraw").put("request", r, ApprovalRequest.status == "submitted").delete("wait", _wait_key(r))
    _commit(tx, r)
    return r


def _wait_key(r: ApprovalRequest) -> RequestWait:
    key = RequestWait(tenant_id=r.tenant_id, expense_id=r.request_id)
    key.PK, key.SK = RequestWait.key_of(r.tenant_id, r.request_id)
    return key


def _commit(tx: Tx, r: ApprovalRequest) -> None:
    try:
        tx.commit()
    except Cancelled as exc:
        if exc.failed:
            raise Conflict("the request changed meanwhile; reload and retry", code="version_conflict") from None
        raise


def redrive(old: Optional[ApprovalRequest], new: ApprovalRequest) -> None:
    """The request's stream record: ask its next approver (new, a level approved, or moved)
    or tell the requester the result; its activity (all idempotent)."""
    current = load(new.tenant_id, new.request_id)
    if current is None:
        return
    if old is None:
        extra = {"request_id": new.request_id}
        common.record(Resolver(new.tenant_id), "approval", new.user_id, new.title, new, extra)
    if current.status == "submitted" and current.version == new.version:
        approver = expenses.next_approver(_chain(current))
        if approver:
            _ask(current, approver, expenses.approved_levels(_chain(current)) + 1)
    elif new.status in ("approved", "rejected") and new.approvals:
        _tell_result(new, new.approvals[-1].get("comment"))


# ---------------------------------------------------------------- lists
def list_page(
    principal: Principal, role: str, status: Optional[str], limit: int, cursor: Optional[str]
) -> tuple[list[ApprovalRequest], Optional[str]]:
    """``mine``: the caller's requests, newest first (1 Query; by status: its own index).
    ``waiting``: those waiting for the caller's decision, oldest first (1 Query + 1 BatchGet)."""
    t = principal.tenant_id
    if role == "waiting":
        if status not in (None, "submitted"):
            return [], None
        waits, next_cursor = approvals.queue_waits(RequestWait, principal, limit, cursor)
        keys = [ApprovalRequest.key_of(t, w.expense_id) for w in waits]
        found = {r.request_id: r for r in BaseItem.batch_get(keys) if isinstance(r, ApprovalRequest)} if keys else {}
        return [found[w.expense_id] for w in waits if w.expense_id in found], next_cursor
    index, name = (ApprovalRequest.gsi2, "GSI2") if status else (ApprovalRequest.gsi1, "GSI1")
    scope = ":".join(("approval-requests", t, principal.user_id, role, status or "all"))
    partition = ApprovalRequest.mine_pk(t, principal.user_id, status)
    return common.page_of(index, partition, None, (limit, cursor, scope), newest=True, index=name)
