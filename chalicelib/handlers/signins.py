"""Fieldwork sign-in: check-in / check-out, visits."""

from typing import Annotated, Any, Literal, Optional, Union

from chalice import Blueprint, Rate
from pydantic import Field, StringConstraints

from chalicelib.observability import logger
from chalicelib.schemas import (
    Coordinate,
    Date,
    Id,
    Location,
    Page,
    PageQuery,
    Request,
    Response,
    Timestamp,
    example,
)
from chalicelib.services.fieldwork import signins, teamday
from chalicelib.services.platform import fanout
from chalicelib.shapes import SignInOut
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Note = Annotated[str, StringConstraints(max_length=2000)]


class SignInLocation(Location):
    accuracy_m: Coordinate(0, 1_000_000)


class SignInIn(Request):
    model_config = example(
        {
            "kind": "check_in",
            "location": {"lat": 51.5072, "lng": -0.1276, "accuracy_m": 12.5},
            "client_time": "2026-12-02T09:03:00+01:00",
            "account_id": "acc_01HZX3K9",
        }
    )
    kind: Literal["check_in", "check_out"]
    location: SignInLocation
    client_time: Timestamp = Field(description="device time of the visit (kept as the visit's time, also offline)")
    account_id: Optional[Id] = None
    opportunity_id: Optional[Id] = None
    plan_id: Optional[Id] = None
    photo_upload_ids: Optional[list[Id]] = Field(default=None, max_length=10)
    note: Optional[Note] = None
    mock_location: Optional[bool] = None
    sent_at: Optional[Timestamp] = Field(
        default=None, description="device clock when sent; lets a queued (offline) sign-in avoid clock_skew"
    )


class SignInPage(Page):
    items: list[SignInOut]


class SignInQuery(PageQuery):
    user_id: Optional[Id] = None
    from_: Optional[Union[Date, Timestamp]] = Field(default=None, alias="from")
    to: Optional[Union[Date, Timestamp]] = None


@route(
    bp,
    "/v1/signins",
    method="POST",
    summary="Check in or check out (flags are recorded, never refused); honours Idempotency-Key",
    tag="signins",
    body=SignInIn,
    response=SignInOut,
    status=201,
    errors=(409,),
    name="create_sign_in",
)
def create_signin(req: Req) -> dict[str, Any]:
    b: SignInIn = req.body
    return signins.create_signin(
        req.principal,
        signins.NewSignIn(
            kind=b.kind,
            lat=b.location.lat,
            lng=b.location.lng,
            accuracy_m=b.location.accuracy_m,
            client_time=b.client_time,
            account_id=b.account_id,
            opportunity_id=b.opportunity_id,
            plan_id=b.plan_id,
            photo_upload_ids=b.photo_upload_ids,
            note=b.note,
            mock_location=bool(b.mock_location),
            sent_at=b.sent_at,
        ),
    )


@route(
    bp,
    "/v1/signins/{signin_id}",
    summary="A sign-in (its user, their managers, admins)",
    tag="signins",
    response=SignInOut,
    name="get_sign_in",
)
def get_signin(req: Req) -> dict[str, Any]:
    return signins.get_signin(req.principal, req.path["signin_id"])


@route(
    bp,
    "/v1/signins",
    summary="Sign-ins of the caller or a subordinate, newest first (from/to: dates in the tenant zone or times)",
    tag="signins",
    query=SignInQuery,
    response=SignInPage,
    name="list_sign_ins",
)
def list_signins(req: Req) -> dict[str, Any]:
    q: SignInQuery = req.query
    return signins.list_signins(req.principal, q.user_id, q.from_, q.to, q.limit, q.cursor)


class TeamDayQuery(PageQuery):
    date: Date


class LastLocation(Response):
    lat: float
    lng: float
    at: str


class TeamDayRow(Response):
    user_id: str
    name: str
    depth: int
    signins: list[SignInOut]
    visits: list[dict[str, Any]]
    first_check_in_at: Optional[str] = None
    last_location: Optional[LastLocation] = None
    flagged_count: int
    distance_km: float


class TeamDayPage(Page):
    items: list[TeamDayRow]


@route(
    bp,
    "/v1/team/day",
    summary="The day (tenant time zone) of each of the caller's subordinates, nearest first",
    tag="signins",
    query=TeamDayQuery,
    response=TeamDayPage,
    name="list_team_day",
)
def team_day(req: Req) -> dict[str, Any]:
    q: TeamDayQuery = req.query
    items, next_cursor = teamday.team_day(req.principal, q.date, q.limit, q.cursor)
    return {"items": items, "next_cursor": next_cursor}


@bp.schedule(Rate(15, unit=Rate.MINUTES), name="close_open_visits")
def close_open_visits(event: Any) -> dict[str, int]:
    """Every 15 minutes: queue one task per due-index shard; the fan-out worker closes the
    visits left open past the end of their day (tenant time zone)."""
    queued = fanout.enqueue(signins.close_tasks())
    logger.info("open visits close queued", extra={"queued": queued})
    return {"queued": queued}
