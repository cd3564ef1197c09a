"""Expenses: draft, edit, submit, approve, reject, and the finance system's payment state.

Every state change is one DynamoDB transaction carrying the expense (conditional on its
state and on the version that was read: optimistic locking), the unit's budget usage
(conditional on room in ``block`` mode) and the statistics aggregates, with a client
request token per attempt, so an SDK retry of the call cannot apply it twice. Replaying a
transition is safe because the expense's state and version conditions refuse it.

Approval: the submitter's manager approves; above the tenant's ``approval_limit`` the
manager's manager approves as well (level 2). The approvers are fixed at submission.
Someone who may see the expense but is not its current approver gets 403; anyone else 404.
"""

from __future__ import annotations

import hashlib
import random
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import BudgetExceeded, Conflict, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.expenses import Cancelled, Expense, ReceiptClaim, Tx
from chalicelib.observability import count
from chalicelib.services import budgets, org, stats
from chalicelib.services.aftercommit import settle
from chalicelib.timeutil import format_date, iso, normalize, parse_date, parse_month, utcnow

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
    }
    return out


def next_approver(e: Expense) -> Optional[str]:
    if e.status != "submitted":
        return None
    level = len([a for a in (e.approvals or []) if a.get("decision") == "approved"])
    approvers = list(e.approver_ids or [])
    return approvers[level] if level < len(approvers) else None


# ---------------------------------------------------------------- adapters to capabilities built alongside
def _opportunity_stage(principal: Principal, opportunity_id: str) -> Optional[str]:
    """The opportunity's current stage; 422 when the caller cannot see it."""
    try:
        from chalicelib.services import crm
    except ImportError:  # pragma: no cover - CRM not deployed yet: no stage, no check
        return None
    try:
        opportunity = crm.require_visible(principal, "opportunity", opportunity_id)
    except NotFound:
        raise Unprocessable(f"opportunity {opportunity_id!r} not found", code="unknown_opportunity") from None
    return getattr(opportunity, "stage", None)


def _uploads(tenant_id: str, upload_ids: list[str]) -> dict[str, Any]:
    try:
        from chalicelib.services import uploads
    except ImportError:  # pragma: no cover - uploads not deployed yet
        raise Unprocessable("receipts are not available", code="unknown_upload") from None
    return uploads.get_uploads(tenant_id, upload_ids)


def _check_receipts(tenant_id: str, user_id: str, upload_ids: list[str]) -> dict[str, Any]:
    if not upload_ids:
        return {}
    found = _uploads(tenant_id, upload_ids)
    for upload_id in upload_ids:
        upload = found.get(upload_id)
        if upload is None or upload.user_id != user_id or upload.purpose != "receipt":
            raise Unprocessable(f"receipt upload {upload_id!r} not found", code="unknown_upload")
        if upload.status == "rejected":
            raise Unprocessable(f"receipt upload {upload_id!r} was rejected", code="receipt_rejected")
    return found


def record_activity(e: Expense) -> None:
    """The submitted expense's feed activity (idempotent: its id follows the expense's)."""
    from chalicelib.services import feed

    feed.record_activity(
        e.tenant_id,
        "expense",
        e.user_id,
        f"{e.category}: {budgets.money(e.amount_cents)} {e.currency}"
        + (f" - {e.description}" if e.description else ""),
        [("opportunity", e.opportunity_id)] if e.opportunity_id else [],
        occurred_at=e.submitted_at,
        extra={"expense_id": e.expense_id, "amount": budgets.money(e.amount_cents), "currency": e.currency},
        activity_id="act_" + e.expense_id.removeprefix("exp_"),
    )


# ---------------------------------------------------------------- reads
def load(tenant_id: str, expense_id: str, consistent: bool = True) -> Optional[Expense]:
    try:
        return Expense.get(Expense.pk(tenant_id, expense_id), "EXPENSE", consistent_read=consistent)
    except DoesNotExist:
        return None


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


