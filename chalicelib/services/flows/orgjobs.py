"""Org changes at any size: the re-index (and handover) an org change causes runs as a job
(services/platform/jobs.py) in bounded pages, never inside one request or stream record.

Kinds and what they walk:

- ``user_moved`` (a user's manager or department changed): first, when their path changed,
  their subtree's paths (``org.move_subtree`` a page at a time: the request moved up to
  ``org.INLINE_SUBTREE`` of them), then the objects the user owns and
  the accounts whose team they are on; per object its list / search / geo entries
  (``list_index.reindex_object``), its pipeline statistics (``oppstats.recompute``) and
  the feed entries of each activity linked to it (``feed_index.reindex_activity``).
- ``department_head_changed``: the same walk for every member of the department's subtree.
- ``department_moved`` (``parent_id``): first the sub-departments' paths and the members'
  ``dept_path`` (each recomputed from its parent's / department's *current* path, so two
  overlapping moves converge on the last), then the members' walk as above.
- ``user_deactivated``: the handover (direct reports move up to the user's manager, owned
  objects pass to ``handover_to``, then projects, queued approvals and reminders).

Each page is one object (its entries and statistics), or ``ACTIVITY_PAGE`` of its
activities, or one person's start, or ``PATH_PAGE`` path rewrites, or one handover page:
bounded whatever the tenant's size or history. Every page recomputes from current state
with the re-index functions the stream uses (idempotent, each with its own concurrency
protocol), so a page re-run after a crash, a second overlapping job, or a live write
during the job all converge on the same index as one clean run.

The job's id follows its cause (the entity's ``updated_at`` after the change), so the
API's request and the change's stream record (its durable re-drive) name the same job.
``progress.done`` counts objects finished (handover: items handed over); ``total`` the
objects found so far (it grows as the walk reaches each person).
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.exceptions import PutError

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import condition_failed, count_of, item_of, raw_page, resume_key
from chalicelib.models.crm import CrmObject, TeamMember, owned_pk, team_of_pk
from chalicelib.models.feed import ActivityLink
from chalicelib.models.jobs import Job
from chalicelib.models.org import Department, User
from chalicelib.observability import logger
from chalicelib.services.access import context
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.crm import crm, list_index
from chalicelib.services.expenses import approvals
from chalicelib.services.feed import feed_index
from chalicelib.services.flows import offboarding
from chalicelib.services.org import org
from chalicelib.services.performance import oppstats
from chalicelib.services.platform import jobs
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import MODIFY, Change, Projection, reads

ACTIVITY_PAGE = 25
PATH_PAGE = 25
HANDOVER_PAGE = 10
Cursor = Optional[dict[str, Any]]
Page = jobs.Page


# ---------------------------------------------------------------- one person's objects
def _sources(tenant_id: str, user_id: str) -> list[tuple[str, Any]]:
    """(GSI1 partition, its kind) of what depends on a person: owned objects, team rows."""
    return [(owned_pk(tenant_id, user_id), "owned"), (team_of_pk(tenant_id, user_id), "team")]


def _object_ref(raw: dict[str, Any]) -> Optional[tuple[str, str]]:
    item = item_of(raw)
    if isinstance(item, CrmObject):
        return item.object_type, item.object_id
    return ("account", item.account_id) if isinstance(item, TeamMember) else None


def reindex_object_page(tenant_id: str, ref: tuple[str, str], start: Cursor) -> tuple[Cursor, int]:
    """One page of an object's re-index: on its first page its list entries and statistics,
    then ``ACTIVITY_PAGE`` of its activities' feed entries. Answers where the next page of
    this object starts (None: the object is done) and how many activities it re-indexed."""
    object_type, object_id = ref
    resolver = Resolver(tenant_id)  # fresh per page: every page reads current state
    if start is None:
        list_index.reindex_object(tenant_id, object_type, object_id, resolver)
        if object_type == "opportunity":
            oppstats.recompute(tenant_id, object_id, resolver)
    ids, last = ActivityLink.page_of(tenant_id, object_type, object_id, (start or {}).get("a"), ACTIVITY_PAGE)
    for activity_id in ids:
        feed_index.reindex_activity(tenant_id, activity_id, resolver)
    return ({"a": last} if last else None), len(ids)


def person_page(tenant_id: str, user_id: str, cur: dict[str, Any]) -> tuple[Cursor, int, int]:
    """One page of a person's walk (cursor: source index ``s``, its resume key ``k``, the
    current object ``o`` and its activity position ``a``). Answers (next | None, done, found)."""
    found = 0
    if "s" not in cur:
        found = sum(count_of(pk, "GSI1") for pk, _ in _sources(tenant_id, user_id))
        cur = {"s": 0}
    if cur.get("o"):
        nxt, _ = reindex_object_page(tenant_id, (cur["o"][0], cur["o"][1]), {"a": cur["a"]} if cur.get("a") else None)
        if nxt is not None:
            return {**cur, "a": nxt["a"]}, 0, found
        return {"s": cur["s"], "k": cur.get("k")}, 1, found
    source = int(cur["s"])
    if source >= len(_sources(tenant_id, user_id)):
        return None, 0, found
    pk, _ = _sources(tenant_id, user_id)[source]
    raws, _last = raw_page(pk, "GSI1", cur.get("k"), 1)
    if not raws:
        return {"s": source + 1}, 0, found
    ref = _object_ref(raws[0])
    key = resume_key(raws[0], "GSI1")
    if ref is None:
        return {"s": source, "k": key}, 0, found
    nxt, _ = reindex_object_page(tenant_id, ref, None)
    if nxt is None:
        return {"s": source, "k": key}, 1, found
    return {"s": source, "k": key, "o": list(ref), "a": nxt["a"]}, 0, found


# ---------------------------------------------------------------- walks over people
def _one_person(job: Job, cur: Cursor) -> Page:
    """``user_moved``: the user's subtree follows them (``tree``: ``PATH_PAGE`` subordinates
    still under the old path a page, each moved under the user's *current* path, so two
    overlapping moves converge on the last), then the walk of the person (``walk``)."""
    t, params = job.tenant_id, job.param_map
    cur = cur or ({"ph": "tree"} if params.get("old_path") else {})
    if cur.get("ph") == "tree":
        user = org.get_user(t, str(params["user_id"]))
        moving = user is not None and user.path != params["old_path"]
        if moving and user is not None and org.move_subtree(t, str(params["old_path"]), user.path, PATH_PAGE):
            return cur, 0, 0
        return {"ph": "walk"}, 0, 0
    return person_page(t, str(params["user_id"]), cur)


def _members(tenant_id: str, path: str, cur: dict[str, Any]) -> Page:
    """Every member of the department subtree at ``path``, one at a time (``m``: the
    members' resume key, ``p``: the current person's cursor)."""
    if cur.get("u"):
        nxt, done, found = person_page(tenant_id, cur["u"], cur.get("p") or {})
        if nxt is not None:
            return {**cur, "p": nxt}, done, found
        return {"m": cur.get("m"), "path": path, "started": True}, done, found
    if cur.get("started") and cur.get("m") is None:
        return None, 0, 0
    raws, _ = raw_page(User.members_pk(tenant_id), "GSI2", cur.get("m"), 1, User.GSI2SK.startswith(path))
    if not raws:
        return None, 0, 0
    user_id = (raws[0].get("user_id") or {}).get("S")
    return {"m": resume_key(raws[0], "GSI2"), "path": path, "started": True, "u": user_id}, 0, 0


def _department_path(tenant_id: str, department_id: str) -> Optional[str]:
    dept = org.get_department(tenant_id, department_id)
    return dept.path if dept else None


def _head_changed(job: Job, cur: Cursor) -> Page:
    """``department_head_changed``: every member's walk (the path read when the job starts)."""
    cur = cur or {}
    path = cur.get("path") or _department_path(job.tenant_id, str(job.param_map["department_id"]))
    if not path:
        return None, 0, 0
    return _members(job.tenant_id, path, {**cur, "path": path})


