"""Expenses: draft, edit, submit, approve, reject, and the finance system's payment state.

Every state change is one DynamoDB transaction carrying the expense (conditional on its
state and on the version that was read: optimistic locking), the unit's budget usage
(conditional on room in ``block`` mode) and the statistics aggregates, with a client
request token per attempt, so an SDK retry of the call cannot apply it twice. Replaying a
transition is safe because the expense's state and version conditions refuse it.

Approval: the submitter's manager approves; above the tenant's ``approval_limit`` the
manager's manager approves as well (level 2). The number of levels is fixed at
submission; who approves is read from the current reporting tree at each decision, and a
waiting expense sits in its current approver's queue (``ApprovalWait``, written in the
same transactions; services/expenses/approvals.py moves it on a reporting change).
Someone who may see the expense but is not its current approver gets 403; anyone else 404.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Optional, Sequence

from pynamodb.exceptions import PutError

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import BudgetExceeded, Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import Cancelled, Tx, condition_failed
from chalicelib.models.expenses import ApprovalWait, Expense, ReceiptClaim
from chalicelib.models.org import TenantSettings
from chalicelib.models.webhooks import InboundReceipt
from chalicelib.observability import count
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.expenses import budgets, delegation, fx, money, stats
from chalicelib.services.feed import activities
from chalicelib.services.inbox import messages
from chalicelib.services.integrations import webhooks
from chalicelib.services.org import org
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import format_date, iso, parse_date, parse_month, stated, utcnow

MAX_RECEIPTS = 10
MAX_TX_ATTEMPTS = 5
EDITABLE = (
    "amount",
    "currency",
    "category",
    "occurred_on",
    "description",
    "unit",
    "opportunity_id",
    "receipt_upload_ids",
)


# ---------------------------------------------------------------- output
def to_dict(e: Expense) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": e.expense_id,
        "user_id": e.user_id,
        "amount": budgets.money(e.amount_cents),
        "currency": e.currency,
        "converted": _converted(e),
        "category": e.category,
        "occurred_on": e.occurred_on,
        "description": e.description or "",
        "unit": {"type": e.unit_type, "id": e.unit_id},
        "opportunity_id": e.opportunity_id,
        "stage": e.stage,
        "receipt_upload_ids": list(e.receipt_upload_ids or []),
        "status": e.status,
        "payment_status": e.payment_status,
        "approvals": list(e.approvals or []),
        "approver_ids": list(e.approver_ids or []),
        "next_approver_id": next_approver(e),
        "warnings": list(e.warnings or []),
        "paid_at": e.paid_at,
        "payment_reference": e.payment_reference,
        "version": int(e.version or 0),
        "created_at": e.created_at,
        "updated_at": e.updated_at,
        "submitted_at": e.submitted_at,
        "decided_at": e.decided_at,
        "mileage": e.mileage,
    }
    return out


def next_approver(e: Expense) -> Optional[str]:
    if e.status != "submitted":
        return None
    level = len([a for a in (e.approvals or []) if a.get("decision") == "approved"])
    approvers = list(e.approver_ids or [])
    return approvers[level] if level < len(approvers) else None


# ---------------------------------------------------------------- references (services/access/refs.py)
def _check_refs(principal: Principal, opportunity_id: Optional[str], receipt_ids: list[str]) -> refs.Found:
    """The opportunity in the caller's range, the receipts the caller's own (one BatchGet)."""
    found = refs.check(
        principal, objects=[("opportunity", opportunity_id)], uploads=[(u, "receipt") for u in receipt_ids]
    )
    for upload_id in receipt_ids:
        if found.uploads[upload_id].status == "rejected":
            raise Unprocessable(f"receipt upload {upload_id!r} was rejected", code="receipt_rejected")
    return found


def _check_receipts(tenant_id: str, user_id: str, upload_ids: list[str]) -> dict[str, Any]:
    """The submitter's receipts as they are now (at submission)."""
    if not upload_ids:
        return {}
    return _check_refs(Principal(user_id, tenant_id, frozenset()), None, upload_ids).uploads


def _stage(found: refs.Found, opportunity_id: Optional[str]) -> Optional[str]:
    return getattr(found.obj("opportunity", opportunity_id), "stage", None)


