"""Response shapes that more than one route answers: each feature's own routes and the
opportunity overview, which answers every part in the shape of that part's own route.

Handlers import these (and their own request and response models) and call services;
no handler imports another handler.
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from chalicelib.schemas import LocationOut, PhotoOut, Response
from chalicelib.vocabulary import (
    ApprovalDecision,
    ExpenseStatus,
    PlanStatus,
    SigninKind,
    VisitClosedBy,
    VisitStatus,
)
from chalicelib.vocabulary import SigninFlag as Flag

Status = ExpenseStatus  # an expense's (chalicelib/vocabulary.py)


# ---------------------------------------------------------------- CRM objects
class TeamMemberOut(Response):
    user_id: str
    role: str


class CrmObjectOut(Response):
    id: str
    type: str
    name: str
    owner_id: str
    created_at: str
    updated_at: str
    archived: bool = False
    archived_at: Optional[str] = None


class AccountOut(CrmObjectOut):
    address: Optional[str] = None
    location: Optional[LocationOut] = None
    team: list[TeamMemberOut]


class OpportunityOut(CrmObjectOut):
    account_id: str
    stage: str
    amount: Optional[str] = None
    currency: Optional[str] = None
    closed_at: Optional[str] = None  # when it reached a won or lost stage


# ---------------------------------------------------------------- plans and logs
class PlanOut(Response):
    id: str
    type: Literal["plan"] = "plan"
    user_id: str
    date: str
    title: str
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    remind_minutes_before: Optional[int] = None
    remind_at: Optional[str] = None
    status: PlanStatus
    log_id: Optional[str] = None
    created_at: str
    updated_at: str


class LogOut(Response):
    id: str
    type: Literal["log"] = "log"
    user_id: str
    date: str
    content: str
    plan_id: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    created_at: str
    updated_at: str


# ---------------------------------------------------------------- expenses
class UnitOut(Response):
    type: str
    id: str


class ApprovalOut(Response):
    level: int
    approver_id: str
    decision: ApprovalDecision
    comment: Optional[str] = None
    at: str


class ExcludedSignIn(Response):
    signin_id: str
    flags: list[str]


class MileageOut(Response):
    date: str
    distance_km: str = Field(description="Great-circle path through the day's sign-ins, 3 places")
    rate: str = Field(description="Tenant currency per km")
    signin_ids: list[str]
    excluded: list[ExcludedSignIn] = Field(
        description="Sign-ins left out: an untrustworthy location or implausible_speed"
    )


class ConvertedOut(Response):
    amount: str = Field(description="In the tenant currency, half-even to cents")
    currency: str
    rate: str = Field(description="Tenant currency per unit of the expense's currency")
    rate_date: Optional[str] = Field(description="The day of the rate used (null: already the tenant currency)")


class ExpenseOut(Response):
    id: str
    user_id: str
    amount: str
    currency: str
    converted: Optional[ConvertedOut] = Field(
        default=None, description="Set at submission: the amount in the tenant currency at the rate for occurred_on"
    )
    category: str
    occurred_on: str
    description: str
    unit: UnitOut
    opportunity_id: Optional[str] = None
    stage: Optional[str] = None
    receipt_upload_ids: list[str]
    status: Status
    payment_status: str
    approvals: list[ApprovalOut]
    approver_ids: list[str] = Field(description="who approves, level by level")
    next_approver_id: Optional[str] = Field(default=None, description="whose approval the expense awaits")
    warnings: list[str]
    paid_at: Optional[str] = None
    payment_reference: Optional[str] = None
    mileage: Optional[MileageOut] = None
    version: int
    created_at: str
    updated_at: str
    submitted_at: Optional[str] = None
    decided_at: Optional[str] = None


# ---------------------------------------------------------------- activities
class AttachmentOut(Response):
    upload_id: str
    status: str
    reason: Optional[str] = None
    thumbnail_url: Optional[str] = None
    url: Optional[str] = None


class RelatedOut(Response):
    type: str
    id: str
    name: Optional[str] = None


class ActivityOut(Response):
    id: str
    type: str
    content: str
    author_id: str
    related: list[RelatedOut]
    occurred_at: str
    created_at: str
    comment_count: int
    attachments: list[AttachmentOut] = []
    # type-specific: stage_feedback
    from_stage: Optional[str] = None
    to_stage: Optional[str] = None
    # expense
    expense_id: Optional[str] = None
    amount: Optional[str] = None
    currency: Optional[str] = None
    # signin
    signin_id: Optional[str] = None
    kind: Optional[SigninKind] = None
    plan_id: Optional[str] = None
    visit_id: Optional[str] = None
    distance_m: Optional[float] = None
    # task, instruction, approval (services/collab)
    task_id: Optional[str] = None
    instruction_id: Optional[str] = None
    request_id: Optional[str] = None
    # report
    report_id: Optional[str] = None
    template_id: Optional[str] = None
    period_start: Optional[str] = None


# ---------------------------------------------------------------- sign-ins
class SignInLocationOut(LocationOut):
    accuracy_m: float


class VisitOut(Response):
    id: str
    status: VisitStatus
    started_at: str
    ended_at: Optional[str] = None
    duration_s: Optional[int] = None
    closed_by: Optional[VisitClosedBy] = None
    checkin_id: str
    checkout_id: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None


class SignInOut(Response):
    id: str
    kind: SigninKind
    user_id: str
    client_time: str
    server_time: str
    location: SignInLocationOut
    distance_m: Optional[float] = None
    flags: list[Flag]
    photos: list[PhotoOut]
    visit_id: Optional[str] = None
    visit: Optional[VisitOut] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    plan_id: Optional[str] = None
    note: Optional[str] = None
    mock_location: bool
