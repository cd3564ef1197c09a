"""Budgets per accounting unit and month, overrun control and threshold alerts.

Usage moves only inside the transactions that change an expense's state (see
services/expenses/expenses.py), through the update actions built here:

- submit: ``reserved += amt``, ``available -= amt``; in ``block`` mode the transaction is
  conditional on ``available >= amt`` (a DynamoDB condition cannot add, hence the
  maintained ``available = amount - spent - reserved``);
- approve: ``reserved -= amt``, ``spent += amt``;
- reject: ``reserved -= amt``, ``available += amt``.

No budget for a unit and month means no control: usage is still counted (so a budget
set later starts from the truth) but nothing is refused and no alert fires.

Alerts: after usage or the limit changes, :func:`check_alerts` reads the budget and, for
each threshold reached and not yet fired, claims it with a conditional update
(``fired.<t>`` must not exist) and only then sends the ``budget_alert`` message
(deduplicated), the ``budget.threshold_crossed`` event and the outbound webhook (a stable
``webhook-id``). Each write that may cross a threshold also puts the budget in the
``BUDGETS_DUE`` index, and only a completed check takes it out, so the hourly job finishes
whatever a crashed request left half done.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional

from pynamodb.exceptions import UpdateError

from chalicelib.auth import Principal
from chalicelib.currencies import require_currency
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.models.base import Cancelled, Tx, condition_failed
from chalicelib.models.budgets import DUE_SHARDS, UNIT_TYPES, Budget, due_pk
from chalicelib.models.webhooks import InboundReceipt
from chalicelib.observability import count, is_corrupt_item, logger, skip_bad_item
from chalicelib.services.access import context
from chalicelib.services.inbox import messages
from chalicelib.services.integrations import webhooks
from chalicelib.services.org import org
from chalicelib.services.platform import events, fanout
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import Projection, reads
from chalicelib.timeutil import iso, parse_month, utcnow

DEFAULT_THRESHOLDS = (80, 100)
MAX_WRITE_ATTEMPTS = 6


# ---------------------------------------------------------------- money
def to_cents(value: str | Decimal) -> int:
    cents = Decimal(value) * 100
    if cents != cents.to_integral_value():
        raise Unprocessable("amounts have at most 2 decimal places", code="invalid_amount")
    return int(cents)


def money(cents: int | float | Decimal | None) -> Optional[str]:
    if cents is None:
        return None
    return f"{(Decimal(int(cents)) / 100):.2f}"


# ---------------------------------------------------------------- units
def validate_unit(tenant_id: str, unit_type: str, unit_id: str) -> None:
    if unit_type == "department":
        found = org.get_department(tenant_id, unit_id) is not None
    elif unit_type == "project":
        found = org.get_project(tenant_id, unit_id) is not None
    elif unit_type == "person":
        found = org.get_user(tenant_id, unit_id) is not None
    else:
        raise Unprocessable(f"unknown unit type {unit_type!r}", code="invalid_unit")
    _require_found(found, unit_type, unit_id)


def _require_found(found: bool, unit_type: str, unit_id: str) -> None:
    if not found:
        raise Unprocessable(f"{unit_type} {unit_id!r} does not exist", code="unknown_unit")


def can_charge(principal: Principal, unit_type: str, unit_id: str) -> bool:
    """Who may charge an expense unit, from the current org data: their own department or
    one above it, a project they own or are a member of, themselves; admins and finance
    any. One GetItem at most (a project), none for a department or a person when the edge
    has already read the caller."""
    if principal.is_admin or principal.is_finance:
        return True
    if unit_type == "person":
        return unit_id == principal.user_id
    if unit_type == "department":
        caller = org.caller_user(principal)
        return caller is not None and f"/{unit_id}/" in caller.dept_path
    if unit_type == "project":
        project = org.get_project(principal.tenant_id, unit_id)
        return project is not None and (
            project.owner_id == principal.user_id or principal.user_id in (project.member_ids or set())
        )
    return False


def require_chargeable(principal: Principal, unit_type: str, unit_id: str) -> None:
    """The unit exists (422 ``unknown_unit``) and the caller may charge it (403 ``unit_not_allowed``)."""
    if unit_type == "department":  # through the request's loader: its activity reads it again
        _require_found(context.of(principal).department(unit_id) is not None, unit_type, unit_id)
    else:
        validate_unit(principal.tenant_id, unit_type, unit_id)
    if not can_charge(principal, unit_type, unit_id):
        raise Forbidden(
            f"you may not charge {unit_type} {unit_id!r}: your department or one above it, your projects or yourself",
            code="unit_not_allowed",
        )


def unit_owner(tenant_id: str, unit_type: str, unit_id: str) -> Optional[str]:
    """Department head, project owner, or the person."""
    if unit_type == "department":
        dept = org.get_department(tenant_id, unit_id)
        return dept.head_user_id if dept else None
    if unit_type == "project":
        project = org.get_project(tenant_id, unit_id)
        return project.owner_id if project else None
    return unit_id if unit_type == "person" else None


def can_read_unit(principal: Principal, unit_type: str, unit_id: str) -> bool:
    """Finance, administrators, and the unit's owner (for a person: self and managers;
    contract "expense-stats": "its owner and their managers", not department heads)."""
    if principal.is_admin or principal.is_finance:
        return True
    if unit_type == "person":
        return unit_id == principal.user_id or org.is_subordinate(principal.tenant_id, principal.user_id, unit_id)
    return unit_owner(principal.tenant_id, unit_type, unit_id) == principal.user_id


def require_budget_admin(principal: Principal) -> None:
    if not (principal.is_admin or principal.is_finance):
        raise Forbidden("budgets are set by administrators and finance", code="finance_only")


# ---------------------------------------------------------------- usage actions (used inside expense transactions)
def usage_item(tenant_id: str, unit_type: str, unit_id: str, period: str) -> Budget:
    item = Budget(tenant_id=tenant_id, unit_type=unit_type, unit_id=unit_id, period=period)
    item.set_keys()
    return item


def _identity_actions(item: Budget) -> list[Any]:
    return [
        Budget.entity.set(Budget),
        Budget.tenant_id.set(item.tenant_id),
        Budget.unit_type.set(item.unit_type),
        Budget.unit_id.set(item.unit_id),
        Budget.period.set(item.period),
    ]


def _due_actions(item: Budget) -> list[Any]:
    return [
        Budget.check_seq.add(1),
        Budget.GSI1PK.set(Budget.due_pk_of(item.tenant_id, item.unit_type, item.unit_id, item.period)),
        Budget.GSI1SK.set(Budget.due_sk(item.tenant_id, item.unit_type, item.unit_id, item.period)),
    ]


def usage_actions(
    item: Budget, *, reserved: int = 0, spent: int = 0, available: int = 0, mark_due: bool = False
) -> list[Any]:
    """Move usage; ``mark_due`` when usage grows (a threshold may be crossed)."""
    actions = _identity_actions(item) + [
        Budget.reserved_cents.add(reserved),
        Budget.spent_cents.add(spent),
        Budget.available_cents.add(available),
    ]
    return actions + (_due_actions(item) if mark_due else [])


def reserve_condition(amount_cents: int, currency: str, enforce: bool) -> Any:
    """Same currency as the budget (if any); with ``enforce``, room for the amount."""
    condition = Budget.currency.does_not_exist() | (Budget.currency == currency)
    if enforce:
        condition &= Budget.amount_cents.does_not_exist() | (Budget.available_cents >= amount_cents)
    return condition


# ---------------------------------------------------------------- reads
def load(tenant_id: str, unit_type: str, unit_id: str, period: str) -> Optional[Budget]:
    return Budget.fetch(tenant_id, unit_type, unit_id, period)


def get_budget(principal: Principal, unit_type: str, unit_id: str, period: str) -> Budget:
    parse_month(period, "period")
    if not can_read_unit(principal, unit_type, unit_id):
        raise NotFound("budget not found")
    budget = load(principal.tenant_id, unit_type, unit_id, period)
    if budget is None or not budget.configured:
        raise NotFound("budget not found")
    return budget


# ---------------------------------------------------------------- limits
def set_limit_actions(
    current: Optional[Budget], amount_cents: int, currency: str, mode: str, thresholds: list[int]
) -> tuple[list[Any], Any]:
    """Actions and condition that set a budget's limit against the usage just read."""
    spent = int(current.spent_cents) if current else 0
    reserved = int(current.reserved_cents) if current else 0
    actions = [
        Budget.amount_cents.set(amount_cents),
        Budget.currency.set(currency),
        Budget.mode.set(mode),
        Budget.thresholds.set(sorted(set(thresholds))),
        Budget.available_cents.set(amount_cents - spent - reserved),
        Budget.fired.set(Budget.fired | {}),
        Budget.updated_at.set(iso(utcnow())),
    ]
    if current is None:
        condition = Budget.PK.does_not_exist()
        actions += [Budget.spent_cents.set(0), Budget.reserved_cents.set(0)]
    else:  # nobody moved usage since we read it
        condition = (Budget.spent_cents == spent) & (Budget.reserved_cents == reserved)
    return actions, condition


