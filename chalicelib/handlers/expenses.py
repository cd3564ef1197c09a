"""Expenses, budgets and statistics."""

from typing import Annotated, Any, Literal, Optional

from chalice import Blueprint, Rate
from pydantic import Field, StringConstraints

from chalicelib.errors import Unprocessable
from chalicelib.observability import logger
from chalicelib.schemas import (
    Currency,
    Date,
    Id,
    Money,
    Month,
    Page,
    PageQuery,
    Query,
    Request,
    Response,
    Text,
    example,
)
from chalicelib.services.collab import requests
from chalicelib.services.expenses import approvals, budgets, expenses, mileage
from chalicelib.services.integrations import webhooks
from chalicelib.services.platform import fanout
from chalicelib.shapes import ExpenseOut, Status, UnitOut
from chalicelib.vocabulary import BulkItemStatus
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Category = Annotated[str, StringConstraints(pattern=r"^[^#\x00-\x1f]{1,40}$")]
UnitType = Literal["department", "project", "person"]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Comment = Annotated[str, StringConstraints(max_length=2000)]
UNIT_TYPE_PATTERN = r"^(department|project|person)$"
PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Unit(Request):
    type: UnitType
    id: Id


class ExpenseIn(Request):
    model_config = example(
        {
            "amount": "42.50",
            "currency": "EUR",
            "category": "travel",
            "occurred_on": "2026-11-30",
            "description": "Taxi to the client",
            "unit": {"type": "department", "id": "sales_north"},
            "opportunity_id": "opp_01HZX3M2",
        }
    )
    amount: Money
    currency: Optional[Currency] = None
    category: Category
    occurred_on: Date
    description: Optional[Text] = None
    unit: Unit
    opportunity_id: Optional[Id] = None
    receipt_upload_ids: list[Id] = Field(default_factory=list, max_length=expenses.MAX_RECEIPTS)


class ExpensePatch(Request):
    model_config = example({"amount": "39.90", "description": "Taxi to the client (corrected)"})
    amount: Optional[Money] = None
    currency: Optional[Currency] = None
    category: Optional[Category] = None
    occurred_on: Optional[Date] = None
    description: Optional[Text] = None
    unit: Optional[Unit] = None
    opportunity_id: Optional[Id] = None
    receipt_upload_ids: Optional[list[Id]] = Field(default=None, max_length=expenses.MAX_RECEIPTS)


class ApproveIn(Request):
    model_config = example({"comment": "OK"})
    comment: Optional[Comment] = None


class RejectIn(Request):
    model_config = example({"reason": "No receipt attached"})
    reason: Reason


class BulkIn(Request):
    model_config = example({"action": "approve", "expense_ids": ["exp_01HZX0A1B2C3D4E5F6G7H8J9K0"], "comment": "OK"})
    action: Literal["approve", "reject"]
    expense_ids: list[Id] = Field(min_length=1, max_length=approvals.MAX_BULK)
    comment: Optional[Comment] = None
    reason: Optional[Reason] = None


class BulkError(Response):
    code: str
    message: str


class BulkResult(Response):
    expense_id: str
    status: BulkItemStatus
    error: Optional[BulkError] = None


class BulkOut(Response):
    results: list[BulkResult]


class MileageIn(Request):
    model_config = example({"date": "2026-12-01"})
    date: Date


class ExpensePage(Page):
    items: list[ExpenseOut]


class ExpenseQuery(PageQuery):
    status: Optional[Status] = None
    user_id: Optional[Id] = None
    unit_type: Optional[UnitType] = None
    unit_id: Optional[Id] = None
    from_: Optional[Date] = Field(default=None, alias="from")
    to: Optional[Date] = None


class BudgetIn(Request):
    model_config = example({"amount": "5000.00", "currency": "EUR", "mode": "block", "thresholds": [80, 100]})
    amount: Money
    currency: Currency
    mode: Literal["block", "warn"]
    thresholds: list[Annotated[int, Field(ge=1, le=1000)]] = Field(default_factory=lambda: [80, 100], max_length=10)


class AlertOut(Response):
    threshold: int
    fired_at: str


class BudgetOut(Response):
    unit: UnitOut
    unit_type: str
    unit_id: str
    period: str
    amount: str
    currency: str
    mode: str
    thresholds: list[int]
    spent: str
    reserved: str
    remaining: str
    alerts: list[AlertOut]


class StatsQuery(Query):
    period: Month
    group_by: Literal["category", "stage", "unit"] = "category"
    unit_type: Optional[UnitType] = None
    unit_id: Optional[Id] = None


class StatsGroup(Response):
    key: str
    total: str
    count: int
    currency: str


class StatsOut(Response):
    period: str
    group_by: str
    groups: list[StatsGroup]


