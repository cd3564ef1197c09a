"""The information center: the caller's inbox, unread count, read and read-all."""

from typing import Optional

from chalice import Blueprint
from pydantic import Field

from chalicelib.schemas import Page, PageQuery, Response
from chalicelib.services.inbox import messages
from chalicelib.vocabulary import UNKNOWN_VALUES_NOTE, MessageKind
from chalicelib.web import Req, route

bp = Blueprint(__name__)


class MessagesQuery(PageQuery):
    unread: Optional[bool] = None


class MessageRef(Response):
    type: str
    id: str


class MessageOut(Response):
    id: str
    kind: MessageKind = Field(description=UNKNOWN_VALUES_NOTE)
    title: str
    body: str
    ref: Optional[MessageRef] = None
    created_at: str
    read: bool


class MessagePageOut(Page):
    """A page of the caller's messages, with how many of all their messages are unread."""

    items: list[MessageOut]
    unread_count: int


class ReadOut(MessageOut):
    unread_count: int


class ReadAllOut(Response):
    marked_read: int
    unread_count: int


@route(
    bp,
    "/v1/messages",
    summary="The caller's messages, newest first, with the unread count",
    tag="information center",
    query=MessagesQuery,
    response=MessagePageOut,
)
def list_messages(req: Req) -> MessagePageOut:
    q: MessagesQuery = req.query
    page = messages.list_messages(req.tenant_id, req.user_id, q.unread, q.limit, q.cursor)
    return MessagePageOut(
        items=[MessageOut(**messages.to_dict(m)) for m in page.items],
        next_cursor=page.next_cursor,
        unread_count=page.unread_count,
    )


@route(
    bp,
    "/v1/messages/{message_id}/read",
    method="POST",
    summary="Mark one message read (idempotent)",
    tag="information center",
    response=ReadOut,
    status=200,
    name="mark_message_read",
)
def read_message(req: Req) -> ReadOut:
    message = messages.mark_read(req.tenant_id, req.user_id, req.path["message_id"])
    out = MessageOut(**messages.to_dict(message))
    return ReadOut(**out.model_dump(), unread_count=messages.unread_count(req.tenant_id, req.user_id))


@route(
    bp,
    "/v1/messages/read-all",
    method="POST",
    summary="Mark every unread message read (idempotent)",
    tag="information center",
    response=ReadAllOut,
    status=200,
    name="mark_all_messages_read",
)
def read_all(req: Req) -> ReadAllOut:
    flipped = messages.mark_all_read(req.tenant_id, req.user_id)
    return ReadAllOut(marked_read=flipped, unread_count=messages.unread_count(req.tenant_id, req.user_id))