def record_activity(e: Expense, resolver: Optional[Resolver] = None) -> None:
    """The submitted expense's feed activity (idempotent: its id follows the expense's);
    ``resolver``: the submit request's visibility loader."""
    new = activities.NewActivity(
        e.tenant_id,
        "expense",
        e.user_id,
        f"{e.category}: {budgets.money(e.amount_cents)} {e.currency}"
        + (f" - {e.description}" if e.description else ""),
        [("opportunity", e.opportunity_id)] if e.opportunity_id else [],
        occurred_at=e.submitted_at,
        extra={"expense_id": e.expense_id, "amount": budgets.money(e.amount_cents), "currency": e.currency},
        activity_id=e.activity_id,
    )
    activities.record_activity(new, resolver)


# ---------------------------------------------------------------- reads
def load(tenant_id: str, expense_id: str, consistent: bool = True) -> Optional[Expense]:
    return Expense.fetch(tenant_id, expense_id, consistent_read=consistent)


def can_view(principal: Principal, e: Expense) -> bool:
    return (
        principal.is_finance
        or e.user_id == principal.user_id
        or principal.user_id in (e.approver_ids or [])
        or org.can_read_user_data(principal, e.user_id)
    )


def require_visible(principal: Principal, expense_id: str) -> Expense:
    e = load(principal.tenant_id, expense_id)
    if e is None or not can_view(principal, e):
        raise NotFound("expense not found")
    return e


def require_own(principal: Principal, expense_id: str) -> Expense:
    e = require_visible(principal, expense_id)
    if e.user_id != principal.user_id:
        raise Forbidden("only the submitter may change this expense", code="not_owner")
    return e


# ---------------------------------------------------------------- create / edit
def _positive_cents(amount: str) -> int:
    try:
        cents = budgets.to_cents(Decimal(amount))
    except InvalidOperation:
        raise Unprocessable("amount must be a decimal string", code="invalid_amount") from None
    if cents <= 0:
        raise Unprocessable("amount must be greater than zero", code="invalid_amount")
    return cents


def new_draft(principal: Principal, fields: dict[str, Any], by_claim: bool = False) -> Expense:
    """A validated draft, not yet stored (the money rules: services/expenses/money.py)."""
    ctx = context.of(principal)
    tenant = ctx.tenant_id
    money.require_fields(ctx.zone, fields, by_claim=by_claim)
    unit = fields["unit"]
    budgets.require_chargeable(principal, unit["type"], unit["id"])
    receipts = list(dict.fromkeys(fields.get("receipt_upload_ids") or []))
    opportunity_id = fields.get("opportunity_id")
    found = _check_refs(principal, opportunity_id, receipts)
    now = iso(utcnow())
    e = Expense(
        tenant_id=tenant,
        expense_id=new_id("exp"),
        user_id=principal.user_id,
        amount_cents=_positive_cents(fields["amount"]),
        currency=fields.get("currency") or ctx.settings.currency,
        category=fields["category"],
        occurred_on=format_date(parse_date(fields["occurred_on"], "occurred_on")),
        description=fields.get("description") or "",
        unit_type=unit["type"],
        unit_id=unit["id"],
        opportunity_id=opportunity_id,
        stage=_stage(found, opportunity_id),
        receipt_upload_ids=receipts,
        status="draft",
        payment_status="unpaid",
        approvals=[],
        warnings=[],
        created_at=now,
        updated_at=now,
    )
    return e


def create(principal: Principal, fields: dict[str, Any]) -> Expense:
    e = new_draft(principal, fields)
    e.save(condition=Expense.PK.does_not_exist())
    count("ExpenseCreated")
    return e


def update_draft(principal: Principal, expense_id: str, changes: dict[str, Any]) -> Expense:
    e = require_own(principal, expense_id)
    if e.status != "draft":
        raise Conflict(f"only drafts can be edited; this expense is {e.status}", code="invalid_state")
    money.require_fields(context.of(principal).zone, changes, e.mileage)
    if "unit" in changes:
        budgets.require_chargeable(principal, changes["unit"]["type"], changes["unit"]["id"])
        e.unit_type, e.unit_id = changes["unit"]["type"], changes["unit"]["id"]
    receipts = list(dict.fromkeys(changes.get("receipt_upload_ids") or []))
    found = _check_refs(principal, changes.get("opportunity_id"), receipts)
    if "amount" in changes:
        e.amount_cents = _positive_cents(changes["amount"])
    if changes.get("occurred_on") is not None:
        parse_date(changes["occurred_on"], "occurred_on")
    for name in ("currency", "category", "occurred_on", "description"):
        if name in changes and changes[name] is not None:
            setattr(e, name, changes[name])
    if "opportunity_id" in changes:
        e.opportunity_id = changes["opportunity_id"]
        e.stage = _stage(found, e.opportunity_id)
    if "receipt_upload_ids" in changes:
        e.receipt_upload_ids = receipts
    e.updated_at = iso(utcnow())
    try:
        e.save(condition=Expense.status == "draft")  # plus the version it was read at
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict("the expense changed meanwhile; reload and retry", code="version_conflict") from None
        raise
    return e


