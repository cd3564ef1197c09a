"""Offline sync (``GET /v1/sync``) and the calendar feed (a secret ICS URL)."""

from typing import Annotated, Any, Optional

from chalice import Blueprint
from chalice import Response as HttpResponse
from pydantic import Field, StringConstraints, field_validator

from chalicelib.schemas import Query, Response
from chalicelib.services.sync import calfeed, sources
from chalicelib.services.sync import sync as svc
from chalicelib.vocabulary import SyncOp, SyncType
from chalicelib.web import Req, route

bp = Blueprint(__name__)

TYPES_PATTERN = r"^(" + "|".join(sources.TYPES) + r")(,(" + "|".join(sources.TYPES) + r"))*$"


class SyncQuery(Query):
    types: Optional[Annotated[str, StringConstraints(pattern=TYPES_PATTERN, max_length=200)]] = Field(
        default=None, description="comma-separated; default: every type"
    )
    since: Optional[Annotated[str, StringConstraints(min_length=1, max_length=4096)]] = Field(
        default=None, description="a previous answer's `next`; absent: the first sync"
    )
    limit: Annotated[int, Field(ge=1, le=svc.MAX_LIMIT)] = svc.DEFAULT_LIMIT

    @field_validator("types")
    @classmethod
    def _distinct(cls, value: Optional[str]) -> Optional[str]:
        """A type named twice is the same request as naming it once (order does not matter
        either): the schema admits it, so the API does too."""
        return None if value is None else ",".join(dict.fromkeys(value.split(",")))


class SyncChangeOut(Response):
    type: SyncType
    id: str
    op: SyncOp
    object: Optional[dict[str, Any]] = Field(
        default=None, description="the object as its own GET route answers it (upsert only)"
    )


class SyncOut(Response):
    changes: list[SyncChangeOut]
    next: str = Field(description="pass as `since` for what follows")
    has_more: bool = Field(description="true: ask again now with `next`; false: up to date")


class CalendarFeedOut(Response):
    url: str


class CalendarFeedRevoked(Response):
    revoked: bool


@route(
    bp,
    "/v1/sync",
    summary="Changes of the caller's visible range since a previous sync (offline mirror)",
    tag="sync",
    query=SyncQuery,
    response=SyncOut,
    errors=(410,),
    name="get_sync_changes",
)
def get_sync_changes(req: Req) -> dict[str, Any]:
    q = req.query
    types = tuple(q.types.split(",")) if q.types else None
    return svc.sync_page(req.principal, types, q.since, q.limit)


def _feed_url(token: str) -> str:
    """Absolute when the request says where the API is served (API Gateway's domain and
    stage, or a Host header), else the path."""
    path = calfeed.FEED_PATH.format(token=token)
    request = bp.current_request
    ctx: dict[str, Any] = getattr(request, "context", None) or {}
    domain, stage = ctx.get("domainName"), ctx.get("stage")
    if domain and stage and ".execute-api." in domain:
        return f"https://{domain}/{stage}{path}"
    headers: dict[str, Any] = dict(getattr(request, "headers", None) or {})
    host = headers.get("host")
    return f"https://{host}{path}" if host and domain else path


@route(
    bp,
    "/v1/me/calendar-feed",
    method="POST",
    summary="A new secret calendar feed URL for the caller (replaces the previous one)",
    tag="sync",
    response=CalendarFeedOut,
    status=201,
    idempotent=False,
    name="create_calendar_feed",
)
def create_calendar_feed(req: Req) -> dict[str, str]:
    return {"url": _feed_url(calfeed.create_feed(req.principal))}


@route(
    bp,
    "/v1/me/calendar-feed",
    method="DELETE",
    summary="Revoke the caller's calendar feed URL",
    tag="sync",
    response=CalendarFeedRevoked,
    name="remove_calendar_feed",
)
def delete_calendar_feed(req: Req) -> dict[str, bool]:
    calfeed.revoke_feed(req.principal)
    return {"revoked": True}


@route(
    bp,
    "/v1/calendar-feed/{token}",
    summary="The calendar (RFC 5545) behind a secret feed URL: no Authorization, the token is the credential",
    tag="sync",
    auth=False,
    errors=(404,),
    path_patterns={"token": calfeed.TOKEN_PATTERN},
    media_types=("text/calendar",),
    name="get_calendar_feed",
)
def get_calendar_feed(req: Req) -> HttpResponse:
    token = req.path["token"].removesuffix(".ics")
    body = calfeed.feed_ics(token).decode("utf-8")
    return HttpResponse(body=body, status_code=200, headers={"Content-Type": "text/calendar; charset=utf-8"})