def _refuse_currency_switch(current: Optional[Budget], currency: str) -> None:
    """Reserved and spent amounts are in the budget's currency: switching it under them
    would compare one currency with another (the transaction's usage condition makes a
    reservation that lands after this read retry the check)."""
    if current is None or not current.currency or current.currency == currency:
        return
    if int(current.reserved_cents or 0) or int(current.spent_cents or 0):
        raise Unprocessable(
            f"the budget's currency is {current.currency} while amounts are reserved or spent",
            code="currency_change_refused",
        )


@dataclass(frozen=True)
class NewLimit:
    """A unit's limit for a month: the amount (a decimal string) in a currency, and, when
    given, the mode (``block``/``warn``) and alert thresholds (else the budget's own)."""

    unit_type: str
    unit_id: str
    period: str
    amount: str
    currency: str
    mode: Optional[str] = None
    thresholds: Optional[list[int]] = None


def put_budget(principal: Principal, new: NewLimit) -> Budget:
    require_budget_admin(principal)
    parse_month(new.period, "period")
    validate_unit(principal.tenant_id, new.unit_type, new.unit_id)
    return write_limit(principal.tenant_id, new)


def write_limit(tenant_id: str, new: NewLimit, extra: Any = None, pushed_at: Optional[str] = None) -> Budget:
    """Set the limit atomically against concurrent usage changes (retried on a race).

    ``extra(tx)`` may add items (the inbound webhook's receipt) to the same transaction;
    then a :class:`Cancelled` naming them propagates to the caller. ``pushed_at``: the
    stated time of a ``budget.updated`` event, written only over an older one."""
    unit_type, unit_id, period, currency, mode = new.unit_type, new.unit_id, new.period, new.currency, new.mode
    amount_cents = to_cents(new.amount)
    thresholds = list(new.thresholds) if new.thresholds is not None else None
    require_currency(currency)  # the one list (chalicelib/currencies.py)
    item = usage_item(tenant_id, unit_type, unit_id, period)
    for attempt in range(MAX_WRITE_ATTEMPTS):
        current = load(tenant_id, unit_type, unit_id, period)
        _refuse_currency_switch(current, currency)
        use_mode = mode or (current.mode if current and current.mode else "block")
        use_thresholds = (
            thresholds
            if thresholds is not None
            else (list(current.thresholds) if current and current.thresholds else list(DEFAULT_THRESHOLDS))
        )
        actions, condition = set_limit_actions(current, amount_cents, currency, use_mode, use_thresholds)
        actions += _identity_actions(item) + _due_actions(item)
        if pushed_at is not None:
            actions.append(Budget.pushed_at.set(pushed_at))
            condition &= Budget.pushed_at.does_not_exist() | (Budget.pushed_at <= pushed_at)
        try:
            tx = Tx().update("budget", item, actions, condition)
            if extra is not None:
                extra(tx)
            tx.commit()
            break
        except Cancelled as exc:
            if exc.failed - {"budget"} or not (exc.failed or exc.conflict):
                raise
            time.sleep(0.01 * (attempt + 1))
    else:
        raise Conflict("the budget is changing, retry", code="budget_busy")
    # after the commit: the due marker set with the limit lets the alerts schedule re-drive it
    settle("budget.alerts", lambda: check_alerts(tenant_id, unit_type, unit_id, period), unit_id=unit_id)
    budget = load(tenant_id, unit_type, unit_id, period)
    assert budget is not None
    return budget