# ---------------------------------------------------------------- transitions
def _commit(e: Expense, action: str, build: Any) -> set[str]:
    """Run ``build(tx)`` as one transaction; retry transaction conflicts with jitter.
    Answers the set of failed condition labels ({} on success)."""
    for attempt in range(MAX_TX_ATTEMPTS):
        tx = Tx()
        build(tx)
        try:
            tx.commit()
            return set()
        except Cancelled as exc:
            if exc.failed:
                return exc.failed
            if not exc.conflict:
                raise
            time.sleep(random.uniform(0.005, 0.02) * (2**attempt))
    raise ServiceUnavailable("the expense is busy, retry shortly", code="retry_later")


def _stale(e: Expense, wanted_status: str) -> Conflict:
    fresh = load(e.tenant_id, e.expense_id)
    if fresh is not None and fresh.status != wanted_status:
        return Conflict(f"the expense is {fresh.status}", code="invalid_state")
    return Conflict("the expense changed meanwhile; reload and retry", code="version_conflict")


def _converted(e: Expense) -> Optional[dict[str, Any]]:
    if e.converted_cents is None:
        return None
    return {
        "amount": budgets.money(e.converted_cents),
        "currency": e.converted_currency,
        "rate": e.converted_rate,
        "rate_date": e.converted_rate_date,
    }


def _convert(e: Expense, tenant_settings: TenantSettings) -> None:
    """Fix the amount in the tenant currency at the rate for ``occurred_on`` (the latest on
    or before it; 1 Query, none in the tenant currency). No rate: 422 ``no_exchange_rate``."""
    base = tenant_settings.currency
    converted = fx.convert(e.tenant_id, base, Decimal(e.amount_cents) / 100, e.currency, e.occurred_on)
    e.converted_cents = budgets.to_cents(converted.amount)
    e.converted_currency, e.converted_rate, e.converted_rate_date = base, converted.rate, converted.rate_date


def _approvers(e: Expense, ctx: context.RequestContext) -> tuple[list[str], Keying]:
    """At submission by its submitter (``ctx``): the levels from the amount, each one's
    approver now (delegations applied)."""
    submitter = ctx.caller
    limit = ctx.settings.approval_limit
    two_levels = limit is not None and Decimal(e.booked_cents) / 100 > Decimal(limit)
    approvers, keying = approver_chain(e.tenant_id, e.user_id, submitter, 2 if two_levels else 1)
    if not approvers:
        raise Unprocessable("the submitter has no manager to approve this expense", code="no_approver")
    return approvers, keying


@dataclass(frozen=True)
class Keying:
    """How a wait is keyed beside its approver: the submitter's manager in the tree (the
    reorg index, whoever decides) and, per level, until when its approver holds."""

    manager_id: Optional[str] = None
    untils: tuple[Optional[str], ...] = ()


def approver_chain(
    tenant_id: str, submitter_id: str, submitter: Any, levels: int, decided: Sequence[str] = ()
) -> tuple[list[str], Keying]:
    """WHO MAY APPROVE, the one rule (expenses, and any other request that uses the expense
    approver chain): the approver of each of ``levels`` levels now, and until when each
    answer holds. ``decided`` are the people who approved the levels already decided, in
    order: they keep those levels. Each open level k is decided by the first manager in
    the submitter's reporting line from k levels up, through that manager's active
    delegations (services/expenses/delegation.py::resolve), who is
    - never the submitter, nor anyone whose delegation chain passes through the submitter
      (the level passes to the next manager up: nobody picks their own approver), and
    - never someone who decided (or is to decide) another level of the same request.
    A deactivated delegate is passed over (their delegator decides); reactivated within the
    delegation's dates they decide again, also what already waits (the contract's "also
    those already waiting": ``approvals.move_for_reactivation`` re-keys those waits by
    this rule). Fewer approvers than levels: nobody is left to decide the rest (no wait is kept)."""
    ancestors: list[str] = list(getattr(submitter, "ancestors", None) or [])
    approvers, untils = list(decided), [None] * len(decided)  # type: list[str], list[Optional[str]]
    now = iso(utcnow())
    for level in range(len(decided), levels):
        for candidate in ancestors[level:]:
            who, until = delegation.resolve(tenant_id, candidate, submitter_id, now)
            if who is not None and who != submitter_id and who not in approvers:
                approvers.append(who)
                untils.append(until)
                break
        else:
            break
    return approvers, Keying(ancestors[0] if ancestors else None, tuple(untils))


