"""Reporting changes that move work with them: a manager change, deactivation, reactivation.

Deactivation commits one write in the request: the ``active`` flag (read by the
authentication lookup, so the user's tokens are refused from the next request) and the
handover target, with the user's directory rows. Everything after it is the handover,
idempotent (it only touches what still reports to, waits for or belongs to the user), run
once after the commit (up to ``INLINE_HANDOVER`` objects) and finished, or re-run, by the
user's stream MODIFY record: the direct reports moved up to the deactivated user's manager
(each a ``put_user``: paths, team listings, their waiting approvals re-keyed to the new
approver), what waits in the user's queue, every CRM object they own (becoming
``handover_to``'s through the ordinary PATCH ``owner_id`` transfer), projects they own,
their open plans' reminders cancelled. So a storage fault after the commit never leaves a
half-done deactivation that a retry (409: already deactivated) could not finish. A manager
change follows the same rule: the user's write commits, their subtree and waiting
approvals follow (``follow_move`` re-drives them from the stream). The feed history of each
transferred object is re-indexed by that object's own stream record, as for any transfer.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Optional

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.models.crm import objects_owned_by
from chalicelib.models.org import User
from chalicelib.models.schedule import Plan
from chalicelib.observability import count, logger
from chalicelib.services.access import context
from chalicelib.services.collab import requests, tasks
from chalicelib.services.crm import crm
from chalicelib.services.expenses import approvals
from chalicelib.services.org import org
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import iso, utcnow

INLINE_HANDOVER = 100


def put_user(principal: Principal, new: org.NewUser) -> User:
    """PUT /v1/admin/users: the user, then their waiting approvals if their manager changed."""
    org.require_admin(principal)
    t, user_id = principal.tenant_id, new.user_id
    before = org.get_user(t, user_id)
    user = org.put_user(t, new)
    if before is not None and before.path != user.path:  # after the commit; else the stream (follow_move)
        settle("user.approvals", lambda: approvals.move_waiting(t, user_id, before.manager_id), user_id=user_id)
        moved = functools.partial(approvals.move_waiting, t, user_id, before.manager_id, requests.REQUESTS)
        settle("user.approval_requests", moved, user_id=user_id)
        settle("user.tasks", functools.partial(_tasks_follow, user), user_id=user_id)
    return user


def _tasks_follow(user: User) -> None:
    """The team lists of the tasks of a moved user and everyone below them."""
    tasks.follow_move(user.tenant_id, [user.user_id, *org.subordinate_ids(user.tenant_id, user.user_id, user)])


def deactivate(principal: Principal, user_id: str, handover_to: str) -> User:
    org.require_admin(principal)
    t = principal.tenant_id
    if user_id == principal.user_id:
        raise Unprocessable("an administrator cannot deactivate themselves", code="cannot_deactivate_self")
    user = org.get_user(t, user_id)
    if user is None:
        raise NotFound("user not found")
    target = org.get_user(t, handover_to)
    if target is None or not target.is_active or handover_to == user_id:
        raise Unprocessable(f"handover_to {handover_to!r} is not an active user of the tenant", code="unknown_user")
    if f"/{user_id}/" in target.path:
        raise Unprocessable("handover_to reports to the user being deactivated", code="unknown_user")
    if not user.is_active:
        raise Conflict("the user is already deactivated", code="invalid_state")
    user.handover_to = handover_to
    org.set_active(user, False)  # the commit point: the rest is the idempotent handover
    count("UserDeactivated")
    settle("user.handover", lambda: finish_handover(t, user_id, INLINE_HANDOVER), user_id=user_id)
    return user


def follow_move(old: User, new: User) -> None:
    """The re-drive of a user's manager change (their stream record): the waiting approvals
    follow, unless the user has moved on since (a late record). Their subtree follows in
    the move's job (services/flows/orgjobs.py), which this record also starts."""
    current = org.get_user(new.tenant_id, new.user_id)
    if current is None or current.path != new.path or old.path == new.path:
        return
    approvals.move_waiting(new.tenant_id, new.user_id, old.manager_id)
    approvals.move_waiting(new.tenant_id, new.user_id, old.manager_id, requests.REQUESTS)
    _tasks_follow(current)