# ---------------------------------------------------------------- alerts
def alert_id(tenant_id: str, unit_type: str, unit_id: str, period: str, threshold: int) -> str:
    return f"{tenant_id}:{unit_type}:{unit_id}:{period}:{threshold}"


def reached(budget: Budget) -> list[int]:
    if not budget.configured or not budget.thresholds:
        return []
    usage = int(budget.spent_cents) + int(budget.reserved_cents)
    amount = int(budget.amount_cents)
    return [int(t) for t in budget.thresholds if usage > 0 and usage * 100 >= int(t) * amount]


def _claim(budget: Budget, threshold: int, now: str) -> bool:
    try:
        budget.update(
            actions=[Budget.fired[str(threshold)].set(now), Budget.pending_alerts.add({threshold})],
            condition=Budget.fired[str(threshold)].does_not_exist(),
        )
        return True
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise


@dataclass(frozen=True)
class Alert:
    tenant_id: str
    unit_type: str
    unit_id: str
    period: str
    threshold: int
    fired_at: str
    amount_cents: int
    spent_cents: int
    reserved_cents: int
    currency: str

    def data(self) -> dict[str, Any]:
        return {
            "alert_id": alert_id(self.tenant_id, self.unit_type, self.unit_id, self.period, self.threshold),
            "unit": {"type": self.unit_type, "id": self.unit_id},
            "unit_type": self.unit_type,
            "unit_id": self.unit_id,
            "period": self.period,
            "threshold": self.threshold,
            "fired_at": self.fired_at,
            "amount": money(self.amount_cents),
            "spent": money(self.spent_cents),
            "reserved": money(self.reserved_cents),
            "usage": money(self.spent_cents + self.reserved_cents),
            "currency": self.currency,
        }


