"""Opportunity overview: an opportunity with everything tied to it."""

from typing import Any, Optional

from chalice import Blueprint

from chalicelib.schemas import PhotoOut, Response
from chalicelib.services.flows import overview
from chalicelib.shapes import AccountOut, ActivityOut, ExpenseOut, LogOut, OpportunityOut, PlanOut, SignInOut
from chalicelib.web import Req, route

bp = Blueprint(__name__)


class OverviewPhotoOut(PhotoOut):
    signin_id: str


class OverviewOut(Response):
    """Each part in the shape its own route answers (sign-in photos also flat, with their sign-in)."""

    opportunity: OpportunityOut
    account: Optional[AccountOut] = None
    plans: list[PlanOut]
    logs: list[LogOut]
    signins: list[SignInOut]
    photos: list[OverviewPhotoOut]
    expenses: list[ExpenseOut]
    activities: list[ActivityOut]


@route(
    bp,
    "/v1/opportunities/{object_id}/overview",
    summary="An opportunity with its account, plans, logs, sign-ins, photos, expenses and activities",
    tag="crm",
    response=OverviewOut,
    name="get_opportunity_overview",
)  # {object_id}: API Gateway needs the same variable name as the sibling /v1/opportunities/{object_id}
def opportunity_overview(req: Req) -> dict[str, Any]:
    return overview.overview(req.principal, req.path["object_id"])