# ---------------------------------------------------------------- expenses
@route(
    bp,
    "/v1/expenses",
    method="POST",
    summary="Create a draft expense",
    tag="expenses",
    body=ExpenseIn,
    response=ExpenseOut,
    status=201,
)
def create_expense(req: Req) -> dict[str, Any]:
    return expenses.to_dict(expenses.create(req.principal, req.body.model_dump()))


@route(
    bp,
    "/v1/mileage-claims",
    method="POST",
    summary="Claim a day's mileage: a draft expense for the path through that day's sign-ins",
    tag="expenses",
    body=MileageIn,
    response=ExpenseOut,
    status=201,
    idempotent=True,
)
def create_mileage_claim(req: Req) -> dict[str, Any]:
    return expenses.to_dict(mileage.claim(req.principal, req.body.date))


@route(
    bp,
    "/v1/expenses",
    summary="List expenses (own; a subordinate's with user_id; a unit's for its owner; all for finance)",
    tag="expenses",
    query=ExpenseQuery,
    response=ExpensePage,
)
def list_expenses(req: Req) -> dict[str, Any]:
    q: ExpenseQuery = req.query
    query = expenses.ExpenseListQuery(q.status, q.user_id, q.unit_type, q.unit_id, date_from=q.from_, date_to=q.to)
    items, next_cursor = expenses.list_page(req.principal, query, q.limit, q.cursor)
    return {"items": [expenses.to_dict(e) for e in items], "next_cursor": next_cursor}


@route(bp, "/v1/expenses/{expense_id}", summary="Read an expense", tag="expenses", response=ExpenseOut)
def get_expense(req: Req) -> dict[str, Any]:
    return expenses.to_dict(expenses.require_visible(req.principal, req.path["expense_id"]))


@route(
    bp,
    "/v1/expenses/{expense_id}",
    method="PATCH",
    summary="Edit a draft expense",
    tag="expenses",
    body=ExpensePatch,
    response=ExpenseOut,
    errors=(409,),
    name="update_expense",
)
def patch_expense(req: Req) -> dict[str, Any]:
    changes = req.body.model_dump(exclude_unset=True)
    return expenses.to_dict(expenses.update_draft(req.principal, req.path["expense_id"], changes))


@route(
    bp,
    "/v1/expenses/{expense_id}/submit",
    method="POST",
    summary="Submit a draft: reserves the amount on the unit's budget (409 budget_exceeded in block mode)",
    tag="expenses",
    response=ExpenseOut,
    idempotent=True,
    errors=(409,),
)
def submit_expense(req: Req) -> dict[str, Any]:
    return expenses.to_dict(expenses.submit(req.principal, req.path["expense_id"]))


@route(
    bp,
    "/v1/expenses/{expense_id}/approve",
    method="POST",
    summary="Approve at the caller's level (the expense stays submitted while a level remains)",
    tag="expenses",
    body=ApproveIn,
    response=ExpenseOut,
    idempotent=True,
    errors=(409,),
)
def approve_expense(req: Req) -> dict[str, Any]:
    return expenses.to_dict(expenses.approve(req.principal, req.path["expense_id"], req.body.comment))


@route(
    bp,
    "/v1/expenses/{expense_id}/reject",
    method="POST",
    summary="Reject: releases the reserved amount",
    tag="expenses",
    body=RejectIn,
    response=ExpenseOut,
    idempotent=True,
    errors=(409,),
)
def reject_expense(req: Req) -> dict[str, Any]:
    return expenses.to_dict(expenses.reject(req.principal, req.path["expense_id"], req.body.reason))


# ---------------------------------------------------------------- approvals
@route(
    bp,
    "/v1/approvals",
    summary="Submitted expenses waiting for the caller's decision (every level), oldest first",
    tag="expenses",
    query=PageQuery,
    response=ExpensePage,
)
def list_approvals(req: Req) -> dict[str, Any]:
    q: PageQuery = req.query
    items, next_cursor = approvals.queue_page(req.principal, q.limit, q.cursor)
    return {"items": [expenses.to_dict(e) for e in items], "next_cursor": next_cursor}


@route(
    bp,
    "/v1/approvals/bulk",
    method="POST",
    summary="Approve or reject up to 50 expenses; each item stands alone",
    tag="expenses",
    body=BulkIn,
    response=BulkOut,
    idempotent=True,
    name="decide_approvals_in_bulk",
)
def bulk_approvals(req: Req) -> dict[str, Any]:
    b: BulkIn = req.body
    if b.action == "reject" and not b.reason:
        raise Unprocessable("a rejection needs a reason", code="reason_required")
    note = b.comment if b.action == "approve" else b.reason
    return {"results": approvals.bulk(req.principal, b.action, list(b.expense_ids), note)}


# ---------------------------------------------------------------- delegation
class DelegationIn(Request):
    model_config = example({"delegate_id": "vp", "from": "2026-12-21", "to": "2027-01-03"})
    delegate_id: Id
    from_: Date = Field(alias="from", description="First tenant-local day (inclusive)")
    to: Date = Field(description="Last tenant-local day (inclusive), not before from; at most 366 days")


