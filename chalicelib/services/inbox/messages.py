"""The information center: messages to one user, exactly once per dedupe key.

The unread count is a counter item kept exact by transactions: ``send`` adds 1 together
with the new (unread) message; marking read subtracts 1 together with flipping ``read``
under the condition that it was still unread, so repeats and races cannot double-count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional

from chalicelib import cursor
from chalicelib.errors import NotFound, ServiceUnavailable, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import Cancelled, Tx
from chalicelib.models.messages import InboxCounter, Message, MessageGuard, inbox_pk
from chalicelib.timeutil import iso, utcnow
from chalicelib.vocabulary import MESSAGE_KINDS

KINDS = MESSAGE_KINDS  # chalicelib/vocabulary.py: the one list, shared with the response model
READ_ALL_CHUNK = 25  # messages per read-all transaction (plus the counter: limit is 100)
TX_ATTEMPTS = 4


@dataclass(frozen=True)
class NewMessage:
    """A message to deliver to ``user_id``'s information center: its kind and text, what
    it refers to, a ``dedupe_key`` that makes a second send of it deliver nothing, and
    ``push_expires_at`` (RFC 3339), after which its push is worthless (a reminder's start)."""

    tenant_id: str
    user_id: str
    kind: str
    title: str
    body: str = ""
    ref_type: Optional[str] = None
    ref_id: Optional[str] = None
    dedupe_key: Optional[str] = None
    push_expires_at: Optional[str] = None


def send(new: NewMessage) -> Optional[Message]:
    """Deliver a message. With ``dedupe_key``, a second send with the same key (a retried
    event, a double-fired schedule) delivers nothing and answers None. ``push_expires_at``
    (RFC 3339): its push is worthless after then (a reminder's start), so it expires."""
    tenant_id, user_id, kind, title, body = new.tenant_id, new.user_id, new.kind, new.title, new.body
    ref_type, ref_id, dedupe_key, push_expires_at = new.ref_type, new.ref_id, new.dedupe_key, new.push_expires_at
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    message = Message(
        tenant_id=tenant_id,
        user_id=user_id,
        message_id=new_id("msg"),
        kind=kind,
        title=title,
        body=body,
        ref_type=ref_type,
        ref_id=ref_id,
        created_at=iso(utcnow()),
        read=False,
        push_expires_at=push_expires_at,
    )
    message.set_keys()
    counter = InboxCounter(tenant_id=tenant_id, user_id=user_id)
    counter.set_keys()
    for attempt in range(TX_ATTEMPTS):
        tx = Tx("message")
        if dedupe_key:
            guard = MessageGuard(
                tenant_id=tenant_id, user_id=user_id, dedupe_key=dedupe_key, message_id=message.message_id
            )
            tx.put("guard", guard, MessageGuard.PK.does_not_exist())
        tx.put("message", message, Message.PK.does_not_exist())
        tx.update("counter", counter, _counter_actions(counter, +1))
        try:
            tx.commit()
            return message
        except Cancelled as exc:
            if dedupe_key and exc.failed:
                return None
            if exc.conflict and attempt + 1 < TX_ATTEMPTS:
                time.sleep(0.02 * (attempt + 1))
                continue
            raise
    raise AssertionError("unreachable")  # pragma: no cover


def _counter_actions(counter: InboxCounter, delta: int) -> list[Any]:
    return [
        InboxCounter.unread.add(delta),
        InboxCounter.entity.set(InboxCounter),  # the discriminator serializes a class, not its name
        InboxCounter.tenant_id.set(counter.tenant_id),
        InboxCounter.user_id.set(counter.user_id),
    ]


# ---------------------------------------------------------------- reading
def to_dict(m: Message) -> dict[str, Any]:
    """A message's API shape."""
    ref = {"type": m.ref_type, "id": m.ref_id} if m.ref_type and m.ref_id else None
    return {
        "id": m.message_id,
        "kind": m.kind,
        "title": m.title,
        "body": m.body or "",
        "ref": ref,
        "created_at": m.created_at,
        "read": bool(m.read),
    }


def unread_count(tenant_id: str, user_id: str) -> int:
    counter = InboxCounter.fetch(tenant_id, user_id)
    return max(0, int(counter.unread or 0)) if counter is not None else 0


@dataclass(frozen=True)
class MessagePage:
    items: list[Message]
    next_cursor: Optional[str]
    unread_count: int


def list_messages(
    tenant_id: str, user_id: str, unread: Optional[bool], limit: int, cursor_token: Optional[str]
) -> MessagePage:
    """Newest first. ``unread=True``: the sparse unread index; ``False``: read ones only;
    None: all. Pages are full unless they are the last."""
    scope = f"messages:{tenant_id}:{user_id}:{unread}"
    position = cursor.decode(cursor_token, scope)
    after = position.get("sk") if position else None
    if after is not None and not Message.is_sk(after):
        raise Unprocessable("cursor is not valid for this query", code="invalid_cursor")
    pk = inbox_pk(tenant_id, user_id)
    if unread:
        upk = Message.unread_pk(tenant_id, user_id)
        esk = Message.start_after(tenant_id, user_id, after, unread_index=True) if after else None
        results = Message.gsi1.query(
            upk, scan_index_forward=False, limit=limit + 1, page_size=limit + 1, last_evaluated_key=esk
        )
    else:
        esk = Message.start_after(tenant_id, user_id, after, unread_index=False) if after else None
        results = Message.query(
            pk,
            Message.SK.startswith(Message.SK_PREFIX),
            filter_condition=(Message.read == True) if unread is False else None,  # noqa: E712
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=esk,
        )
    items = list(results)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = cursor.encode({"sk": items[-1].SK}, scope)
    return MessagePage(items, next_cursor, unread_count(tenant_id, user_id))


def get_message(tenant_id: str, user_id: str, message_id: str) -> Message:
    message = Message.fetch(tenant_id, user_id, message_id)
    if message is None:
        raise NotFound("message not found")
    return message


# ---------------------------------------------------------------- marking read
def _mark_read_actions() -> list[Any]:
    return [Message.read.set(True), Message.GSI1PK.remove(), Message.GSI1SK.remove()]


def mark_read(tenant_id: str, user_id: str, message_id: str) -> Message:
    """Idempotent: the first call flips the message and decrements the counter, in one
    transaction conditioned on the message being unread; repeats change nothing."""
    return _mark_read(tenant_id, user_id, get_message(tenant_id, user_id, message_id))[0]


def _mark_read(tenant_id: str, user_id: str, message: Message) -> tuple[Message, bool]:
    """(the message, whether this call flipped it)."""
    counter = InboxCounter(tenant_id=tenant_id, user_id=user_id)
    counter.set_keys()
    for attempt in range(TX_ATTEMPTS):
        if message.read:
            return message, False
        tx = Tx("message_read").update("message", message, _mark_read_actions(), Message.read == False)  # noqa: E712
        tx.update("counter", counter, _counter_actions(counter, -1))
        try:
            tx.commit()
            message.read = True
            return message, True
        except Cancelled as exc:
            if not (exc.failed or exc.conflict):
                raise
            time.sleep(0.01 * attempt)
            message = get_message(tenant_id, user_id, message.message_id)
    if message.read:
        return message, False
    raise ServiceUnavailable("the message is busy, retry shortly", code="retry_later")


def mark_all_read(tenant_id: str, user_id: str) -> int:
    """Marks every currently unread message read; answers how many this call flipped.
    Chunks of messages go in one transaction each with the counter's decrement; a chunk
    that lost a race (one of its messages was read meanwhile) is redone one by one."""
    upk = Message.unread_pk(tenant_id, user_id)
    unread = list(Message.gsi1.query(upk))
    counter = InboxCounter(tenant_id=tenant_id, user_id=user_id)
    counter.set_keys()
    flipped = 0
    for start in range(0, len(unread), READ_ALL_CHUNK):
        chunk = unread[start : start + READ_ALL_CHUNK]
        tx = Tx("messages_read")
        for i, message in enumerate(chunk):
            tx.update(f"message{i}", message, _mark_read_actions(), Message.read == False)  # noqa: E712
        tx.update("counter", counter, _counter_actions(counter, -len(chunk)))
        try:
            tx.commit()
            flipped += len(chunk)
        except Cancelled as exc:
            if not (exc.failed or exc.conflict):
                raise
            for message in chunk:
                current = get_message(tenant_id, user_id, message.message_id)
                flipped += _mark_read(tenant_id, user_id, current)[1]
    return flipped