def approval_levels(e: Expense) -> int:
    return int(e.approval_levels) if e.approval_levels else max(1, len(e.approver_ids or []))


def approved_levels(e: Expense) -> int:
    return len(deciders(e))


def deciders(e: Expense) -> list[str]:
    """Who approved the levels decided so far, in order."""
    return [str(a.get("approver_id")) for a in (e.approvals or []) if a.get("decision") == "approved"]


def current_approvers(e: Expense, submitter: Any = None) -> list[str]:
    """The approvers of each level from the reporting tree as it is now (one GetItem
    unless the submitter is given): the manager, then the manager's manager."""
    return current_approvers_until(e, submitter)[0]


def current_approvers_until(e: Expense, submitter: Any = None) -> tuple[list[str], Keying]:
    """:func:`current_approvers` with the delegations applied, and each level's validity:
    the levels already approved keep their deciders (:func:`approver_chain`)."""
    submitter = submitter or org.get_user(e.tenant_id, e.user_id)
    return approver_chain(e.tenant_id, e.user_id, submitter, approval_levels(e), deciders(e))


def wait_item(
    e: Expense, approvers: list[str], keying: Optional[Keying] = None, kind: type[ApprovalWait] = ApprovalWait
) -> Optional[ApprovalWait]:
    """The queue entry of a submitted expense at its next level (None when none is left);
    ``kind``: the queue's wait (services/expenses/approvals.py ``Queue``)."""
    level = approved_levels(e)
    if e.status != "submitted" or level >= len(approvers):
        return None
    wait = kind(
        tenant_id=e.tenant_id,
        expense_id=e.expense_id,
        submitter_id=e.user_id,
        manager_id=(keying.manager_id if keying else None) or approvers[0],
        approver_id=approvers[level],
        level=level + 1,
        submitted_at=e.submitted_at or e.updated_at,
        valid_until=keying.untils[level] if keying and level < len(keying.untils) else None,
    )
    wait.set_keys()
    return wait


def _wait_key(e: Expense) -> ApprovalWait:
    key = ApprovalWait(tenant_id=e.tenant_id, expense_id=e.expense_id)
    key.PK, key.SK = ApprovalWait.key_of(e.tenant_id, e.expense_id)
    return key


def levels_for(tenant_settings: TenantSettings, amount: Optional[Decimal]) -> int:
    """Approval levels for an amount in the tenant currency: the manager, and above the
    tenant's ``approval_limit`` the manager's manager too (approval requests share it)."""
    limit = tenant_settings.approval_limit
    return 2 if amount is not None and limit is not None and amount > Decimal(limit) else 1


def _receipt_warnings(e: Expense) -> tuple[list[str], list[ReceiptClaim]]:
    """Claims for this expense's receipt files; ``duplicate_receipt`` when another expense
    (or this one twice) already uses the same file."""
    if not e.receipt_upload_ids:
        return [], []
    found = _check_receipts(e.tenant_id, e.user_id, list(e.receipt_upload_ids))
    hashes = [found[u].sha256 for u in e.receipt_upload_ids if getattr(found.get(u), "sha256", None)]
    duplicate = len(set(hashes)) < len(hashes)
    claims = []
    for upload_id in e.receipt_upload_ids:
        sha = getattr(found.get(upload_id), "sha256", None)
        if not sha:
            continue
        others = [
            c for c in ReceiptClaim.query(ReceiptClaim.pk(e.tenant_id, sha), limit=5) if c.expense_id != e.expense_id
        ]
        duplicate = duplicate or bool(others)
        claims.append(ReceiptClaim(tenant_id=e.tenant_id, sha256=sha, expense_id=e.expense_id, upload_id=upload_id))
    e.receipt_hashes = sorted(set(hashes))
    return (["duplicate_receipt"] if duplicate else []), claims