# ---------------------------------------------------------------- department moves
def _rewrite_departments(tenant_id: str, old_path: str, start: Cursor) -> tuple[Cursor, int]:
    """``PATH_PAGE`` sub-departments still under ``old_path``: each path recomputed from
    its parent's current path (parents come first: the index is in path order)."""
    raws, last = raw_page(
        Department.tree_pk(tenant_id), "GSI1", start, PATH_PAGE, Department.GSI1SK.startswith(old_path)
    )
    moved = 0
    for raw in raws:
        dept = item_of(raw)
        if not isinstance(dept, Department) or not dept.parent_id:
            continue
        parent_path = _department_path(tenant_id, dept.parent_id)
        wanted = f"{parent_path}{dept.department_id}/" if parent_path else dept.path
        if wanted != dept.path:
            before, dept.path = dept.updated_at, wanted
            try:
                dept.save(condition=Department.updated_at == before if before else None)
                moved += 1
            except PutError as exc:  # a newer write of the department set its own path
                if not condition_failed(exc):
                    raise
    return last, moved


def _rewrite_members(tenant_id: str, old_path: str, start: Cursor) -> tuple[Cursor, int]:
    """``PATH_PAGE`` users still filed under ``old_path``: ``dept_path`` set to their
    department's current path (conditional on the user being as read: a newer write set
    it itself)."""
    condition = User.GSI2SK.startswith(old_path)
    raws, last = raw_page(User.members_pk(tenant_id), "GSI2", start, PATH_PAGE, condition)
    moved, paths = 0, {}
    for raw in raws:
        user = item_of(raw)
        if not isinstance(user, User):
            continue
        if user.department_id not in paths:
            paths[user.department_id] = _department_path(tenant_id, user.department_id)
        wanted = paths[user.department_id]
        if wanted and wanted != user.dept_path:
            before = user.updated_at
            user.dept_path = wanted
            try:
                user.save(condition=User.updated_at == before if before else User.updated_at.does_not_exist())
                moved += 1
            except PutError as exc:  # a newer write of the user set its own dept_path
                if not condition_failed(exc):
                    raise
    return last, moved