def create(principal: Principal, fields: dict[str, Any]) -> Expense:
    tenant = principal.tenant_id
    unit = fields["unit"]
    budgets.validate_unit(tenant, unit["type"], unit["id"])
    receipts = list(dict.fromkeys(fields.get("receipt_upload_ids") or []))
    _check_receipts(tenant, principal.user_id, receipts)
    opportunity_id = fields.get("opportunity_id")
    now = iso(utcnow())
    e = Expense(
        tenant_id=tenant,
        expense_id=new_id("exp"),
        user_id=principal.user_id,
        amount_cents=_positive_cents(fields["amount"]),
        currency=fields.get("currency") or org.get_settings(tenant).currency,
        category=fields["category"],
        occurred_on=format_date(parse_date(fields["occurred_on"], "occurred_on")),
        description=fields.get("description") or "",
        unit_type=unit["type"],
        unit_id=unit["id"],
        opportunity_id=opportunity_id,
        stage=_opportunity_stage(principal, opportunity_id) if opportunity_id else None,
        receipt_upload_ids=receipts,
        status="draft",
        payment_status="unpaid",
        approvals=[],
        warnings=[],
        created_at=now,
        updated_at=now,
    )
    e.save(condition=Expense.PK.does_not_exist())
    count("ExpenseCreated")
    return e


def update_draft(principal: Principal, expense_id: str, changes: dict[str, Any]) -> Expense:
    e = require_own(principal, expense_id)
    if e.status != "draft":
        raise Conflict(f"only drafts can be edited; this expense is {e.status}", code="invalid_state")
    tenant = principal.tenant_id
    if "unit" in changes:
        budgets.validate_unit(tenant, changes["unit"]["type"], changes["unit"]["id"])
        e.unit_type, e.unit_id = changes["unit"]["type"], changes["unit"]["id"]
    if "amount" in changes:
        e.amount_cents = _positive_cents(changes["amount"])
    if changes.get("occurred_on") is not None:
        parse_date(changes["occurred_on"], "occurred_on")
    for name in ("currency", "category", "occurred_on", "description"):
        if name in changes and changes[name] is not None:
            setattr(e, name, changes[name])
    if "opportunity_id" in changes:
        e.opportunity_id = changes["opportunity_id"]
        e.stage = _opportunity_stage(principal, e.opportunity_id) if e.opportunity_id else None
    if "receipt_upload_ids" in changes:
        receipts = list(dict.fromkeys(changes["receipt_upload_ids"] or []))
        _check_receipts(tenant, principal.user_id, receipts)
        e.receipt_upload_ids = receipts
    e.updated_at = iso(utcnow())
    try:
        e.save(condition=Expense.status == "draft")  # plus the version it was read at
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
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


def _approvers(e: Expense) -> list[str]:
    submitter = org.get_user(e.tenant_id, e.user_id)
    ancestors = submitter.ancestors if submitter else []
    if not ancestors:
        raise Unprocessable("the submitter has no manager to approve this expense", code="no_approver")
    limit = org.get_settings(e.tenant_id).approval_limit
    two_levels = limit is not None and Decimal(e.amount_cents) / 100 > Decimal(limit)
    return ancestors[: 2 if two_levels else 1]


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
    e = require_own(principal, expense_id)
    if e.status != "draft":
        raise Conflict(f"only drafts can be submitted; this expense is {e.status}", code="invalid_state")
    approvers = _approvers(e)
    receipt_warnings, claims = _receipt_warnings(e)
    amount = int(e.amount_cents)
    usage = budgets.usage_item(e.tenant_id, e.unit_type, e.unit_id, e.period)
    now = iso(utcnow())
    read_version = e.version
    e.status, e.submitted_at, e.updated_at = "submitted", now, now
    e.approver_ids, e.approvals = approvers, []
    warnings = [w for w in (e.warnings or []) if w not in ("duplicate_receipt", "budget_exceeded")] + receipt_warnings

    def build(enforce: bool) -> Any:
        def fill(tx: Tx) -> None:
            e.version = read_version
            e.warnings = warnings + ([] if enforce else ["budget_exceeded"])
            tx.put("expense", e, Expense.status == "draft")
            tx.update(
                "budget",
                usage,
                budgets.usage_actions(usage, reserved=amount, available=-amount, mark_due=True),
                budgets.reserve_condition(amount, e.currency, enforce),
            )
            for item, actions in stats.aggregate_updates(e, +1):
                tx.update("stats", item, actions)
            for claim in claims:
                tx.put("claim", claim)

        return fill

    failed = _commit(e, "submit", build(enforce=True))
    if "budget" in failed and "expense" not in failed:
        budget = budgets.load(e.tenant_id, e.unit_type, e.unit_id, e.period)
        if budget is not None and budget.currency and budget.currency != e.currency:
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
    _after_submit(e)
    return e


