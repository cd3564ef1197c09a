"""Collaboration: tasks, instructions, approval requests, and approved leave.

- A task, an instruction or an approval request is one item in its own partition
  (``T#<t>#TASK#<id>`` / ``INSTR#<id>`` / ``AREQ#<id>``).
- Lists are write-time entries, one per viewer, role and filter value, each holding only
  the id (``TaskEntry``, ``InstructionEntry``): a page is one Query of the viewer's
  partition plus one BatchGet of the objects, whatever the tenant's size, and never short
  because of filtering (the filter is in the key). The object keeps the keys of its
  entries (``indexed``) so a change rewrites exactly the entries whose key changes.
- Task GSI1 is the tenant's open tasks by due time (sparse: open tasks with a due time),
  read by the team digest for what is overdue. Task GSI2 is the reminder due index shared
  with plans (``T#~system#REMIND#<minute>``, models/schedule.py): the reminder schedule
  reads one bucket per minute for every kind of reminder.
- An approval request waits in its approver's queue as a ``RequestWait``: the expense
  queue's entry (``ApprovalWait``: the same attributes, the same keying by approver and by
  the requester's manager) in partitions of its own, so ``GET /v1/approvals`` stays
  expenses only.
- ``LeaveSpan``: one per approved leave, in the requester's partition sorted by its last
  day, so "on leave on day D" is one Query of the spans ending on or after D.
"""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.models.base import BaseItem, string_list, tkey
from chalicelib.models.expenses import ApprovalWait
from chalicelib.models.schedule import remind_bucket_pk

NO_DUE = "~"  # sorts after every timestamp: tasks without a due time come last


class Task(BaseItem, discriminator="Task"):
    task_id = UnicodeAttribute()
    title = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    creator_id = UnicodeAttribute()
    assignee_ids = string_list(default=list)
    due_at = UnicodeAttribute(null=True)  # RFC 3339 UTC
    remind_minutes_before = NumberAttribute(null=True)
    remind_at = UnicodeAttribute(null=True)
    related = JSONAttribute(default=list)  # [{"type", "id", "name"}]
    completion = UnicodeAttribute(default="all")
    status = UnicodeAttribute(default="open")
    completions = JSONAttribute(default=list)  # [{"user_id", "done_at"}]
    indexed = string_list(default=list)  # the keys of its list entries
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    version = VersionAttribute()

    @classmethod
    def pk(cls, tenant_id: str, task_id: str) -> str:
        return tkey(tenant_id, "TASK", task_id)

    @classmethod
    def key_of(cls, tenant_id: str, task_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, task_id), "TASK"

    @classmethod
    def fetch(cls, tenant_id: str, task_id: str, consistent_read: bool = True) -> Optional[Task]:
        return cls.lookup(cls.key_of(tenant_id, task_id), consistent_read=consistent_read)

    @classmethod
    def open_pk(cls, tenant_id: str) -> str:
        return tkey(tenant_id, "TASKDUE")

    @classmethod
    def overdue(cls, tenant_id: str, before: str) -> list[Task]:
        """Open tasks due before ``before`` (the digest: cost follows what it reports)."""
        return list(cls.gsi1.query(cls.open_pk(tenant_id), before > cls.GSI1SK))

    def done_by(self, user_id: str) -> bool:
        return any(c.get("user_id") == user_id for c in self.completions or [])

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.task_id)
        if self.status == "open" and self.due_at:
            self.GSI1PK, self.GSI1SK = self.open_pk(self.tenant_id), f"{self.due_at}#{self.task_id}"
        else:
            self.GSI1PK = self.GSI1SK = None
        if self.status == "open" and self.remind_at:
            self.GSI2PK = remind_bucket_pk(self.remind_at[:16])
            self.GSI2SK = f"{self.remind_at}#{self.tenant_id}#{self.task_id}"
        else:
            self.GSI2PK = self.GSI2SK = None


class TaskEntry(BaseItem, discriminator="TaskEntry"):
    """One task in one viewer's list (``role``: assigned | created | team; ``status``:
    the task's, or ``all``), sorted by due time (none last)."""

    task_id = UnicodeAttribute()

    @classmethod
    def partition(cls, tenant_id: str, viewer: str, role: str, status: str) -> str:
        return tkey(tenant_id, "TASKLIST", viewer, role, status)

    @staticmethod
    def sort_key(due_at: Optional[str], task_id: str) -> str:
        return f"{due_at or NO_DUE}#{task_id}"

    @classmethod
    def of_key(cls, tenant_id: str, key: str, task_id: str) -> TaskEntry:
        """The entry stored under ``key`` (``<viewer>|<role>|<status>|<sort key>``)."""
        viewer, role, status, sort = key.split("|", 3)
        entry = cls(tenant_id=tenant_id, task_id=task_id)
        entry.PK, entry.SK = cls.partition(tenant_id, viewer, role, status), sort
        return entry

    def set_keys(self) -> None:  # built by of_key
        pass

    @classmethod
    def page_after(cls, tenant_id: str, viewer: str, role: str, after: Optional[str], n: int) -> list[TaskEntry]:
        """Up to ``n`` of the viewer's entries of ``role`` (every status) after the sort key
        ``after``: 1 Query."""
        pk = cls.partition(tenant_id, viewer, role, "all")
        start = {"PK": {"S": pk}, "SK": {"S": after}} if after else None
        return list(cls.query(pk, limit=n, page_size=n, last_evaluated_key=start))

    @classmethod
    def due_between(cls, tenant_id: str, viewer: str, role: str, status: str, lo: str, hi: str) -> list[TaskEntry]:
        """The viewer's entries of ``role`` and ``status`` due from ``lo`` to ``hi`` (RFC 3339
        UTC): 1 Query per 1 MB."""
        return list(cls.query(cls.partition(tenant_id, viewer, role, status), cls.SK.between(lo, hi + "~")))