def _deliver_alert(alert: Alert) -> None:
    """Message (exactly once by dedupe key), event and webhook (stable ids)."""
    data = alert.data()
    owner = unit_owner(alert.tenant_id, alert.unit_type, alert.unit_id)
    if owner:
        messages.send(
            messages.NewMessage(
                alert.tenant_id,
                owner,
                "budget_alert",
                f"Budget {alert.unit_type} {alert.unit_id} {alert.period} reached {alert.threshold}%",
                f"Usage {data['usage']} of {data['amount']} {alert.currency}.",
                ref_type="budget",
                ref_id=f"{alert.unit_type}:{alert.unit_id}:{alert.period}",
                dedupe_key=f"budget:{data['alert_id']}",
            )
        )
    events.emit("budget.threshold_crossed", alert.tenant_id, data)
    webhooks.enqueue(alert.tenant_id, "budget.threshold_crossed", data, webhooks.stable_id("budget", data["alert_id"]))
    count("BudgetAlerts")


def check_alerts(tenant_id: str, unit_type: str, unit_id: str, period: str) -> list[int]:
    """Fire every reached threshold not yet fired, finish pending ones, then leave the
    due index if nothing changed meanwhile. Safe to run any number of times."""
    budget = load(tenant_id, unit_type, unit_id, period)
    if budget is None:
        return []
    seq = int(budget.check_seq or 0)
    fired = dict(budget.fired.as_dict() if budget.fired is not None and hasattr(budget.fired, "as_dict") else {})
    fired = {str(k): v for k, v in (fired or {}).items()}
    now = iso(utcnow())
    todo: dict[int, str] = {int(t): fired.get(str(int(t)), now) for t in (budget.pending_alerts or set())}
    for threshold in reached(budget):
        if str(threshold) not in fired and _claim(budget, threshold, now):
            todo[threshold] = now
    sent = []
    for threshold, fired_at in sorted(todo.items()):
        _deliver_alert(
            Alert(
                tenant_id,
                unit_type,
                unit_id,
                period,
                threshold,
                fired_at,
                int(budget.amount_cents or 0),
                int(budget.spent_cents),
                int(budget.reserved_cents),
                budget.currency or "",
            )
        )
        budget.update(actions=[Budget.pending_alerts.delete({threshold})])
        sent.append(threshold)
    try:
        budget.update(
            actions=[Budget.GSI1PK.remove(), Budget.GSI1SK.remove()],
            condition=(Budget.check_seq == seq) & Budget.pending_alerts.does_not_exist(),
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    return sent


def run_due() -> int:
    """The hourly job in this process, every shard (deployed, the dispatcher queues one
    task per shard: :func:`due_tasks`). Cost proportional to what is due."""
    return sum(run_due_shard(shard)[0] for shard in range(DUE_SHARDS))


DUE_KIND = "budget_alerts"  # the fan-out task kind


def due_tasks(now: Optional[datetime] = None) -> list[fanout.Task]:
    """The dispatcher's work every hour: one task per due-index shard, no read."""
    at = iso(now or utcnow())
    return [fanout.Task(DUE_KIND, f"{shard}#{at}", {"shard": shard}) for shard in range(DUE_SHARDS)]


def due_work(task: fanout.Task, deadline: fanout.Deadline) -> Optional[str]:
    """One shard's due budgets; the cursor to resume at when the deadline stopped it."""
    return run_due_shard(int(task.params["shard"]), task.cursor, deadline.expired)[1]


def run_due_shard(
    shard: int, cursor: Optional[str] = None, expired: Optional[Callable[[], bool]] = None
) -> tuple[int, Optional[str]]:
    """Check every budget of one due-index shard from ``cursor``; answers how many were
    checked and, when ``expired()`` stopped it, the cursor after the last one."""
    done = 0
    start = json.loads(cursor) if cursor else None
    for budget in Budget.gsi1.query(due_pk(shard), last_evaluated_key=start):
        try:
            check_alerts(budget.tenant_id, budget.unit_type, budget.unit_id, budget.period)
            done += 1
        except Exception as exc:  # noqa: BLE001 - one bad budget must not starve the others
            if is_corrupt_item(exc):
                skip_bad_item("budget_alerts", exc, tenant_id=budget.tenant_id, key=budget.GSI1SK)
            else:  # transient: it stays due, the next run retries it
                logger.exception("budget alert check failed", extra={"budget": budget.GSI1SK})
        if expired is not None and expired():
            return done, json.dumps(budget.start_key("GSI1"), sort_keys=True)
    return done, None


def to_dict(b: Budget) -> dict[str, Any]:
    """A budget's API shape: limit, spent, reserved, remaining and fired alerts."""
    usage = int(b.spent_cents) + int(b.reserved_cents)
    return {
        "unit": {"type": b.unit_type, "id": b.unit_id},
        "unit_type": b.unit_type,
        "unit_id": b.unit_id,
        "period": b.period,
        "amount": money(b.amount_cents) or "0.00",
        "currency": b.currency or "",
        "mode": b.mode or "block",
        "thresholds": [int(t) for t in (b.thresholds or [])],
        "spent": money(b.spent_cents) or "0.00",
        "reserved": money(b.reserved_cents) or "0.00",
        "remaining": money(int(b.amount_cents or 0) - usage) or "0.00",
        "alerts": alerts_of(b),
    }


def alerts_of(budget: Budget) -> list[dict[str, Any]]:
    fired = budget.fired.as_dict() if budget.fired is not None and hasattr(budget.fired, "as_dict") else {}
    return sorted(
        ({"threshold": int(k), "fired_at": v} for k, v in (fired or {}).items()), key=lambda a: a["threshold"]
    )


# ---------------------------------------------------------------- finance pushes (inbound webhook)
def apply_push(
    tenant_id: str, webhook_id: str, update: Any, digest: Optional[str] = None, stated_at: Optional[str] = None
) -> bool | str:
    """``budget.updated``: set the amount (keeping mode and thresholds; new budgets are
    ``block`` with the default thresholds) together with the webhook's receipt. False when
    this webhook-id was already applied. Latest wins by the event's own time (``stated_at``,
    never ahead of our clock; else its arrival): an older event than the one applied is
    recorded and answered ``stale`` (webhooks.STALE), and changes nothing."""

    if update.unit_type not in UNIT_TYPES:
        raise Unprocessable("unit_type must be department, project or person", code="invalid_unit")
    if not re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", update.period):
        raise Unprocessable("period must be YYYY-MM", code="invalid_period")
    parse_month(update.period, "period")
    if not re.fullmatch(r"(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?", update.amount):
        raise Unprocessable("amount must be a decimal string", code="invalid_amount")
    if not re.fullmatch(r"[A-Z]{3}", update.currency):
        raise Unprocessable("currency must be ISO 4217", code="invalid_currency")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", update.unit_id):
        raise Unprocessable("unit_id is not valid", code="invalid_unit")
    if webhooks.already_received(tenant_id, webhook_id, digest):
        return False
    validate_unit(tenant_id, update.unit_type, update.unit_id)
    rec = webhooks.receipt(tenant_id, webhook_id, "budget.updated", digest=digest)
    stamp = stated_at or iso(utcnow())
    current = load(tenant_id, update.unit_type, update.unit_id, update.period)
    if current is not None and current.pushed_at and stamp < str(current.pushed_at):
        return _record_stale(tenant_id, webhook_id, digest, rec)
    try:
        limit = NewLimit(update.unit_type, update.unit_id, update.period, update.amount, update.currency)
        write_limit(tenant_id, limit, extra=lambda tx: tx.put("receipt", rec, _receipt_absent()), pushed_at=stamp)
    except Cancelled as exc:
        if "receipt" in exc.failed or webhooks.already_received(tenant_id, webhook_id, digest):
            return False
        raise
    return True


def _record_stale(tenant_id: str, webhook_id: str, digest: Optional[str], rec: Any) -> bool | str:
    """An out-of-order event: only its receipt (a retry of it is then a duplicate)."""
    try:
        Tx().put("receipt", rec, _receipt_absent()).commit()
    except Cancelled:
        webhooks.already_received(tenant_id, webhook_id, digest)  # another event under this id: 422
        return False
    count("BudgetUpdateStale")
    return webhooks.STALE


def _receipt_absent() -> Any:  # noqa: N802 - reads as the condition it builds

    return InboundReceipt.PK.does_not_exist()


PROJECTION = Projection(
    name="budget_spend",
    reads=(reads("Expense"),),
    kept="in_transaction",
    writes=("Budget.spent_cents", "Budget.reserved_cents"),
    doc="each unit's monthly usage (spent, reserved), kept by the expense's transaction",
)
