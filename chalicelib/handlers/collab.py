"""Collaboration: tasks, instructions and approval requests."""

from typing import Annotated, Any, Optional

from chalice import Blueprint
from pydantic import BeforeValidator, Field, StringConstraints

from chalicelib.schemas import (
    Currency,
    Date,
    Id,
    Money,
    Page,
    PageQuery,
    RelatedIn,
    Request,
    Response,
    Text,
    Timestamp,
    example,
)
from chalicelib.services.collab import instructions, requests, tasks
from chalicelib.shapes import RelatedOut
from chalicelib.vocabulary import (
    ApprovalRequestKind,
    ApprovalRequestRole,
    ApprovalRequestStatus,
    InstructionRole,
    TaskCompletion,
    TaskRole,
    TaskStatus,
)
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]


def _integral(value: Any) -> Any:
    """JSON ``30.0`` is an integer to JSON Schema: accept it as one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


RemindMinutes = Annotated[int, Field(ge=0, le=tasks.MAX_REMIND_MINUTES), BeforeValidator(_integral)]
Assignees = Annotated[list[Id], Field(min_length=1, max_length=tasks.MAX_ASSIGNEES)]


Related = Annotated[list[RelatedIn], Field(max_length=10)]


# ---------------------------------------------------------------- tasks
class TaskIn(Request):
    model_config = example(
        {
            "title": "Send Acme the revised quote",
            "description": "With the volume discount we discussed",
            "assignee_ids": ["rep_a"],
            "due_at": "2026-12-09T10:00:00Z",
            "remind_minutes_before": 60,
            "related": [{"type": "opportunity", "id": "opp_01HZX3M2"}],
            "completion": "all",
        }
    )
    title: Title
    description: Optional[Text] = None
    assignee_ids: Assignees
    due_at: Optional[Timestamp] = None
    remind_minutes_before: Optional[RemindMinutes] = None
    related: Optional[Related] = None
    completion: TaskCompletion = "all"


class TaskPatch(Request):
    """Only the fields given change; ``null`` clears ``due_at`` or ``remind_minutes_before``."""

    model_config = example({"due_at": "2026-12-10T10:00:00Z", "assignee_ids": ["rep_a", "rep_b"]})
    title: Title = Field(default=None)
    description: Text = Field(default=None)
    assignee_ids: Assignees = Field(default=None)
    due_at: Optional[Timestamp] = None
    remind_minutes_before: Optional[RemindMinutes] = None
    status: TaskStatus = Field(default=None, description='Only "cancelled"')


class CompletionOut(Response):
    user_id: str
    done_at: str


class TaskOut(Response):
    id: str
    title: str
    description: str
    creator_id: str
    assignee_ids: list[str]
    due_at: Optional[str] = None
    remind_minutes_before: Optional[int] = None
    related: list[RelatedOut]
    completion: TaskCompletion
    status: TaskStatus
    completions: list[CompletionOut]
    created_at: str
    updated_at: str


class TaskQuery(PageQuery):
    role: TaskRole = "assigned"
    status: Optional[TaskStatus] = None
    due_before: Optional[Timestamp] = None


class TaskPage(Page):
    items: list[TaskOut]


def _task(t: Any) -> dict[str, Any]:
    return tasks.to_dict(t)


@route(
    bp,
    "/v1/tasks",
    method="POST",
    summary="Assign a task (each assignee but the creator gets task_assigned)",
    tag="collaboration",
    body=TaskIn,
    response=TaskOut,
    status=201,
)
def create_task(req: Req) -> tuple[int, dict[str, Any]]:
    b: TaskIn = req.body
    new = tasks.NewTask(
        title=b.title,
        assignee_ids=b.assignee_ids,
        description=b.description or "",
        due_at=b.due_at,
        remind_minutes_before=b.remind_minutes_before,
        related=[r.model_dump() for r in b.related or []],
        completion=b.completion,
    )
    return 201, _task(tasks.create(req.principal, new))


@route(
    bp,
    "/v1/tasks",
    summary="The caller's tasks (assigned, created, or their subordinates': team), soonest due first",
    tag="collaboration",
    query=TaskQuery,
    response=TaskPage,
)
def list_tasks(req: Req) -> dict[str, Any]:
    q: TaskQuery = req.query
    items, next_cursor = tasks.list_page(req.principal, q.role, q.status, q.due_before, q.limit, q.cursor)
    return {"items": [_task(t) for t in items], "next_cursor": next_cursor}


@route(bp, "/v1/tasks/{task_id}", summary="One task", tag="collaboration", response=TaskOut)
def get_task(req: Req) -> dict[str, Any]:
    return _task(tasks.get(req.principal, req.path["task_id"]))


@route(
    bp,
    "/v1/tasks/{task_id}",
    method="PATCH",
    summary="Edit or cancel a task (its creator; re-dating moves the reminder)",
    tag="collaboration",
    body=TaskPatch,
    response=TaskOut,
    errors=(409,),
    name="update_task",
)
def patch_task(req: Req) -> dict[str, Any]:
    b: TaskPatch = req.body
    changes = {name: getattr(b, name) for name in b.model_fields_set}
    return _task(tasks.update(req.principal, req.path["task_id"], changes))


@route(
    bp,
    "/v1/tasks/{task_id}/complete",
    method="POST",
    summary="Complete a task for oneself (an assignee)",
    tag="collaboration",
    response=TaskOut,
    idempotent=True,
    errors=(409,),
)
def complete_task(req: Req) -> dict[str, Any]:
    return _task(tasks.complete(req.principal, req.path["task_id"], True))


@route(
    bp,
    "/v1/tasks/{task_id}/reopen",
    method="POST",
    summary="Reopen a task one completed (an assignee)",
    tag="collaboration",
    response=TaskOut,
    idempotent=True,
    errors=(409,),
)
def reopen_task(req: Req) -> dict[str, Any]:
    return _task(tasks.complete(req.principal, req.path["task_id"], False))


# ---------------------------------------------------------------- instructions
class InstructionIn(Request):
    model_config = example(
        {
            "content": "Visit every key account in your area before Friday and report back",
            "recipient_ids": ["rep_a", "rep_b"],
            "related": [{"type": "account", "id": "acc_01HZX3K9"}],
        }
    )
    content: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    recipient_ids: Annotated[list[Id], Field(min_length=1, max_length=instructions.MAX_RECIPIENTS)]
    related: Optional[Related] = None


class AckOut(Response):
    user_id: str
    acked_at: str


class InstructionOut(Response):
    id: str
    content: str
    author_id: str
    recipient_ids: list[str]
    related: list[RelatedOut]
    acks: list[AckOut] = Field(description="Every acknowledgement for the author and their managers; a recipient's own")
    pending_ids: list[str] = Field(description="Recipients yet to acknowledge (for a recipient: themselves or none)")
    created_at: str


class InstructionQuery(PageQuery):
    role: InstructionRole = "received"
    unacked: bool = False


class InstructionPage(Page):
    items: list[InstructionOut]


@route(
    bp,
    "/v1/instructions",
    method="POST",
    summary="Send an instruction (each recipient gets an instruction message)",
    tag="collaboration",
    body=InstructionIn,
    response=InstructionOut,
    status=201,
)
def create_instruction(req: Req) -> tuple[int, dict[str, Any]]:
    b: InstructionIn = req.body
    related = [r.model_dump() for r in b.related or []]
    created = instructions.create(req.principal, b.content, b.recipient_ids, related)
    return 201, instructions.view(req.principal, created)


@route(
    bp,
    "/v1/instructions",
    summary="Instructions the caller received or sent, newest first (unacked=true: still to acknowledge)",
    tag="collaboration",
    query=InstructionQuery,
    response=InstructionPage,
)
def list_instructions(req: Req) -> dict[str, Any]:
    q: InstructionQuery = req.query
    items, next_cursor = instructions.list_page(req.principal, q.role, q.unacked, q.limit, q.cursor)
    sent = q.role == "sent"
    return {
        "items": [instructions.to_dict(i, req.user_id, overseer=sent) for i in items],
        "next_cursor": next_cursor,
    }


@route(bp, "/v1/instructions/{instruction_id}", summary="One instruction", tag="collaboration", response=InstructionOut)
def get_instruction(req: Req) -> dict[str, Any]:
    return instructions.view(req.principal, instructions.get(req.principal, req.path["instruction_id"]))


@route(
    bp,
    "/v1/instructions/{instruction_id}/ack",
    method="POST",
    summary="Acknowledge an instruction (a recipient; idempotent)",
    tag="collaboration",
    response=InstructionOut,
    idempotent=True,
    name="acknowledge_instruction",
)
def ack_instruction(req: Req) -> dict[str, Any]:
    acked = instructions.ack(req.principal, req.path["instruction_id"])
    return instructions.view(req.principal, acked)


# ---------------------------------------------------------------- approval requests
Note = Annotated[str, StringConstraints(max_length=2000)]


class ApprovalRequestIn(Request):
    model_config = example(
        {
            "kind": "leave",
            "title": "Annual leave",
            "details": "Family visit",
            "from_date": "2026-12-21",
            "to_date": "2026-12-23",
        }
    )
    kind: ApprovalRequestKind
    title: Title
    details: Optional[Text] = None
    from_date: Optional[Date] = Field(default=None, description="Tenant-local first day (leave, business_trip)")
    to_date: Optional[Date] = Field(default=None, description="Tenant-local last day (leave, business_trip)")
    amount: Optional[Money] = Field(default=None, description="Above the tenant approval_limit: two levels")
    currency: Optional[Currency] = None
    related: Optional[Related] = None


class DecisionIn(Request):
    model_config = example({"comment": "Enjoy"})
    comment: Optional[Note] = None


class RejectionIn(Request):
    model_config = example({"reason": "We need you at the expo that week"})
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class RequestApprovalOut(Response):
    level: int
    approver_id: str
    decision: str
    comment: Optional[str] = None
    at: str


class ApprovalRequestOut(Response):
    id: str
    kind: ApprovalRequestKind
    title: str
    details: str
    from_date: Optional[str] = None
    to_date: Optional[str] = None
    amount: Optional[str] = None
    currency: Optional[str] = None
    related: list[RelatedOut]
    requester_id: str
    status: ApprovalRequestStatus
    approvals: list[RequestApprovalOut]
    approver_ids: list[str]
    next_approver_id: Optional[str] = None
    created_at: str
    updated_at: str
    decided_at: Optional[str] = None


class ApprovalRequestQuery(PageQuery):
    role: ApprovalRequestRole = "mine"
    status: Optional[ApprovalRequestStatus] = None


class ApprovalRequestPage(Page):
    items: list[ApprovalRequestOut]


@route(
    bp,
    "/v1/approval-requests",
    method="POST",
    summary="Ask for approval (leave, business trip, discount, other) on the expense approver chain",
    tag="collaboration",
    body=ApprovalRequestIn,
    response=ApprovalRequestOut,
    status=201,
)
def create_approval_request(req: Req) -> tuple[int, dict[str, Any]]:
    b: ApprovalRequestIn = req.body
    new = requests.NewRequest(
        kind=b.kind,
        title=b.title,
        details=b.details or "",
        from_date=b.from_date,
        to_date=b.to_date,
        amount=b.amount,
        currency=b.currency,
        related=[r.model_dump() for r in b.related or []],
    )
    return 201, requests.to_dict(requests.create(req.principal, new))


@route(
    bp,
    "/v1/approval-requests",
    summary="The caller's requests (mine, newest first) or those waiting for their decision (waiting, oldest first)",
    tag="collaboration",
    query=ApprovalRequestQuery,
    response=ApprovalRequestPage,
)
def list_approval_requests(req: Req) -> dict[str, Any]:
    q: ApprovalRequestQuery = req.query
    items, next_cursor = requests.list_page(req.principal, q.role, q.status, q.limit, q.cursor)
    return {"items": [requests.to_dict(r) for r in items], "next_cursor": next_cursor}


@route(
    bp,
    "/v1/approval-requests/{request_id}",
    summary="One approval request (requester, their managers, its approvers, admins)",
    tag="collaboration",
    response=ApprovalRequestOut,
)
def get_approval_request(req: Req) -> dict[str, Any]:
    return requests.to_dict(requests.get(req.principal, req.path["request_id"]))


@route(
    bp,
    "/v1/approval-requests/{request_id}/approve",
    method="POST",
    summary="Approve at the caller's level (still submitted while a level remains)",
    tag="collaboration",
    body=DecisionIn,
    response=ApprovalRequestOut,
    idempotent=True,
    errors=(409,),
)
def approve_approval_request(req: Req) -> dict[str, Any]:
    b: DecisionIn = req.body
    return requests.to_dict(requests.decide(req.principal, req.path["request_id"], True, b.comment))


@route(
    bp,
    "/v1/approval-requests/{request_id}/reject",
    method="POST",
    summary="Reject an approval request",
    tag="collaboration",
    body=RejectionIn,
    response=ApprovalRequestOut,
    idempotent=True,
    errors=(409,),
)
def reject_approval_request(req: Req) -> dict[str, Any]:
    b: RejectionIn = req.body
    return requests.to_dict(requests.decide(req.principal, req.path["request_id"], False, b.reason))


@route(
    bp,
    "/v1/approval-requests/{request_id}/withdraw",
    method="POST",
    summary="Withdraw one's own request while it waits",
    tag="collaboration",
    response=ApprovalRequestOut,
    idempotent=True,
    errors=(409,),
)
def withdraw_approval_request(req: Req) -> dict[str, Any]:
    return requests.to_dict(requests.withdraw(req.principal, req.path["request_id"]))