def _move_report(tenant_id: str, user: User, report: User) -> None:
    """One direct report of a deactivated user moves up to the user's manager, with their
    waiting approvals."""
    moved_up = org.NewUser(
        report.user_id, report.name, report.department_id, user.manager_id, report.email, sorted(report.roles or [])
    )
    org.put_user(tenant_id, moved_up)
    moved = functools.partial(approvals.move_waiting, tenant_id, report.user_id, user.user_id)
    settle("user.approvals", moved, user_id=report.user_id)
    moved = functools.partial(approvals.move_waiting, tenant_id, report.user_id, user.user_id, requests.REQUESTS)
    settle("user.approval_requests", moved, user_id=report.user_id)


def _move_reports(tenant_id: str, user: User) -> None:
    """A deactivated user's direct reports move up to their manager, with their waiting
    approvals; idempotent: only those still reporting to the user move."""
    for report in [u for u in org.subordinates_by_path(tenant_id, user.path) if u.manager_id == user.user_id]:
        _move_report(tenant_id, user, report)
    approvals.move_for_delegation(tenant_id, {user.user_id})  # what waits for them (or as delegate) moves
    approvals.move_for_delegation(tenant_id, {user.user_id}, requests.REQUESTS)


def move_reports_page(tenant_id: str, user: User, limit: int) -> int:
    """Up to ``limit`` of the deactivated user's direct reports (their team listing, which
    each move leaves) move up; answers how many moved (0: none is left)."""
    rows, _ = org.team_page(tenant_id, user.user_id, True, limit, None, f"handover:{tenant_id}:{user.user_id}")
    moved = 0
    for row in rows:
        report = org.get_user(tenant_id, row.user_id)
        if report is not None and report.manager_id == user.user_id:
            _move_report(tenant_id, user, report)
            moved += 1
    return moved


def reactivate(principal: Principal, user_id: str) -> User:
    org.require_admin(principal)
    user = org.get_user(principal.tenant_id, user_id)
    if user is None:
        raise NotFound("user not found")
    if user.is_active:
        return user
    user.handover_to = None
    count("UserReactivated")
    user = org.set_active(user, True)
    settle("user.approvals_back", lambda: pull_back(user.tenant_id, user.user_id), user_id=user_id)
    return user


def pull_back(tenant_id: str, user_id: str) -> None:
    """A reactivated delegate decides again what their delegators' active delegations route
    to them, in both queues (idempotent; re-driven by the user's stream record)."""
    current = org.get_user(tenant_id, user_id)
    if current is None or not current.is_active:
        return  # deactivated again since (a late record)
    approvals.move_for_reactivation(tenant_id, user_id)
    approvals.move_for_reactivation(tenant_id, user_id, requests.REQUESTS)


def finish_handover(tenant_id: str, user_id: str, limit: Optional[int] = None) -> int:
    """Hand over what a deactivated user still owns (idempotent; None = everything)."""
    user = org.get_user(tenant_id, user_id)
    if user is None or user.is_active or not user.handover_to:
        return 0
    _move_reports(tenant_id, user)
    # one context for the page: the tenant's settings read once, not once per object
    admin = context.of(Principal(user.handover_to, tenant_id, frozenset({"admin"})))
    moved = 0
    for object_type, object_id in objects_owned_by(tenant_id, user_id)[:limit]:
        try:
            crm.update_object(admin, object_type, object_id, {"owner_id": user.handover_to})
            moved += 1
        except (Conflict, NotFound):  # a concurrent edit or delete: the next run sees it
            logger.info("handover skipped an object", extra={"object_id": object_id})
    org.transfer_projects(tenant_id, user_id, user.handover_to)
    cancel_reminders(tenant_id, user_id)
    return moved


def cancel_reminders(tenant_id: str, user_id: str, now: Optional[datetime] = None) -> int:
    """Disarm the reminders of the user's plans that are still planned (from yesterday on:
    a reminder is never due more than a day before its plan's local date)."""
    since = iso((now or utcnow()) - timedelta(days=1))[:10]
    cancelled = 0
    for plan in Plan.gsi1.query(Plan.user_pk(tenant_id, user_id), since <= Plan.GSI1SK):
        if plan.reminder_armed:
            plan.remind_at, plan.updated_at = None, iso(utcnow())
            plan.save()
            cancelled += 1
    return cancelled
