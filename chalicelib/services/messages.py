"""The information center: messages to one user, exactly once per dedupe key."""

from __future__ import annotations

from typing import Optional

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.ids import new_id
from chalicelib.models.base import iso, utcnow
from chalicelib.models.messages import InboxCounter, Message, MessageGuard

KINDS = (
    "expense_approval_request",
    "expense_result",
    "expense_paid",
    "plan_reminder",
    "budget_alert",
    "comment",
)


def _cancelled_by_condition(exc: TransactWriteError) -> bool:
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons)


def send(
    tenant_id: str,
    user_id: str,
    kind: str,
    title: str,
    body: str = "",
    ref_type: Optional[str] = None,
    ref_id: Optional[str] = None,
    dedupe_key: Optional[str] = None,
) -> Optional[Message]:
    """Deliver a message. With ``dedupe_key``, a second send with the same key (a retried
    event, a double-fired schedule) delivers nothing and answers None."""
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
    )
    message.set_keys()
    counter = InboxCounter(tenant_id=tenant_id, user_id=user_id)
    counter.set_keys()
    try:
        with TransactWrite(connection=Connection(region=Message.Meta.region)) as tx:
            if dedupe_key:
                guard = MessageGuard(
                    tenant_id=tenant_id, user_id=user_id, dedupe_key=dedupe_key, message_id=message.message_id
                )
                guard.set_keys()
                tx.save(guard, condition=MessageGuard.PK.does_not_exist())
            tx.save(message, condition=Message.PK.does_not_exist())
            tx.update(
                counter,
                actions=[
                    InboxCounter.unread.add(1),
                    InboxCounter.entity.set(InboxCounter),  # the discriminator serializes a class
                    InboxCounter.tenant_id.set(tenant_id),
                    InboxCounter.user_id.set(user_id),
                ],
            )
    except TransactWriteError as exc:
        if dedupe_key and _cancelled_by_condition(exc):
            return None
        raise
    return message