def _department_moved(job: Job, cur: Cursor) -> Page:
    """``department_moved``: sub-departments (``depts``), members' paths (``users``), then
    the members' walk under the department's path as it is now (``walk``)."""
    cur = cur or {"ph": "depts"}
    t, params = job.tenant_id, job.param_map
    old_path = str(params["old_path"])
    if cur["ph"] in ("depts", "users"):
        rewrite = _rewrite_departments if cur["ph"] == "depts" else _rewrite_members
        last, moved = rewrite(t, old_path, cur.get("k"))
        if last:
            return {"ph": cur["ph"], "k": last}, 0, 0
        return {"ph": "users" if cur["ph"] == "depts" else "walk"}, 0, 0
    return _walk_after_move(job, cur)


def _walk_after_move(job: Job, cur: dict[str, Any]) -> Page:
    inner = {k: v for k, v in cur.items() if k != "ph"}
    nxt, done, found = _head_changed(job, inner or None)
    return ({**nxt, "ph": "walk"} if nxt is not None else None), done, found


# ---------------------------------------------------------------- deactivation handover
def _handover(job: Job, cur: Cursor) -> Page:
    """``user_deactivated``: ``reports`` (a page of direct reports move up), ``objects`` (a
    page of owned objects pass to ``handover_to``), then ``rest`` (projects, what waits for
    the user, reminders). Idempotent: only what still reports to / belongs to the user moves."""
    cur = cur or {"ph": "reports"}
    t, user_id = job.tenant_id, str(job.param_map["user_id"])
    user = org.get_user(t, user_id)
    if user is None or user.is_active or not user.handover_to:
        return None, 0, 0
    if cur["ph"] == "reports":
        moved = offboarding.move_reports_page(t, user, HANDOVER_PAGE)
        return (cur if moved else {"ph": "objects"}), moved, moved
    if cur["ph"] == "objects":
        raws, last = raw_page(owned_pk(t, user_id), "GSI1", cur.get("k"), HANDOVER_PAGE)
        # one context for the page: the tenant's settings read once, not once per object
        admin = context.of(Principal(user.handover_to, t, frozenset({"admin"})))
        moved = 0
        for raw in raws:
            ref = _object_ref(raw)
            if ref is None:
                continue
            try:
                crm.update_object(admin, ref[0], ref[1], {"owner_id": user.handover_to})
                moved += 1
            except (Conflict, NotFound):  # a concurrent edit or delete: a later run sees it
                logger.info("handover skipped an object", extra={"object_id": ref[1]})
        return ({"ph": "objects", "k": last} if last else {"ph": "rest"}), moved, len(raws)
    approvals.move_for_delegation(t, {user_id})
    org.transfer_projects(t, user_id, user.handover_to)
    offboarding.cancel_reminders(t, user_id)
    return None, 0, 0


STEPS: dict[str, jobs.StepFn] = {
    "user_moved": _one_person,
    "department_head_changed": _head_changed,
    "department_moved": _department_moved,
    "user_deactivated": _handover,
}


