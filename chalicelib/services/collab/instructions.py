"""Instructions: an author directs recipients and sees who has acknowledged.

- Who may address whom: services/access (``refs.recipients``; never oneself).
- Who sees one: the author and the author's managers (any depth), with every
  acknowledgement and ``pending_ids``; a recipient, with their own acknowledgement only;
  anyone else 404. Only a recipient acknowledges (else 403 ``not_recipient``); a repeat
  answers the instruction unchanged.
- Lists: write-time ``InstructionEntry`` rows per viewer (received: each recipient; sent:
  the author) and view (``all``, ``unacked``), newest first: a page is 1 Query + 1
  BatchGet. A recipient's unacked row goes in the acknowledgement's own transaction; the
  author's when the last recipient acknowledged.
"""

from __future__ import annotations

import functools
from typing import Any, Optional

from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, Cancelled, Tx
from chalicelib.models.collab import Instruction, InstructionEntry
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.collab import common
from chalicelib.services.inbox import messages
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import iso, utcnow

MAX_RECIPIENTS = 200


# ---------------------------------------------------------------- shape and rights
def _is_overseer(principal: Principal, i: Instruction) -> bool:
    """The author or one of the author's managers (1 GetItem unless the author)."""
    if principal.user_id == i.author_id:
        return True
    author = common.people(i.tenant_id, [i.author_id]).get(i.author_id)
    return author is not None and principal.user_id in author.ancestors


def to_dict(i: Instruction, viewer: str, overseer: bool) -> dict[str, Any]:
    """The author's (and their managers') view: every acknowledgement and who is pending;
    a recipient's: their own."""
    acks = [{"user_id": u, "acked_at": t} for u, t in zip(i.acked_ids or [], i.acked_at or [], strict=False)]
    pending = [r for r in i.recipient_ids or [] if r not in set(i.acked_ids or [])]
    if not overseer:
        acks = [a for a in acks if a["user_id"] == viewer]
        pending = [r for r in pending if r == viewer]
    return {
        "id": i.instruction_id,
        "content": i.content,
        "author_id": i.author_id,
        "recipient_ids": list(i.recipient_ids or []),
        "related": list(i.related or []),
        "acks": acks,
        "pending_ids": pending,
        "created_at": i.created_at,
    }


def view(principal: Principal, i: Instruction) -> dict[str, Any]:
    return to_dict(i, principal.user_id, _is_overseer(principal, i))


def _visible(principal: Principal, instruction_id: str) -> Instruction:
    i = Instruction.fetch(principal.tenant_id, instruction_id)
    if i is None or not (principal.user_id in (i.recipient_ids or []) or _is_overseer(principal, i)):
        raise NotFound("instruction not found")
    return i


def get(principal: Principal, instruction_id: str) -> Instruction:
    return _visible(principal, instruction_id)


# ---------------------------------------------------------------- writes
def _entry(i: Instruction, viewer: str, role: str, view: str) -> InstructionEntry:
    entry = InstructionEntry(
        tenant_id=i.tenant_id,
        instruction_id=i.instruction_id,
        viewer=viewer,
        role=role,
        view=view,
        created_at=i.created_at,
    )
    entry.set_keys()
    return entry


def _entries(i: Instruction) -> list[InstructionEntry]:
    rows = [_entry(i, i.author_id, "sent", v) for v in ("all", "unacked")]
    return rows + [_entry(i, r, "received", v) for r in i.recipient_ids or [] for v in ("all", "unacked")]


def _write_entries(i: Instruction) -> None:
    with InstructionEntry.batch_write() as batch:
        for entry in _entries(i):
            batch.save(entry)