def submit(principal: Principal, expense_id: str) -> Expense:
    ctx = context.of(principal)  # caller, settings, visibility: each read once (services/access/context.py)
    e = require_own(ctx, expense_id)
    if e.status != "draft":
        raise Conflict(f"only drafts can be submitted; this expense is {e.status}", code="invalid_state")
    budgets.require_chargeable(ctx, e.unit_type, e.unit_id)  # the org may have changed since the draft
    money.require_submittable(ctx.zone, e.currency, e.occurred_on)
    _convert(e, ctx.settings)
    approvers, keying = _approvers(e, ctx)
    receipt_warnings, claims = _receipt_warnings(e)
    amount = e.booked_cents
    usage = budgets.usage_item(e.tenant_id, e.unit_type, e.unit_id, e.period)
    now = iso(utcnow())
    read_version = e.version
    e.status, e.submitted_at, e.updated_at = "submitted", now, now
    e.approver_ids, e.approvals, e.approval_levels = approvers, [], len(approvers)
    wait = wait_item(e, approvers, keying)
    warnings = [w for w in (e.warnings or []) if w not in ("duplicate_receipt", "budget_exceeded")] + receipt_warnings
    shards = org.aggregate_shards(e.tenant_id, ctx.settings)

    def build(enforce: bool) -> Any:
        def fill(tx: Tx) -> None:
            e.version = read_version
            e.warnings = warnings + ([] if enforce else ["budget_exceeded"])
            tx.put("expense", e, Expense.status == "draft")
            tx.update(
                "budget",
                usage,
                budgets.usage_actions(usage, reserved=amount, available=-amount, mark_due=True),
                budgets.reserve_condition(amount, e.booked_currency, enforce),
            )
            for item, actions in stats.aggregate_updates(e, +1, shards):
                tx.update("stats", item, actions)
            for claim in claims:
                tx.put("claim", claim)
            if wait is not None:
                tx.put("wait", wait)

        return fill

    failed = _commit(e, "submit", build(enforce=True))
    if "budget" in failed and "expense" not in failed:
        budget = budgets.load(e.tenant_id, e.unit_type, e.unit_id, e.period)
        if budget is not None and budget.currency and budget.currency != e.booked_currency:
            e.version = read_version
            raise Unprocessable(f"the {e.period} budget of this unit is in {budget.currency}", code="currency_mismatch")
        if budget is not None and budget.mode == "warn":
            failed = _commit(e, "submit-warn", build(enforce=False))
            if "budget" in failed and "expense" not in failed:  # currency changed meanwhile
                raise Conflict("the budget changed meanwhile; retry", code="budget_changed")
        else:
            e.version = read_version
            count("ExpenseBudgetBlocked")
            raise BudgetExceeded("this expense would take the unit over its budget for the month")
    if "expense" in failed:
        raise _stale(e, "draft")
    count("ExpenseSubmitted")
    _after_submit(e, ctx.resolver)
    return e


def _after_submit(e: Expense, resolver: Resolver) -> None:
    """After the submit commit: each effect is settled (services/platform/aftercommit.py); the alert
    check is re-driven by the budget's due marker, the rest by the expense's stream MODIFY."""
    context = {"expense_id": e.expense_id}
    settle("budget.alerts", lambda: budgets.check_alerts(e.tenant_id, e.unit_type, e.unit_id, e.period), **context)
    approver = next_approver(e)
    if approver:
        settle("expense.approval_request", lambda: _request_approval(e, approver, 1), **context)
    settle("expense.activity", lambda: record_activity(e, resolver), **context)


def _request_approval(e: Expense, approver: str, level: int) -> None:
    messages.send(
        messages.NewMessage(
            e.tenant_id,
            approver,
            "expense_approval_request",
            f"Expense to approve: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
            f"From {e.user_id}, {e.occurred_on}. {e.description or ''}".strip(),
            ref_type="expense",
            ref_id=e.expense_id,
            dedupe_key=f"expense:{e.expense_id}:approval:{level}",
        )
    )


def request_approval(e: Expense, approver: str, level: int) -> None:
    """Ask ``approver`` to decide ``level`` (deduplicated in their inbox per expense and level)."""
    _request_approval(e, approver, level)


def _require_approver(principal: Principal, expense_id: str) -> tuple[Expense, Keying]:
    """The expense, if the caller is its approver at its next level in the current tree
    (delegations applied); its ``approver_ids`` are brought up to date with that tree
    (written by the decision). Also answers how long each level's approver holds."""
    e = load(principal.tenant_id, expense_id)
    if e is None:
        raise NotFound("expense not found")
    approvers, keying = current_approvers_until(e) if e.status == "submitted" else ([], Keying())
    if principal.user_id in approvers:
        e.approver_ids = approvers  # a delegate the queue has not been re-keyed to yet
    if not can_view(principal, e):
        raise NotFound("expense not found")
    if e.status != "submitted":
        raise Conflict(f"the expense is {e.status}", code="invalid_state")
    level = approved_levels(e)
    if level >= len(approvers):
        raise Conflict("the submitter has no manager at this level to approve", code="no_approver")
    if approvers[level] != principal.user_id:
        raise Forbidden("you are not the current approver of this expense", code="not_approver")
    e.approver_ids = approvers
    return e, keying


