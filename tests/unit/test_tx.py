"""models/base.Tx: the one transaction helper. A failed condition comes back as the domain
error its item declared, else as Cancelled naming the failed items; nothing is written."""

from __future__ import annotations

import pytest

from chalicelib.errors import Conflict
from chalicelib.models.base import Cancelled, Tx, condition_failed
from chalicelib.models.messages import InboxCounter, Message, inbox_pk


def message(message_id: str) -> Message:
    return Message(
        tenant_id="acme",
        user_id="rep_a",
        message_id=message_id,
        kind="comment",
        title="t",
        body="",
        created_at="2030-01-01T00:00:00Z",
        read=False,
    )


def stored() -> set[str]:
    return {m.message_id for m in Message.query(inbox_pk("acme", "rep_a")) if isinstance(m, Message)}


def counter() -> InboxCounter:
    item = InboxCounter(tenant_id="acme", user_id="rep_a")
    item.set_keys()
    return item


def test_commit_writes_every_item(aws):
    Tx("t").put("a", message("m1"), Message.PK.does_not_exist()).put("b", message("m2")).commit()
    assert stored() == {"m1", "m2"}


def test_failed_condition_raises_the_error_its_item_declared_and_writes_nothing(aws):
    message("m1").save()
    conflict = Conflict("taken", code="taken")
    tx = Tx("t").put("new", message("m2"), Message.PK.does_not_exist())
    tx.put("old", message("m1"), Message.PK.does_not_exist(), error=conflict)
    with pytest.raises(Conflict) as raised:
        tx.commit()
    assert raised.value is conflict
    assert condition_failed(raised.value.__cause__)
    assert stored() == {"m1"}


def test_failed_condition_without_a_declared_error_names_the_failed_items(aws):
    message("m1").save()
    tx = Tx("t").put("old", message("m1"), Message.PK.does_not_exist())
    tx.update("counter", counter(), [InboxCounter.unread.add(1)])
    with pytest.raises(Cancelled) as raised:
        tx.commit()
    assert raised.value.failed == {"old"} and not raised.value.conflict