class Instruction(BaseItem, discriminator="Instruction"):
    instruction_id = UnicodeAttribute()
    content = UnicodeAttribute()
    author_id = UnicodeAttribute()
    recipient_ids = string_list(default=list)
    related = JSONAttribute(default=list)
    acked_ids = string_list(default=list)  # in the order they acknowledged
    acked_at = string_list(default=list)  # beside acked_ids
    created_at = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, instruction_id: str) -> str:
        return tkey(tenant_id, "INSTR", instruction_id)

    @classmethod
    def key_of(cls, tenant_id: str, instruction_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, instruction_id), "INSTR"

    @classmethod
    def fetch(cls, tenant_id: str, instruction_id: str) -> Optional[Instruction]:
        return cls.lookup(cls.key_of(tenant_id, instruction_id), consistent_read=True)

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.instruction_id)


class InstructionEntry(BaseItem, discriminator="InstructionEntry"):
    """One instruction in one viewer's list (``role``: received | sent; ``view``: all |
    unacked), newest first. The unacked entry goes when the recipient acknowledges (for
    the author: when every recipient has)."""

    instruction_id = UnicodeAttribute()
    viewer = UnicodeAttribute()
    role = UnicodeAttribute()
    view = UnicodeAttribute()
    created_at = UnicodeAttribute()

    @classmethod
    def partition(cls, tenant_id: str, viewer: str, role: str, view: str) -> str:
        return tkey(tenant_id, "INSTRLIST", viewer, role, view)

    def set_keys(self) -> None:
        self.PK = self.partition(self.tenant_id, self.viewer, self.role, self.view)
        self.SK = f"{self.created_at}#{self.instruction_id}"


class ApprovalRequest(BaseItem, discriminator="ApprovalRequest"):
    """GSI1: the requester's requests (``all``), GSI2: the requester's by status; both
    newest first."""

    request_id = UnicodeAttribute()
    user_id = UnicodeAttribute()  # the requester (the approver chain's submitter)
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    details = UnicodeAttribute(default="")
    from_date = UnicodeAttribute(null=True)
    to_date = UnicodeAttribute(null=True)
    amount_cents = NumberAttribute(null=True)
    currency = UnicodeAttribute(null=True)
    related = JSONAttribute(default=list)
    status = UnicodeAttribute(default="submitted")
    approvals = JSONAttribute(default=list)  # [{level, approver_id, decision, comment?, at}]
    approver_ids = string_list(default=list)
    approval_levels = NumberAttribute(default=1)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    submitted_at = UnicodeAttribute()
    decided_at = UnicodeAttribute(null=True)
    version = VersionAttribute()

    @classmethod
    def pk(cls, tenant_id: str, request_id: str) -> str:
        return tkey(tenant_id, "AREQ", request_id)

    @classmethod
    def key_of(cls, tenant_id: str, request_id: str) -> tuple[str, str]:
        return cls.pk(tenant_id, request_id), "AREQ"

    @classmethod
    def fetch(cls, tenant_id: str, request_id: str) -> Optional[ApprovalRequest]:
        return cls.lookup(cls.key_of(tenant_id, request_id), consistent_read=True)

    @property
    def expense_id(self) -> str:
        """Its id under the name the approver chain's waits use (services/expenses/approvals.py)."""
        return self.request_id

    @classmethod
    def mine_pk(cls, tenant_id: str, user_id: str, status: Optional[str] = None) -> str:
        return tkey(tenant_id, "AREQS", user_id, status or "all")

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.request_id)
        sort = f"{self.created_at}#{self.request_id}"
        self.GSI1PK, self.GSI1SK = self.mine_pk(self.tenant_id, self.user_id), sort
        self.GSI2PK, self.GSI2SK = self.mine_pk(self.tenant_id, self.user_id, self.status), sort


class RequestWait(ApprovalWait, discriminator="RequestWait"):
    """A submitted approval request in its current approver's queue: the expense queue's
    entry (``expense_id`` holds the request's id) under partitions of its own."""

    @classmethod
    def queue_pk(cls, tenant_id: str, approver_id: str) -> str:
        return tkey(tenant_id, "AREQWAIT", approver_id)

    @classmethod
    def under_pk(cls, tenant_id: str, manager_id: str) -> str:
        return tkey(tenant_id, "AREQUNDER", manager_id)

    @classmethod
    def key_of(cls, tenant_id: str, request_id: str) -> tuple[str, str]:
        return ApprovalRequest.pk(tenant_id, request_id), "WAIT"

    @classmethod
    def fetch(cls, tenant_id: str, request_id: str) -> Optional[RequestWait]:
        return cls.lookup(cls.key_of(tenant_id, request_id), consistent_read=True)

    @property
    def request_id(self) -> str:
        return self.expense_id


class LeaveSpan(BaseItem, discriminator="LeaveSpan"):
    user_id = UnicodeAttribute()
    request_id = UnicodeAttribute()
    from_date = UnicodeAttribute()
    to_date = UnicodeAttribute()

    @classmethod
    def pk(cls, tenant_id: str, user_id: str) -> str:
        return tkey(tenant_id, "LEAVE", user_id)

    @classmethod
    def ending_from(cls, tenant_id: str, user_id: str, day: str) -> list[LeaveSpan]:
        """The user's approved leaves whose last day is ``day`` or later (1 Query)."""
        return list(cls.query(cls.pk(tenant_id, user_id), day <= cls.SK))

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.user_id), f"{self.to_date}#{self.request_id}"


__all__ = ["Task", "TaskEntry", "Instruction", "InstructionEntry", "ApprovalRequest", "RequestWait", "LeaveSpan"]