def approve(principal: Principal, expense_id: str, comment: Optional[str]) -> Expense:
    e, keying = _require_approver(principal, expense_id)
    level = len([a for a in e.approvals if a.get("decision") == "approved"]) + 1
    now = iso(utcnow())
    e.approvals = list(e.approvals) + [
        {"level": level, "approver_id": principal.user_id, "decision": "approved", "comment": comment, "at": now}
    ]
    e.updated_at = now
    final = level >= len(e.approver_ids or [])
    outbox = None
    if final:
        e.status, e.decided_at = "approved", now
        outbox = webhooks.outbox_entry(
            e.tenant_id, "expense.approved", to_dict(e), webhooks.stable_id("expense.approved", e.expense_id)
        )
    usage = budgets.usage_item(e.tenant_id, e.unit_type, e.unit_id, e.period)
    amount = e.booked_cents
    read_version = e.version

    wait = None if final else wait_item(e, list(e.approver_ids), keying)

    def fill(tx: Tx) -> None:
        e.version = read_version
        tx.put("expense", e, Expense.status == "submitted")
        if wait is not None:
            tx.put("wait", wait)
        else:
            tx.delete("wait", _wait_key(e))
        if final:
            tx.update("budget", usage, budgets.usage_actions(usage, reserved=-amount, spent=amount))
            tx.put("outbox", outbox)

    if _commit(e, "approve", fill):
        raise _stale(e, "submitted")
    count("ExpenseApproved" if final else "ExpenseLevelApproved")
    context = {"expense_id": e.expense_id}
    if final:
        assert outbox is not None
        settle("webhook.flush", lambda: webhooks.flush(outbox), **context)  # else the outbox sweep
        settle("expense.result", lambda: _notify_result(e, "approved", comment), **context)
    else:
        settle("expense.approval_request", lambda: _request_approval(e, next_approver(e) or "", level + 1), **context)
    return e


def reject(principal: Principal, expense_id: str, reason: str) -> Expense:
    e, _ = _require_approver(principal, expense_id)
    level = len([a for a in e.approvals if a.get("decision") == "approved"]) + 1
    now = iso(utcnow())
    e.approvals = list(e.approvals) + [
        {"level": level, "approver_id": principal.user_id, "decision": "rejected", "comment": reason, "at": now}
    ]
    e.status, e.decided_at, e.updated_at = "rejected", now, now
    usage = budgets.usage_item(e.tenant_id, e.unit_type, e.unit_id, e.period)
    amount = e.booked_cents
    read_version = e.version
    shards = org.aggregate_shards(e.tenant_id)

    def fill(tx: Tx) -> None:
        e.version = read_version
        tx.put("expense", e, Expense.status == "submitted")
        tx.delete("wait", _wait_key(e))
        tx.update("budget", usage, budgets.usage_actions(usage, reserved=-amount, available=amount))
        for item, actions in stats.aggregate_updates(e, -1, shards):
            tx.update("stats", item, actions)

    if _commit(e, "reject", fill):
        raise _stale(e, "submitted")
    count("ExpenseRejected")
    settle("expense.result", lambda: _notify_result(e, "rejected", reason), expense_id=e.expense_id)
    return e


def redrive(old: Expense, new: Expense) -> None:
    """The expense's stream MODIFY: do again what its transition asks (every message is
    deduplicated by key, so after a success this sends nothing)."""
    if old.status == "draft" and new.status == "submitted":
        current = load(new.tenant_id, new.expense_id)
        if current is not None and current.status == "submitted" and not current.approvals:
            approver = next_approver(current)
            if approver:
                _request_approval(current, approver, 1)
        record_activity(new)
    elif old.status == "submitted" and new.status == "submitted" and len(new.approvals) > len(old.approvals):
        current = load(new.tenant_id, new.expense_id)
        if current is not None and current.status == "submitted" and len(current.approvals) == len(new.approvals):
            _request_approval(current, next_approver(current) or "", len(current.approvals) + 1)
    elif (
        old.status == new.status == "submitted"
        and len(new.approvals) == len(old.approvals)
        and next_approver(new) != next_approver(old)
    ):  # moved by a reporting change (services/expenses/approvals.py): ask the new approver
        current = load(new.tenant_id, new.expense_id)
        if current is not None and current.status == "submitted" and next_approver(current) == next_approver(new):
            _request_approval(current, next_approver(current) or "", len(current.approvals) + 1)
    elif old.status == "submitted" and new.status in ("approved", "rejected") and new.approvals:
        _notify_result(new, new.status, new.approvals[-1].get("comment"))


