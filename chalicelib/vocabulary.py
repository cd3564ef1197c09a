"""Every enumeration of the API, once: the request and response models, the OpenAPI
document and the services all derive from these (``typing.get_args`` gives the tuples).

A value a service may store or send must be listed here first, or its response model
would refuse it (issue: a ``team_digest`` message absent from the response's ``kind`` list
made every later ``GET /v1/messages`` of its recipient a 500). Clients ignore values they
do not know (the OpenAPI document says so), so adding one needs no version change.
"""

from typing import Literal, get_args

MessageKind = Literal[
    "expense_approval_request",
    "expense_result",
    "expense_paid",
    "plan_reminder",
    "budget_alert",
    "comment",
    "mention",
    "team_digest",
    "goal_alert",
    "task_assigned",
    "task_reminder",
    "instruction",
    "report_received",
    "approval_request",
    "approval_result",
]
MESSAGE_KINDS: tuple[str, ...] = get_args(MessageKind)

ActivityType = Literal[
    "sales_record",
    "service_record",
    "stage_feedback",
    "signin",
    "report",
    "post",
    "approval",
    "task",
    "calendar",
    "instruction",
    "expense",
]
ACTIVITY_TYPES: tuple[str, ...] = get_args(ActivityType)

ExpenseStatus = Literal["draft", "submitted", "approved", "rejected"]
EXPENSE_STATUSES: tuple[str, ...] = get_args(ExpenseStatus)

# Every other value a service stores and a response model lists (issue 24 item 0's class:
# tests/unit/test_vocabulary.py fails for a response enumeration not defined here).
PaymentStatus = Literal["unpaid", "paid", "failed"]
PAYMENT_STATUSES: tuple[str, ...] = get_args(PaymentStatus)
ApprovalDecision = Literal["approved", "rejected"]
BulkItemStatus = Literal["ok", "error"]
PlanStatus = Literal["planned", "done", "cancelled"]
PLAN_STATUSES: tuple[str, ...] = get_args(PlanStatus)
SigninKind = Literal["check_in", "check_out"]
SIGNIN_KINDS: tuple[str, ...] = get_args(SigninKind)
SigninFlag = Literal[
    "out_of_range",
    "low_accuracy",
    "clock_skew",
    "mock_location",
    "photo_location_mismatch",
    "photo_time_mismatch",
    "late_upload",
]
SIGNIN_FLAGS: tuple[str, ...] = get_args(SigninFlag)
VisitStatus = Literal["open", "closed"]
VisitClosedBy = Literal["user", "check_in", "system"]
UploadStatus = Literal["pending", "ready", "rejected"]
UPLOAD_STATUSES: tuple[str, ...] = get_args(UploadStatus)
StageOutcome = Literal["open", "won", "lost"]
STAGE_OUTCOMES: tuple[str, ...] = get_args(StageOutcome)
Pace = Literal["ahead", "on_track", "behind"]
GoalScopeType = Literal["user", "department"]
OppStatsGroupBy = Literal["stage", "owner"]
ListScope = Literal["mine", "team", "all"]
RelatedType = Literal["account", "contact", "opportunity", "lead"]  # what an activity, task, ... relates to

PushPlatform = Literal["apns", "apns_sandbox", "fcm", "baidu"]
PUSH_PLATFORMS: tuple[str, ...] = get_args(PushPlatform)

# collaboration (contract "Collaboration: tasks, instructions, approvals")
TaskStatus = Literal["open", "done", "cancelled"]
TASK_STATUSES: tuple[str, ...] = get_args(TaskStatus)
TaskCompletion = Literal["any", "all"]
TaskRole = Literal["assigned", "created", "team"]
InstructionRole = Literal["received", "sent"]
ApprovalRequestKind = Literal["leave", "business_trip", "discount", "other"]
APPROVAL_REQUEST_KINDS: tuple[str, ...] = get_args(ApprovalRequestKind)
ApprovalRequestStatus = Literal["submitted", "approved", "rejected", "withdrawn"]
APPROVAL_REQUEST_STATUSES: tuple[str, ...] = get_args(ApprovalRequestStatus)
ApprovalRequestRole = Literal["mine", "waiting"]

UNKNOWN_VALUES_NOTE = "Clients must ignore values they do not know: new ones are added without a version change."

JobKind = Literal["user_moved", "department_head_changed", "department_moved", "user_deactivated"]
JOB_KINDS: tuple[str, ...] = get_args(JobKind)

JobStatus = Literal["queued", "running", "done", "failed"]
JOB_STATUSES: tuple[str, ...] = get_args(JobStatus)

JobCauseType = Literal["user", "department"]

# Work reports
ReportPeriod = Literal["daily", "weekly", "monthly"]
ReportFieldType = Literal["text", "number", "auto"]
ReportSource = Literal[
    "checkins",
    "visits_minutes",
    "plans_done",
    "plans_total",
    "logs",
    "expenses_total",
    "won_amount",
    "new_opportunities",
]
REPORT_SOURCES: tuple[str, ...] = get_args(ReportSource)
ComplianceStatus = Literal["submitted", "late", "missing", "not_due"]

# Offline sync
SyncType = Literal["accounts", "contacts", "opportunities", "leads", "plans", "tasks"]
SYNC_TYPES: tuple[str, ...] = get_args(SyncType)
SyncOp = Literal["upsert", "remove"]
