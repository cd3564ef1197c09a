"""Opportunity overview: an opportunity with everything tied to it."""

from typing import Any, Optional

from chalice import Blueprint

from chalicelib.schemas import Response
from chalicelib.services import overview
from chalicelib.web import Req, route

bp = Blueprint(__name__)


class OverviewOut(Response):
    opportunity: dict[str, Any]
    account: Optional[dict[str, Any]] = None
    plans: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    signins: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    expenses: list[dict[str, Any]]
    activities: list[dict[str, Any]]


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