def _after_submit(e: Expense) -> None:
    """After the submit commit: each effect is settled (services/aftercommit.py); the alert
    check is re-driven by the budget's due marker, the rest by the expense's stream MODIFY."""
    context = {"expense_id": e.expense_id}
    settle("budget.alerts", lambda: budgets.check_alerts(e.tenant_id, e.unit_type, e.unit_id, e.period), **context)
    approver = next_approver(e)
    if approver:
        settle("expense.approval_request", lambda: _request_approval(e, approver, 1), **context)
    settle("expense.activity", lambda: record_activity(e), **context)


def _request_approval(e: Expense, approver: str, level: int) -> None:
    from chalicelib.services import messages

    messages.send(
        e.tenant_id,
        approver,
        "expense_approval_request",
        f"Expense to approve: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
        f"From {e.user_id}, {e.occurred_on}. {e.description or ''}".strip(),
        ref_type="expense",
        ref_id=e.expense_id,
        dedupe_key=f"expense:{e.expense_id}:approval:{level}",
    )


def _require_approver(principal: Principal, expense_id: str) -> Expense:
    e = require_visible(principal, expense_id)
    if e.status != "submitted":
        raise Conflict(f"the expense is {e.status}", code="invalid_state")
    if next_approver(e) != principal.user_id:
        raise Forbidden("you are not the current approver of this expense", code="not_approver")
    return e


def approve(principal: Principal, expense_id: str, comment: Optional[str]) -> Expense:
    from chalicelib.services import webhooks

    e = _require_approver(principal, expense_id)
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
    amount = int(e.amount_cents)
    read_version = e.version

    def fill(tx: Tx) -> None:
        e.version = read_version
        tx.put("expense", e, Expense.status == "submitted")
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
    e = _require_approver(principal, expense_id)
    level = len([a for a in e.approvals if a.get("decision") == "approved"]) + 1
    now = iso(utcnow())
    e.approvals = list(e.approvals) + [
        {"level": level, "approver_id": principal.user_id, "decision": "rejected", "comment": reason, "at": now}
    ]
    e.status, e.decided_at, e.updated_at = "rejected", now, now
    usage = budgets.usage_item(e.tenant_id, e.unit_type, e.unit_id, e.period)
    amount = int(e.amount_cents)
    read_version = e.version

    def fill(tx: Tx) -> None:
        e.version = read_version
        tx.put("expense", e, Expense.status == "submitted")
        tx.update("budget", usage, budgets.usage_actions(usage, reserved=-amount, available=amount))
        for item, actions in stats.aggregate_updates(e, -1):
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
    elif old.status == "submitted" and new.status in ("approved", "rejected") and new.approvals:
        _notify_result(new, new.status, new.approvals[-1].get("comment"))


def _notify_result(e: Expense, outcome: str, note: Optional[str]) -> None:
    from chalicelib.services import messages

    messages.send(
        e.tenant_id,
        e.user_id,
        "expense_result",
        f"Expense {outcome}: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
        note or "",
        ref_type="expense",
        ref_id=e.expense_id,
        dedupe_key=f"expense:{e.expense_id}:result",
    )


