"""Tasks: a creator assigns people a piece of work with an optional due time and reminder.

- Who may assign whom: services/access (``refs.recipients``; themselves included).
- Who sees one: the creator, the assignees and their managers (any depth); anyone else
  404. Only the creator edits or cancels (else 403 ``not_creator``); an assignee completes
  or reopens for themselves (else 403 ``not_assignee``). A cancelled task is 409.
- Status: ``done`` once one assignee (``any``) or every assignee (``all``) completed.
- Lists: one write-time ``TaskEntry`` per viewer, role (assigned, created, team: the
  assignees' managers) and status (plus ``all``), sorted by due time: a page is 1 Query +
  1 BatchGet. The task keeps its entries' keys; each change rewrites only those whose key
  changed (after the task's own write; retried, see services/platform/aftercommit.py).
- Reminders: ``remind_at = due_at - remind_minutes_before`` keys the task into the due
  index the reminder schedule reads (services/schedule/reminders.py, ``REMINDERS``); each
  assignee not done gets one ``task_reminder``, deduplicated per assignee and due time,
  so a double-fired schedule sends nothing twice, and a re-dated task is reminded at its
  new time. A task no longer open leaves the index.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional

from pynamodb.exceptions import PutError

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, condition_failed
from chalicelib.models.collab import Task, TaskEntry
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.collab import common
from chalicelib.services.inbox import messages
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import format_local, iso, normalize, parse_timestamp, utcnow

MAX_ASSIGNEES = 50
MAX_REMIND_MINUTES = 7 * 24 * 60
ROLES = ("assigned", "created", "team")
STATUSES = ("open", "done", "cancelled")


@dataclass(frozen=True)
class NewTask:
    title: str
    assignee_ids: list[str]
    description: str = ""
    due_at: Optional[str] = None
    remind_minutes_before: Optional[int] = None
    related: Optional[list[dict[str, Any]]] = None
    completion: str = "all"


# ---------------------------------------------------------------- shape
def to_dict(t: Task) -> dict[str, Any]:
    return {
        "id": t.task_id,
        "title": t.title,
        "description": t.description or "",
        "creator_id": t.creator_id,
        "assignee_ids": list(t.assignee_ids or []),
        "due_at": t.due_at,
        "remind_minutes_before": None if t.remind_minutes_before is None else int(t.remind_minutes_before),
        "related": list(t.related or []),
        "completion": t.completion,
        "status": t.status,
        "completions": list(t.completions or []),
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    }


# ---------------------------------------------------------------- rules
def _arm(t: Task, now: datetime) -> None:
    """``remind_at`` from the due time and lead (already past but not yet due: now)."""
    t.remind_at = None
    if t.remind_minutes_before is None or not t.due_at or t.status != "open":
        return
    due = parse_timestamp(t.due_at, "due_at")
    if due <= now:
        return
    t.remind_at = iso(max(due - timedelta(minutes=int(t.remind_minutes_before)), now))


def _settle_status(t: Task) -> None:
    if t.status == "cancelled":
        return
    done = {c["user_id"] for c in t.completions or []}
    assignees = set(t.assignee_ids or [])
    finished = bool(done & assignees) if t.completion == "any" else bool(assignees) and assignees <= done
    t.status = "done" if finished else "open"


def _check_reminder(due_at: Optional[str], minutes: Optional[float]) -> None:
    if minutes is not None and not due_at:
        raise Unprocessable("a reminder needs a due_at", code="due_at_required")


def can_view(principal: Principal, t: Task) -> bool:
    """The creator, the assignees and their managers (any depth): 1 BatchGet at most."""
    involved = {t.creator_id, *(t.assignee_ids or [])}
    if principal.user_id in involved:
        return True
    return principal.user_id in common.managers_of(common.people(t.tenant_id, involved), involved)


def readers(t: Task) -> set[str]:
    """Who lists the task (its creator, assignees and their managers, any depth) as of its
    last write: the people ``can_view`` admits, kept by every write of the task and by
    ``follow_move`` after a reporting change (the viewers of its list entries). No read."""
    return {key.split("|", 1)[0] for key in t.indexed or []}


def _visible(principal: Principal, task_id: str) -> Task:
    t = Task.fetch(principal.tenant_id, task_id)
    if t is None or not can_view(principal, t):
        raise NotFound("task not found")
    return t


def get(principal: Principal, task_id: str) -> Task:
    return _visible(principal, task_id)


# ---------------------------------------------------------------- list entries
def entry_keys(t: Task, managers: dict[str, set[str]]) -> set[str]:
    """``viewer|role|status|sort`` of every list entry the task has now (``managers``:
    each assignee's managers)."""
    sort = TaskEntry.sort_key(t.due_at, t.task_id)
    viewers = {(t.creator_id, "created")} | {(a, "assigned") for a in t.assignee_ids or []}
    viewers |= {(m, "team") for a in t.assignee_ids or [] for m in managers.get(a, set())}
    return {f"{v}|{role}|{status}|{sort}" for v, role in viewers for status in (t.status, "all")}


def _managers(t: Task) -> dict[str, set[str]]:
    users = common.people(t.tenant_id, t.assignee_ids or [])
    return {a: set(users[a].ancestors) if a in users else set() for a in t.assignee_ids or []}


def _sync_entries(t: Task, before: set[str]) -> None:
    """Write the entries the task gained, delete those it lost (BatchWrite)."""
    now = set(t.indexed or [])
    with TaskEntry.batch_write() as batch:
        for key in sorted(now - before):
            batch.save(TaskEntry.of_key(t.tenant_id, key, t.task_id))
        for key in sorted(before - now):
            batch.delete(TaskEntry.of_key(t.tenant_id, key, t.task_id))


def _save(t: Task, before: set[str], condition: Any = None) -> None:
    """Store the task (conditional on the version read) then its entries."""
    t.indexed = sorted(entry_keys(t, _managers(t)))
    try:
        t.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            raise Conflict("the task changed meanwhile; reload and retry", code="version_conflict") from None
        raise
    settle("task.entries", lambda: _sync_entries(t, before), task_id=t.task_id)


# ---------------------------------------------------------------- writes
def create(principal: Principal, new: NewTask) -> Task:
    """POST /v1/tasks: every reference checked before anything is written."""
    refs.recipients(principal, new.assignee_ids, allow_self=True)
    related = common.check_related(principal, new.related)
    due_at = normalize(new.due_at, "due_at")
    _check_reminder(due_at, new.remind_minutes_before)
    now = utcnow()
    t = Task(
        tenant_id=principal.tenant_id,
        task_id=new_id("tsk"),
        title=new.title,
        description=new.description or "",
        creator_id=principal.user_id,
        assignee_ids=list(dict.fromkeys(new.assignee_ids)),
        due_at=due_at,
        remind_minutes_before=new.remind_minutes_before,
        related=related,
        completion=new.completion,
        status="open",
        completions=[],
        created_at=iso(now),
        updated_at=iso(now),
    )
    _arm(t, now)
    _save(t, set(), Task.PK.does_not_exist())
    _announce(t, t.assignee_ids)
    extra = {"task_id": t.task_id}
    resolver = context.of(principal).resolver  # the request's: its settings and what it read
    settle("task.activity", lambda: common.record(resolver, "task", t.creator_id, t.title, t, extra))
    return t


def _announce(t: Task, user_ids: list[str]) -> None:
    """``task_assigned`` to each of these assignees but the creator (once per task and user)."""
    for user_id in user_ids:
        if user_id != t.creator_id:
            settle("task.assigned", functools.partial(_assigned, t, user_id), task_id=t.task_id)


def _assigned(t: Task, user_id: str) -> None:
    messages.send(
        messages.NewMessage(
            t.tenant_id,
            user_id,
            "task_assigned",
            f"New task: {t.title}",
            f"Due {t.due_at}" if t.due_at else "",
            ref_type="task",
            ref_id=t.task_id,
            dedupe_key=f"task_assigned:{t.task_id}:{user_id}",
        )
    )


def update(principal: Principal, task_id: str, changes: dict[str, Any]) -> Task:
    """PATCH /v1/tasks/{id} (the creator): re-dating moves the reminder, new assignees are
    told, ``status: cancelled`` cancels."""
    t = _visible(principal, task_id)
    if t.creator_id != principal.user_id:
        raise Forbidden("only the task's creator may change it", code="not_creator")
    if "status" in changes and changes["status"] != "cancelled":
        raise Unprocessable("status can only be set to cancelled", code="invalid_status")
    if t.status == "cancelled" and changes.get("status") != "cancelled":
        raise Conflict("the task is cancelled", code="invalid_state")
    added: list[str] = []
    if changes.get("assignee_ids") is not None:
        refs.recipients(principal, changes["assignee_ids"], allow_self=True)
        wanted = list(dict.fromkeys(changes["assignee_ids"]))
        added = [a for a in wanted if a not in (t.assignee_ids or [])]
        t.assignee_ids = wanted
        t.completions = [c for c in t.completions or [] if c["user_id"] in wanted]
    if "due_at" in changes:
        t.due_at = normalize(changes["due_at"], "due_at")
    if "remind_minutes_before" in changes:
        t.remind_minutes_before = changes["remind_minutes_before"]
    _check_reminder(t.due_at, t.remind_minutes_before)
    for name in ("title", "description"):
        if changes.get(name) is not None:
            setattr(t, name, changes[name])
    if changes.get("status") == "cancelled":
        t.status = "cancelled"
    _settle_status(t)
    return _commit(t, added)


def _commit(t: Task, added: list[str]) -> Task:
    before = set(t.indexed or [])
    now = utcnow()
    t.updated_at = iso(now)
    _arm(t, now)
    _save(t, before)
    _announce(t, added)
    return t


def redrive(old: Optional[Task], new: Task) -> None:
    """The task's stream record: its entries from the old image's to the new one's, the
    new assignees told, its activity (all idempotent)."""
    _sync_entries(new, set(old.indexed or []) if old is not None else set())
    for user_id in new.assignee_ids or []:
        if user_id != new.creator_id and (old is None or user_id not in (old.assignee_ids or [])):
            _assigned(new, user_id)
    if old is None:
        common.record(Resolver(new.tenant_id), "task", new.creator_id, new.title, new, {"task_id": new.task_id})


def complete(principal: Principal, task_id: str, done: bool) -> Task:
    """POST /v1/tasks/{id}/complete (``done``) or /reopen: an assignee, for themselves;
    a repeat changes nothing."""
    t = _visible(principal, task_id)
    if principal.user_id not in (t.assignee_ids or []):
        raise Forbidden("only an assignee completes or reopens a task, for themselves", code="not_assignee")
    if t.status == "cancelled":
        raise Conflict("the task is cancelled", code="invalid_state")
    if t.done_by(principal.user_id) == done:
        return t
    if done:
        t.completions = [*(t.completions or []), {"user_id": principal.user_id, "done_at": iso(utcnow())}]
    else:
        t.completions = [c for c in t.completions or [] if c["user_id"] != principal.user_id]
    _settle_status(t)
    return _commit(t, [])


# ---------------------------------------------------------------- lists
def list_page(
    principal: Principal, role: str, status: Optional[str], due_before: Optional[str], limit: int, cursor: Optional[str]
) -> tuple[list[Task], Optional[str]]:
    """Soonest due first (no due time last): 1 Query of the caller's entries + 1 BatchGet."""
    before = normalize(due_before, "due_before")
    partition = TaskEntry.partition(principal.tenant_id, principal.user_id, role, status or "all")
    scope = ":".join(str(x) for x in ("tasks", principal.tenant_id, principal.user_id, role, status, before))
    condition = before > TaskEntry.SK if before else None
    entries, next_cursor = common.page_of(TaskEntry, partition, condition, (limit, cursor, scope), newest=False)
    keys = [Task.key_of(principal.tenant_id, e.task_id) for e in entries]
    found = {t.task_id: t for t in BaseItem.batch_get(keys) if isinstance(t, Task)} if keys else {}
    return [found[e.task_id] for e in entries if e.task_id in found], next_cursor


def follow_move(tenant_id: str, user_ids: list[str]) -> int:
    """After these users' managers changed (a reporting change moves a whole subtree): the
    ``team`` entries of the tasks assigned to them follow the new managers. Reads each
    user's ``assigned`` entries (1 Query per page) and rewrites only the tasks whose
    entries change; answers how many."""
    moved = 0
    seen: set[str] = set()
    for user_id in user_ids:
        for entry in TaskEntry.query(TaskEntry.partition(tenant_id, user_id, "assigned", "all")):
            if entry.task_id in seen:
                continue
            seen.add(entry.task_id)
            t = Task.fetch(tenant_id, entry.task_id)
            before = set(t.indexed or []) if t is not None else set()
            if t is None or entry_keys(t, _managers(t)) == before:
                continue
            _save(t, before)
            moved += 1
    return moved


def due_between(tenant_id: str, user_id: str, lo: str, hi: str) -> list[Task]:
    """The user's tasks (assigned to or created by them), any status, due from ``lo`` to
    ``hi`` (RFC 3339 UTC), soonest first: 1 Query per role and status + 1 BatchGet per 100."""
    ids = {
        e.task_id: e.SK
        for role in ("assigned", "created")
        for status in STATUSES
        for e in TaskEntry.due_between(tenant_id, user_id, role, status, lo, hi)
    }
    keys = [Task.key_of(tenant_id, task_id) for task_id in sorted(ids, key=ids.__getitem__)]
    found = {t.task_id: t for t in BaseItem.batch_get(keys) if isinstance(t, Task)} if keys else {}
    return [found[task_id] for task_id in sorted(found, key=ids.__getitem__)]


def overdue(tenant_id: str, now: str) -> list[Task]:
    """Open tasks past their due time (the team digest)."""
    return Task.overdue(tenant_id, now)


# ---------------------------------------------------------------- reminders
def deliver_reminder(t: Task, zone: Any) -> bool:
    """One ``task_reminder`` to each assignee not done (deduplicated per assignee and due
    time); True when this call delivered any."""
    if t.status != "open" or not t.due_at:
        return False
    when = format_local(parse_timestamp(t.due_at, "due_at").astimezone(zone))[:16].replace("T", " ")
    sent = False
    for user_id in t.assignee_ids or []:
        if t.done_by(user_id):
            continue
        message = messages.send(
            messages.NewMessage(
                t.tenant_id,
                user_id,
                "task_reminder",
                f"Reminder: {t.title}",
                f"Due {when}",
                ref_type="task",
                ref_id=t.task_id,
                dedupe_key=f"task_reminder:{t.task_id}:{user_id}:{t.remind_at}",
            )
        )
        sent = sent or message is not None
    return sent


REMINDERS = {Task: deliver_reminder}  # for the reminder schedule (services/schedule/reminders.py)