class DelegationOut(Response):
    delegate_id: str
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    active: bool = Field(description="Whether the delegation applies right now")


class DelegationState(Response):
    delegation: Optional[DelegationOut] = Field(description="The caller's delegation; null when none is set")


@route(
    bp,
    "/v1/me/delegate",
    method="PUT",
    summary="Name an approval delegate for tenant-local days from..to (replaces the previous one)",
    tag="expenses",
    body=DelegationIn,
    response=DelegationState,
    name="set_delegation",
)
def put_delegation(req: Req) -> dict[str, Any]:
    b: DelegationIn = req.body
    return {
        "delegation": approvals.delegation_to_dict(
            approvals.set_delegation(req.principal, b.delegate_id, b.from_, b.to, (requests.REQUESTS,))
        )
    }


@route(
    bp,
    "/v1/me/delegate",
    summary="The caller's approval delegation (delegation: null when none)",
    tag="expenses",
    response=DelegationState,
    name="get_delegation",
)
def get_delegation(req: Req) -> dict[str, Any]:
    return {"delegation": approvals.delegation_to_dict(approvals.get_delegation(req.principal))}


@route(
    bp,
    "/v1/me/delegate",
    method="DELETE",
    summary="End the caller's delegation now: the caller decides their approvals again",
    tag="expenses",
    response=DelegationState,
    name="remove_delegation",
)
def delete_delegation(req: Req) -> dict[str, Any]:
    approvals.remove_delegation(req.principal, (requests.REQUESTS,))
    return {"delegation": None}


# ---------------------------------------------------------------- budgets
BUDGET_PATH = "/v1/budgets/{unit_type}/{unit_id}/{period}"
BUDGET_PATTERNS = {"unit_type": UNIT_TYPE_PATTERN, "period": PERIOD_PATTERN}


@route(
    bp,
    BUDGET_PATH,
    method="PUT",
    summary="Set a unit's budget for a month (administrators and finance)",
    tag="budgets",
    body=BudgetIn,
    response=BudgetOut,
    errors=(409,),
    path_patterns=BUDGET_PATTERNS,
    name="set_budget",
)
def put_budget(req: Req) -> BudgetOut:
    b: BudgetIn = req.body
    p = req.path
    return BudgetOut(
        **budgets.to_dict(
            budgets.put_budget(
                req.principal,
                budgets.NewLimit(p["unit_type"], p["unit_id"], p["period"], b.amount, b.currency, b.mode, b.thresholds),
            )
        )
    )


@route(
    bp,
    BUDGET_PATH,
    summary="A unit's budget for a month with spent, reserved, remaining and fired alerts",
    tag="budgets",
    response=BudgetOut,
    path_patterns=BUDGET_PATTERNS,
)
def get_budget(req: Req) -> BudgetOut:
    p = req.path
    return BudgetOut(**budgets.to_dict(budgets.get_budget(req.principal, p["unit_type"], p["unit_id"], p["period"])))


# ---------------------------------------------------------------- statistics
@route(
    bp,
    "/v1/expense-stats",
    summary="Totals of submitted and approved expenses for a month by category, stage or unit",
    tag="expenses",
    query=StatsQuery,
    response=StatsOut,
    name="get_expense_stats",
)
def expense_stats(req: Req) -> StatsOut:
    q: StatsQuery = req.query
    groups = expenses.statistics(req.principal, q.period, q.group_by, q.unit_type, q.unit_id)
    return StatsOut(
        period=q.period,
        group_by=q.group_by,
        groups=[
            StatsGroup(key=g.key, total=budgets.money(g.total_cents) or "0.00", count=g.count, currency=g.currency)
            for g in groups
        ],
    )


# ---------------------------------------------------------------- schedule
@bp.schedule(Rate(15, unit=Rate.MINUTES), name="delegation_boundaries")
def delegation_boundaries(event: Any) -> dict[str, int]:
    """Every 15 minutes: waiting approvals of delegations that started or ended move to
    whoever decides now (the queue hides them from the moment of the boundary)."""
    moved = approvals.sweep_delegation_boundaries(queues=(requests.REQUESTS,))
    logger.info("delegation boundaries run", extra={"moved": moved})
    return {"moved": moved}


@bp.schedule(Rate(1, unit=Rate.HOURS), name="budget_alerts")
def budget_alerts(event: Any) -> dict[str, int]:
    """Every hour: send any threshold alert not yet sent, and queue any outbound webhook a
    crashed request left in the outbox. Reads only what is due, never the whole table."""
    queued = fanout.enqueue(budgets.due_tasks())
    swept = webhooks.sweep_outbox()
    logger.info("budget alerts run", extra={"queued": queued, "outbox_swept": swept})
    return {"queued": queued, "outbox_swept": swept}