def _notify_result(e: Expense, outcome: str, note: Optional[str]) -> None:
    messages.send(
        messages.NewMessage(
            e.tenant_id,
            e.user_id,
            "expense_result",
            f"Expense {outcome}: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
            note or "",
            ref_type="expense",
            ref_id=e.expense_id,
            dedupe_key=f"expense:{e.expense_id}:result",
        )
    )


# ---------------------------------------------------------------- payment (finance webhook)
def apply_payment_update(
    tenant_id: str, webhook_id: str, event: Any, digest: Optional[str] = None, stated_at: Optional[str] = None
) -> bool | str:
    """``expense.payment_updated`` with its receipt in one transaction. False for a
    webhook-id already applied. The submitter's ``expense_paid`` message is deduplicated
    by webhook-id, and re-sent on a duplicate, so a crash between the two cannot lose it.
    The same webhook-id with another event (``digest``) is 422 before anything is sent.
    Latest wins by the event's own time (``stated_at``: the body's ``timestamp``, never
    ahead of our clock; else its arrival): an event older than the one applied (delivered
    out of order, e.g. a retried ``failed`` after a later ``paid``) is recorded and answered
    ``stale``, and changes nothing, notifies nobody."""
    if event.status not in ("paid", "failed"):
        raise Unprocessable("status must be paid or failed", code="invalid_payment_status")
    stamp = stated_at or iso(utcnow())
    for attempt in range(MAX_TX_ATTEMPTS):
        e = load(tenant_id, event.expense_id) if _valid_id(event.expense_id) else None
        if webhooks.already_received(tenant_id, webhook_id, digest):
            if e is not None and not _superseded(e, stamp):
                _settle_paid(e, webhook_id)
            return False
        if e is None:
            raise Unprocessable(f"expense {event.expense_id!r} not found", code="unknown_expense")
        if e.status != "approved":
            raise Conflict(f"only approved expenses are paid; this one is {e.status}", code="invalid_state")
        read_version = e.version
        stale = _superseded(e, stamp)
        ref = None if stale else e.expense_id  # a stale receipt re-drives no message (flows/redrive.py)
        rec = webhooks.receipt(tenant_id, webhook_id, "expense.payment_updated", ref_id=ref, digest=digest)
        tx = Tx().put("receipt", rec, InboundReceipt.PK.does_not_exist())
        if stale:
            tx.check("expense", e, Expense.version == read_version)
        else:
            _set_payment(e, event, stamp)
            tx.put("expense", e, Expense.status == "approved")
        try:
            tx.commit()
        except Cancelled as exc:
            e.version = read_version
            if "receipt" in exc.failed:
                webhooks.already_received(tenant_id, webhook_id, digest)  # another event under this id: 422
                if not stale:
                    _settle_paid(e, webhook_id)
                return False
            time.sleep(random.uniform(0.005, 0.02) * (2**attempt))
            continue
        if stale:
            count("PaymentUpdateStale")
            return webhooks.STALE
        # after the commit: the receipt's stream INSERT re-drives the message
        _settle_paid(e, webhook_id)
        return True
    raise ServiceUnavailable("the expense is busy, retry shortly", code="retry_later")


def _superseded(e: Expense, stamp: str) -> bool:
    """A payment event stated before the one the expense shows (out-of-order delivery)."""
    return bool(e.payment_stated_at) and stamp < str(e.payment_stated_at)


def _set_payment(e: Expense, event: Any, stamp: str) -> None:
    e.payment_status = event.status
    e.paid_at = (stated(event.paid_at, "paid_at") or iso(utcnow())) if event.status == "paid" else None
    e.payment_reference = (event.reference or None) and str(event.reference)[:200]
    e.payment_stated_at = stamp
    e.updated_at = iso(utcnow())


def _valid_id(value: str) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64 and all(c.isalnum() or c in "_-" for c in value)


def _settle_paid(e: Expense, webhook_id: str) -> None:
    settle("expense.paid", lambda: notify_paid(e, webhook_id), expense_id=e.expense_id)


def notify_paid(e: Expense, webhook_id: str) -> None:
    outcome = "paid" if e.payment_status == "paid" else "payment failed"
    messages.send(
        messages.NewMessage(
            e.tenant_id,
            e.user_id,
            "expense_paid",
            f"Expense {outcome}: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
            f"Reference {e.payment_reference}" if e.payment_reference else "",
            ref_type="expense",
            ref_id=e.expense_id,
            dedupe_key=f"expense:{e.expense_id}:payment:{hashlib.sha256(webhook_id.encode()).hexdigest()[:24]}",
        )
    )