# ---------------------------------------------------------------- what starts a job
def _user_change(old: Any, new: Any) -> Optional[tuple[str, str]]:
    """(kind, key) of the job a user's change causes, if any. A ``dept_path`` change alone
    comes from a department move, whose own job walks the user."""
    if not isinstance(new, User) or not isinstance(old, User):
        return None
    key = f"{new.user_id}|{new.updated_at}|{new.path}|{new.department_id}|{new.is_active}|{new.handover_to}"
    if not new.is_active and (old.is_active or old.handover_to != new.handover_to) and new.handover_to:
        return "user_deactivated", key
    if (old.path, old.department_id) != (new.path, new.department_id):
        return "user_moved", key
    return None


def _user_params(old: User, new: User) -> dict[str, Any]:
    return {"user_id": new.user_id, "old_path": old.path} if old.path != new.path else {"user_id": new.user_id}


def _department_change(old: Any, new: Any) -> Optional[tuple[str, str, dict[str, Any]]]:
    if not isinstance(new, Department) or not isinstance(old, Department):
        return None
    key = f"{new.department_id}|{new.updated_at}|{new.path}|{new.head_user_id}"
    params = {"department_id": new.department_id, "old_path": old.path, "new_path": new.path}
    if old.path != new.path:
        return "department_moved", key, params
    if old.head_user_id != new.head_user_id:
        return "department_head_changed", key, params
    return None


def job_for(old: Any, new: Any, in_request: bool = False) -> Optional[str]:
    """The id of the job an org change causes (created idempotently), None when none
    follows. ``in_request``: after the request's commit point, so a storage fault never
    turns its answer into a 503 (``settle``); the change's stream record then creates the
    same job (its id follows the change)."""
    user = _user_change(old, new)
    dept = None if user is not None else _department_change(old, new)
    if user is not None:
        kind, key, cause, params = user[0], user[1], ("user", new.user_id), _user_params(old, new)
    elif dept is not None:
        kind, key, cause, params = dept[0], dept[1], ("department", new.department_id), dept[2]
    else:
        return None
    if not in_request:
        return jobs.create(new.tenant_id, kind, cause, params, key).job_id
    settle("org.job", lambda: jobs.create(new.tenant_id, kind, cause, params, key), kind=kind)
    return jobs.job_id_for(new.tenant_id, kind, key)


def handle_change(change: Change) -> bool:
    """The stream's re-drive: the job of a User or Department change (the same job the
    request made, when it made one). Never re-indexes inline."""
    return job_for(change.old, change.new) is not None


PROJECTION = Projection(
    name="orgjobs",
    reads=(reads("User", "Department", events=[MODIFY]),),
    kept="after_commit",
    writes=("Job",),
    apply=handle_change,
    doc="the re-index job of an org change (named by the change: the request's own job)",
)


# ---------------------------------------------------------------- the admin's writes
def put_user(principal: Principal, user_id: str, body: dict[str, Any]) -> tuple[User, Optional[str]]:
    """``PUT /v1/admin/users/{id}``: the user (who may act follows at once), and the job
    that re-indexes what their move changes."""
    before = org.get_user(principal.tenant_id, user_id)
    new = org.NewUser(
        user_id, body["name"], body["department_id"], body.get("manager_id"), body.get("email"), body.get("roles")
    )
    user = offboarding.put_user(principal, new)
    return user, job_for(before, user, in_request=True) if before is not None else None


def put_department(principal: Principal, department_id: str, body: dict[str, Any]) -> tuple[Department, Optional[str]]:
    """``PUT /v1/admin/departments/{id}``: the department alone (a move's subtree follows in
    the job, resumable), and the job."""
    org.require_admin(principal)
    t = principal.tenant_id
    before = org.get_department(t, department_id)
    dept = org.put_department(t, department_id, body["name"], body.get("parent_id"), body.get("head_user_id"))
    return dept, job_for(before, dept, in_request=True) if before is not None else None


def deactivate(principal: Principal, user_id: str, handover_to: str) -> tuple[User, Optional[str]]:
    """Deactivation: the flag (tokens refused at once), the first handover page in the
    request, and the job that finishes the handover."""
    before = org.get_user(principal.tenant_id, user_id)
    user = offboarding.deactivate(principal, user_id, handover_to)
    return user, job_for(before, user, in_request=True)