def create(
    principal: Principal, content: str, recipient_ids: list[str], related: Optional[list[dict[str, Any]]]
) -> Instruction:
    """POST /v1/instructions: each recipient gets ``instruction`` (once)."""
    refs.recipients(principal, recipient_ids, allow_self=False)
    checked = common.check_related(principal, related)
    i = Instruction(
        tenant_id=principal.tenant_id,
        instruction_id=new_id("ins"),
        content=content,
        author_id=principal.user_id,
        recipient_ids=list(dict.fromkeys(recipient_ids)),
        related=checked,
        acked_ids=[],
        acked_at=[],
        created_at=iso(utcnow()),
    )
    i.save(condition=Instruction.PK.does_not_exist())
    settle("instruction.entries", functools.partial(_write_entries, i), instruction_id=i.instruction_id)
    for user_id in i.recipient_ids:
        settle("instruction.message", functools.partial(_tell, i, user_id), instruction_id=i.instruction_id)
    extra = {"instruction_id": i.instruction_id}
    resolver = context.of(principal).resolver  # the request's: its settings and what it read
    settle("instruction.activity", lambda: common.record(resolver, "instruction", i.author_id, content, i, extra))
    return i


def _tell(i: Instruction, user_id: str) -> None:
    messages.send(
        messages.NewMessage(
            i.tenant_id,
            user_id,
            "instruction",
            "New instruction",
            i.content[:500],
            ref_type="instruction",
            ref_id=i.instruction_id,
            dedupe_key=f"instruction:{i.instruction_id}:{user_id}",
        )
    )


def redrive(old: Optional[Instruction], i: Instruction) -> None:
    """The instruction's stream record. New: its rows, messages and activity. Acknowledged:
    the unacked rows of whoever acknowledged (and the author's once all have). Idempotent."""
    acked = set(i.acked_ids or [])
    if old is None:
        _write_entries(i)
        for user_id in i.recipient_ids or []:
            _tell(i, user_id)
        extra = {"instruction_id": i.instruction_id}
        common.record(Resolver(i.tenant_id), "instruction", i.author_id, i.content, i, extra)
    gone = [_entry(i, u, "received", "unacked") for u in acked - set(old.acked_ids or [] if old else [])]
    if set(i.recipient_ids or []) <= acked:
        gone.append(_entry(i, i.author_id, "sent", "unacked"))
    with InstructionEntry.batch_write() as batch:
        for entry in gone:
            batch.delete(entry)


def ack(principal: Principal, instruction_id: str) -> Instruction:
    """POST /v1/instructions/{id}/ack: one transaction (the acknowledgement, conditional on
    none yet, and the recipient's unacked row); a repeat changes nothing."""
    i = _visible(principal, instruction_id)
    me = principal.user_id
    if me not in (i.recipient_ids or []):
        raise Forbidden("only a recipient acknowledges an instruction", code="not_recipient")
    if me not in (i.acked_ids or []):
        now = iso(utcnow())
        actions = [
            Instruction.acked_ids.set(Instruction.acked_ids.append([me])),
            Instruction.acked_at.set(Instruction.acked_at.append([now])),
        ]
        try:
            Tx("instruction.ack").update(
                "instruction", i, actions, ~Instruction.acked_ids.contains(me), add_version_condition=False
            ).delete("entry", _entry(i, me, "received", "unacked")).commit()
        except Cancelled as exc:
            if "instruction" not in exc.failed:
                raise
        i = Instruction.fetch(i.tenant_id, i.instruction_id) or i
    if set(i.recipient_ids or []) <= set(i.acked_ids or []):
        done = _entry(i, i.author_id, "sent", "unacked")
        settle("instruction.all_acked", done.delete, instruction_id=i.instruction_id)
    return i


# ---------------------------------------------------------------- lists
def list_page(
    principal: Principal, role: str, unacked: bool, limit: int, cursor: Optional[str]
) -> tuple[list[Instruction], Optional[str]]:
    """Newest first: 1 Query of the caller's rows + 1 BatchGet."""
    view_name = "unacked" if unacked else "all"
    partition = InstructionEntry.partition(principal.tenant_id, principal.user_id, role, view_name)
    scope = ":".join(("instructions", principal.tenant_id, principal.user_id, role, view_name))
    entries, next_cursor = common.page_of(InstructionEntry, partition, None, (limit, cursor, scope), newest=True)
    keys = [Instruction.key_of(principal.tenant_id, e.instruction_id) for e in entries]
    found = {i.instruction_id: i for i in BaseItem.batch_get(keys) if isinstance(i, Instruction)} if keys else {}
    return [found[e.instruction_id] for e in entries if e.instruction_id in found], next_cursor