# ---------------------------------------------------------------- payment (finance webhook)
def apply_payment_update(tenant_id: str, webhook_id: str, event: Any, digest: Optional[str] = None) -> bool:
    """``expense.payment_updated`` with its receipt in one transaction. False for a
    webhook-id already applied. The submitter's ``expense_paid`` message is deduplicated
    by webhook-id, and re-sent on a duplicate, so a crash between the two cannot lose it.
    The same webhook-id with another event (``digest``) is 422 before anything is sent."""
    from chalicelib.models.webhooks import InboundReceipt
    from chalicelib.services import webhooks

    if event.status not in ("paid", "failed"):
        raise Unprocessable("status must be paid or failed", code="invalid_payment_status")
    for attempt in range(MAX_TX_ATTEMPTS):
        e = load(tenant_id, event.expense_id) if _valid_id(event.expense_id) else None
        if webhooks.already_received(tenant_id, webhook_id, digest):
            if e is not None:
                _settle_paid(e, webhook_id)
            return False
        if e is None:
            raise Unprocessable(f"expense {event.expense_id!r} not found", code="unknown_expense")
        if e.status != "approved":
            raise Conflict(f"only approved expenses are paid; this one is {e.status}", code="invalid_state")
        read_version = e.version
        e.payment_status = event.status
        e.paid_at = (normalize(event.paid_at, "paid_at") or iso(utcnow())) if event.status == "paid" else None
        e.payment_reference = (event.reference or None) and str(event.reference)[:200]
        e.updated_at = iso(utcnow())
        rec = webhooks.receipt(tenant_id, webhook_id, "expense.payment_updated", ref_id=e.expense_id, digest=digest)
        tx = (
            Tx().put("receipt", rec, InboundReceipt.PK.does_not_exist()).put("expense", e, Expense.status == "approved")
        )
        try:
            tx.commit()
        except Cancelled as exc:
            e.version = read_version
            if "receipt" in exc.failed:
                webhooks.already_received(tenant_id, webhook_id, digest)  # another event under this id: 422
                _settle_paid(e, webhook_id)
                return False
            time.sleep(random.uniform(0.005, 0.02) * (2**attempt))
            continue
        # after the commit: the receipt's stream INSERT re-drives the message
        _settle_paid(e, webhook_id)
        return True
    raise ServiceUnavailable("the expense is busy, retry shortly", code="retry_later")


def _valid_id(value: str) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 64 and all(c.isalnum() or c in "_-" for c in value)


def _settle_paid(e: Expense, webhook_id: str) -> None:
    settle("expense.paid", lambda: notify_paid(e, webhook_id), expense_id=e.expense_id)


def notify_paid(e: Expense, webhook_id: str) -> None:
    from chalicelib.services import messages

    outcome = "paid" if e.payment_status == "paid" else "payment failed"
    messages.send(
        e.tenant_id,
        e.user_id,
        "expense_paid",
        f"Expense {outcome}: {budgets.money(e.amount_cents)} {e.currency} ({e.category})",
        f"Reference {e.payment_reference}" if e.payment_reference else "",
        ref_type="expense",
        ref_id=e.expense_id,
        dedupe_key=f"expense:{e.expense_id}:payment:{hashlib.sha256(webhook_id.encode()).hexdigest()[:24]}",
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


def list_page(
    principal: Principal,
    *,
    status: Optional[str],
    user_id: Optional[str],
    unit_type: Optional[str],
    unit_id: Optional[str],
    date_from: Optional[str],
    date_to: Optional[str],
    limit: int,
    cursor: Optional[str],
) -> tuple[list[Expense], Optional[str]]:
    """Newest first. By user: GSI1 (date range in the key). By unit: GSI2, unit prefix and
    date range in the key. Tenant-wide (finance, admins): GSI2, ordered by unit then date.
    Status and other leftovers are filters; pages are filled before answering."""
    if unit_type and not unit_id or unit_id and not unit_type:
        raise Unprocessable("unit_type and unit_id go together", code="invalid_unit")
    for value, name in ((date_from, "from"), (date_to, "to")):
        if value:
            parse_date(value, name)
    scope = _list_scope(principal, user_id, unit_type, unit_id)
    t = principal.tenant_id
    lo, hi = date_from or "0000-00-00", (date_to or "9999-99-99") + "#~"
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
