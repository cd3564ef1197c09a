"""CRM information: activities, comments, and the feed (scenes, type and time filters)."""

from typing import Annotated, Any, Literal, Optional

from chalice import Blueprint
from pydantic import Field, StringConstraints, field_validator

from chalicelib.schemas import Id, Page, PageQuery, RelatedIn, Request, Response, Text, Timestamp, example
from chalicelib.services.access.visibility import Scene
from chalicelib.services.feed import activities, feed
from chalicelib.shapes import ActivityOut
from chalicelib.web import Req, route

bp = Blueprint(__name__)

ActivityType = activities.ActivityType
UserActivityType = Literal[activities.USER_TYPES]  # the vocabulary lives in services/feed/activities.py
CommentText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]


class ActivityIn(Request):
    model_config = example(
        {
            "type": "sales_record",
            "content": "Demoed the new range; follow up next week",
            "related": [{"type": "account", "id": "acc_01HZX3K9"}],
        }
    )
    type: UserActivityType
    content: Text
    related: list[RelatedIn] = Field(min_length=1, max_length=20)
    occurred_at: Optional[Timestamp] = None
    attachment_upload_ids: Optional[list[Id]] = Field(default=None, max_length=9)


class ActivityPage(Page):
    items: list[ActivityOut]


class CommentIn(Request):
    model_config = example({"content": "Great, send me the quote"})
    content: CommentText
    mentions: Optional[list[Id]] = Field(default=None, max_length=50, description="users to notify (must see it)")


class CommentOut(Response):
    id: str
    activity_id: str
    author_id: str
    content: str
    created_at: str
    mentions: list[str] = []


class CommentPage(Page):
    items: list[CommentOut]


_TYPE = "(" + "|".join(sorted(activities.TYPES)) + ")"
TYPES_PATTERN = f"^{_TYPE}(,{_TYPE})*$"  # published, so a client knows the vocabulary


class FeedQuery(PageQuery):
    scene: Scene = "all"
    types: Optional[Annotated[str, StringConstraints(max_length=400, pattern=TYPES_PATTERN)]] = Field(
        default=None, description="comma-separated activity types"
    )
    since: Optional[Timestamp] = None
    until: Optional[Timestamp] = None

    @field_validator("types")
    @classmethod
    def _known_types(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        parts = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in parts if p not in activities.TYPES]
        if unknown or not parts:
            raise ValueError(f"unknown activity types: {unknown}" if unknown else "no type given")
        return ",".join(parts)


@route(
    bp,
    "/v1/activities",
    method="POST",
    summary="Record an activity related to CRM objects (signin, stage_feedback, expense have their own routes)",
    tag="feed",
    body=ActivityIn,
    response=ActivityOut,
    status=201,
)
def create_activity(req: Req) -> dict[str, Any]:
    b: ActivityIn = req.body
    related = [(r.type, r.id) for r in b.related]
    return feed.create_activity(req.principal, b.type, b.content, related, b.occurred_at, b.attachment_upload_ids)


@route(
    bp,
    "/v1/activities/{activity_id}",
    summary="Read an activity in the caller's range",
    tag="feed",
    response=ActivityOut,
)
def get_activity(req: Req) -> dict[str, Any]:
    return feed.get_activity_for(req.principal, req.path["activity_id"])


@route(
    bp,
    "/v1/activities/{activity_id}/comments",
    method="POST",
    summary="Comment on an activity (notifies its author and the users it mentions)",
    tag="feed",
    body=CommentIn,
    response=CommentOut,
    status=201,
)
def add_comment(req: Req) -> dict[str, Any]:
    return feed.add_comment(req.principal, req.path["activity_id"], req.body.content, req.body.mentions)


@route(
    bp,
    "/v1/activities/{activity_id}/comments",
    summary="An activity's comments, oldest first",
    tag="feed",
    query=PageQuery,
    response=CommentPage,
)
def list_comments(req: Req) -> dict[str, Any]:
    items, next_cursor = feed.list_comments(req.principal, req.path["activity_id"], req.query.limit, req.query.cursor)
    return {"items": items, "next_cursor": next_cursor}


@route(
    bp,
    "/v1/feed",
    summary="CRM information in the caller's visible range, newest first, by scene, type and time",
    tag="feed",
    query=FeedQuery,
    response=ActivityPage,
    name="list_feed",
)
def get_feed(req: Req) -> dict[str, Any]:
    q: FeedQuery = req.query
    query = feed.FeedQuery(q.scene, q.types.split(",") if q.types else None, since=q.since, until=q.until)
    items, next_cursor = feed.feed_page(req.principal, query, limit=q.limit, cursor=q.cursor)
    return {"items": items, "next_cursor": next_cursor}