# ---------------------------------------------------------------- listing
def _list_scope(principal: Principal, user_id: Optional[str], unit_type: Optional[str], unit_id: Optional[str]) -> str:
    """Which index serves the list, after checking the caller may read it (else 404)."""
    if user_id:
        if not (principal.is_finance or org.can_read_user_data(principal, user_id)):
            raise NotFound("user not found")
        return "user"
    if unit_type and unit_id:
        if not budgets.can_read_unit(principal, unit_type, unit_id):
            raise NotFound("unit not found")
        return "unit"
    if principal.is_finance or principal.is_admin:
        return "tenant"
    return "self"


@dataclass(frozen=True)
class ExpenseListQuery:
    """Which expenses a list asks for (``GET /v1/expenses``): each field narrows it."""

    status: Optional[str] = None
    user_id: Optional[str] = None
    unit_type: Optional[str] = None
    unit_id: Optional[str] = None
    date_from: Optional[str] = None
    date_to: Optional[str] = None


def list_page(
    principal: Principal, query: ExpenseListQuery, limit: int, cursor: Optional[str]
) -> tuple[list[Expense], Optional[str]]:
    """Newest first. By user: GSI1 (date range in the key). By unit: GSI2, unit prefix and
    date range in the key. Tenant-wide (finance, admins): GSI2, ordered by unit then date.
    Status and other leftovers are filters; pages are filled before answering."""
    status, user_id, unit_type, unit_id = query.status, query.user_id, query.unit_type, query.unit_id
    date_from, date_to = query.date_from, query.date_to
    if unit_type and not unit_id or unit_id and not unit_type:
        raise Unprocessable("unit_type and unit_id go together", code="invalid_unit")
    for value, name in ((date_from, "from"), (date_to, "to")):
        if value:
            parse_date(value, name)
    scope = _list_scope(principal, user_id, unit_type, unit_id)
    t = principal.tenant_id
    lo, hi = Expense.occurred_range(date_from, date_to)
    condition = None
    if scope in ("user", "self"):
        index, pk = Expense.gsi1, Expense.by_user_pk(t, user_id or principal.user_id)
        key = Expense.GSI1SK.between(lo, hi)
        if unit_type:
            condition = (Expense.unit_type == unit_type) & (Expense.unit_id == unit_id)
    elif scope == "unit":
        prefix = Expense.unit_prefix(unit_type or "", unit_id or "")
        index, pk = Expense.gsi2, Expense.by_tenant_pk(t)
        key = Expense.GSI2SK.between(prefix + lo, prefix + hi)
    else:
        index, pk = Expense.gsi2, Expense.by_tenant_pk(t)
        key = None
        if date_from or date_to:
            condition = Expense.occurred_on.between(date_from or "0000-00-00", date_to or "9999-99-99")
    if status:
        status_condition = Expense.status == status
        condition = status_condition if condition is None else condition & status_condition
    cursor_scope = ":".join(
        str(x) for x in ("expenses", t, principal.user_id, scope, status, user_id, unit_type, unit_id, lo, hi)
    )
    start = cursors.decode(cursor, cursor_scope)
    result = index.query(
        pk,
        key,
        filter_condition=condition,
        scan_index_forward=False,
        limit=limit,
        page_size=limit if condition is None else max(limit, 50),
        last_evaluated_key=start.get("k") if start else None,
    )
    items = list(result)
    last_key = result.last_evaluated_key if len(items) == limit else None
    next_cursor = cursors.encode({"k": last_key}, cursor_scope) if last_key else None
    return items, next_cursor


# ---------------------------------------------------------------- statistics
def statistics(
    principal: Principal, period: str, group_by: str, unit_type: Optional[str], unit_id: Optional[str]
) -> list[stats.Group]:
    parse_month(period, "period")
    if bool(unit_type) != bool(unit_id):
        raise Unprocessable("unit_type and unit_id go together", code="invalid_unit")
    if unit_type and unit_id:
        if not budgets.can_read_unit(principal, unit_type, unit_id):
            raise Forbidden("statistics of this unit are for its owner, finance and administrators", code="not_allowed")
    elif not (principal.is_finance or principal.is_admin):
        raise Forbidden("tenant-wide statistics are for finance and administrators", code="not_allowed")
    return stats.groups(principal.tenant_id, period, group_by, unit_type, unit_id)
