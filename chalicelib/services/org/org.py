"""The organisation: departments, the reporting tree, projects, tenant settings.

Reads that other capabilities depend on ("who is below X", "which departments does X
head", "is Y below X") cost a bounded number of requests whatever the org's size: the
trees are materialised paths, so each is a key lookup or one ``begins_with`` query.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pynamodb.exceptions import UpdateError

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.currencies import require_currency
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.models.base import BaseItem, Cancelled, Tx, condition_failed
from chalicelib.models.devices import PushSettings
from chalicelib.models.digest import TenantEntry
from chalicelib.models.org import (
    DEFAULT_TIMEZONE,
    Department,
    DirectoryEntry,
    FinanceIntegration,
    Project,
    ProjectMembership,
    TenantSettings,
    User,
    search_key,
)
from chalicelib.models.shards import MAX_SHARDS, count_of
from chalicelib.observability import logger
from chalicelib.services.org import pipeline
from chalicelib.services.platform import pacing
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import Change, Projection, Rebuild, Scope, reads
from chalicelib.timeutil import iso, utcnow

MAX_TREE_DEPTH = 32


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("tenant administrators only", code="admin_only")


# ---------------------------------------------------------------- API shapes
def department_to_dict(d: Department) -> dict[str, Any]:
    return {
        "id": d.department_id,
        "name": d.name,
        "parent_id": d.parent_id,
        "head_user_id": d.head_user_id,
        "path": d.path.strip("/").split("/"),
    }


def user_to_dict(u: User) -> dict[str, Any]:
    return {
        "id": u.user_id,
        "name": u.name,
        "department_id": u.department_id,
        "manager_id": u.manager_id,
        "email": u.email,
        "roles": sorted(u.roles or []),
    }


def user_detail_to_dict(user: User, dept: Optional[Department], manager: Optional[User]) -> dict[str, Any]:
    """A user with their department and manager (each ``{id, name}`` or None)."""
    return {
        "id": user.user_id,
        "name": user.name,
        "department_id": user.department_id,
        "manager_id": user.manager_id,
        "roles": sorted(user.roles or []),
        "active": user.is_active,
        "email": user.email,
        "department": {"id": dept.department_id, "name": dept.name} if dept else None,
        "manager": {"id": manager.user_id, "name": manager.name} if manager else None,
    }


def directory_to_dict(e: DirectoryEntry) -> dict[str, Any]:
    return {
        "id": e.user_id,
        "name": e.name,
        "department_id": e.department_id,
        "manager_id": e.manager_id,
        "roles": sorted(e.roles or []),
        "active": bool(e.active),
    }


def settings_to_dict(s: TenantSettings) -> dict[str, Any]:
    return {
        "timezone": s.timezone,
        "currency": s.currency,
        "checkin_radius_m": int(s.checkin_radius_m),
        "approval_limit": s.approval_limit,
        "mileage_rate": s.mileage_rate,
        "max_speed_kmh": int(s.max_speed_kmh),
        "pipeline": [stage.as_dict() for stage in pipeline.of(s).stages],
        "inactive_days": int(s.inactive_days),
        "stale_days": int(s.stale_days),
    }


def project_to_dict(p: Project) -> dict[str, Any]:
    return {"id": p.project_id, "name": p.name, "owner_id": p.owner_id, "member_ids": sorted(p.member_ids or [])}


def search_prefix(text: str) -> str:
    """The directory's sort-key prefix of names starting with ``text`` (any case or width)."""
    return search_key(text)


# ---------------------------------------------------------------- settings
def get_settings(tenant_id: str) -> TenantSettings:
    return TenantSettings.of(tenant_id)


def settings_of_change(change: Change) -> TenantSettings:
    """The settings of a stream record's tenant, read once for all the projections that
    apply it (``Change.once``)."""
    item = change.new or change.old
    tenant_id = str(getattr(item, "tenant_id", ""))
    return change.once("settings", lambda: get_settings(tenant_id))


NOT_ZONES = frozenset({"localtime", "Factory"})  # the host's own zone; tzdata's "no zone"


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The IANA zone names a tenant may choose: the tz database's (``available_timezones``:
    no ``posix/`` or ``right/`` variants, whose clocks differ by leap seconds), minus names
    that mean the server's own zone (``localtime``: a tenant's days would follow the host's
    configuration, and a runtime without it silently counts them in the default zone)."""
    return frozenset(available_timezones()) - NOT_ZONES


@lru_cache(maxsize=64)
def zone_named(name: str) -> ZoneInfo:
    """The IANA zone, or the default for a name this runtime does not know."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def tenant_zone(tenant_id: str, tenant_settings: Optional[TenantSettings] = None) -> ZoneInfo:
    """The zone the tenant's days are counted in (plans, sign-in lists, reminders)."""
    return zone_named((tenant_settings or get_settings(tenant_id)).timezone or DEFAULT_TIMEZONE)


def put_settings(tenant_id: str, changes: dict[str, Any]) -> TenantSettings:
    if "timezone" in changes and changes["timezone"] not in iana_zones():
        raise Unprocessable(f"unknown time zone {changes['timezone']!r}", code="unknown_timezone")
    require_currency(changes.get("currency"))  # the one list (chalicelib/currencies.py)
    if "pipeline" in changes:
        changes = {**changes, "pipeline": pipeline.validate(changes["pipeline"])}
    current = get_settings(tenant_id)
    for name, value in changes.items():
        setattr(current, name, value)
    current.updated_at = iso(utcnow())
    if "timezone" not in changes:
        current.save()
        return current
    # the digest's zone index moves with the zone, in the same write
    entry = TenantEntry(tenant_id=tenant_id, zone=current.timezone)
    Tx("settings").put("settings", current).put("registry", entry).commit()
    return current


def raise_aggregate_shards(tenant_id: str, at_least: int) -> bool:
    """Spread the tenant's hot aggregates over at least ``at_least`` shards (capped at
    ``MAX_SHARDS``); never lowers the count (readers read every shard anyway). True when
    it rose. Idempotent."""
    return _raise_count(tenant_id, TenantSettings.aggregate_shards, at_least)


def raise_index_shards(tenant_id: str, at_least: int) -> bool:
    """Spread the tenant's hot index partitions (models/shards.py) over at least
    ``at_least`` partitions, capped, never lowered (an operator's step for a known big
    tenant: ``index_shards_for_users``). True when it rose. Idempotent."""
    return _raise_count(tenant_id, TenantSettings.index_shards, at_least)


def _raise_count(tenant_id: str, attr: Any, at_least: int) -> bool:
    wanted = min(MAX_SHARDS, max(1, at_least))
    item = TenantSettings(tenant_id=tenant_id)
    item.set_keys()
    try:
        item.update(
            actions=[
                TenantSettings.entity.set(TenantSettings),
                TenantSettings.tenant_id.set(tenant_id),
                attr.set(wanted),
            ],
            condition=attr.does_not_exist() | (attr < wanted),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    logger.info("shards raised", extra={"tenant_id": tenant_id, "shards": wanted, "of": attr.attr_name})
    return True


def aggregate_shards(tenant_id: str, tenant_settings: Optional[TenantSettings] = None) -> int:
    """How many shards the tenant's hot aggregates are written to now."""
    return count_of(tenant_settings or get_settings(tenant_id))


def shards_for_users(active_users: int) -> int:
    """The shards a tenant of ``active_users`` starts with: one per 2,000 people (a
    department item then takes at most about 10 writes a second at a busy peak)."""
    return max(1, min(MAX_SHARDS, -(-active_users // 2000)))


def index_shards_for_users(active_users: int) -> int:
    """The index shards a tenant of ``active_users`` starts with: one per 25,000 people (a
    morning burst of 1% of them checking in within a second is then at most 250 writes a
    second per index partition, a quarter of DynamoDB's limit)."""
    return max(1, min(MAX_SHARDS, -(-active_users // 25_000)))


def put_finance_integration(tenant_id: str, url: str) -> FinanceIntegration:
    # Standard Webhooks secrets are standard base64 after "whsec_"; a urlsafe token fails to
    # decode in the reference library about one time in four.
    integration = FinanceIntegration(
        tenant_id=tenant_id,
        url=url,
        secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        updated_at=iso(utcnow()),
    )
    integration.save()
    return integration


def get_finance_integration(tenant_id: str) -> Optional[FinanceIntegration]:
    return FinanceIntegration.fetch(tenant_id)


# ---------------------------------------------------------------- departments
def get_department(tenant_id: str, department_id: str) -> Optional[Department]:
    return Department.fetch(tenant_id, department_id)


def put_department(
    tenant_id: str, department_id: str, name: str, parent_id: Optional[str], head_user_id: Optional[str]
) -> Department:
    path = f"/{department_id}/"
    if parent_id:
        if parent_id == department_id:
            raise Unprocessable("a department cannot be its own parent", code="department_cycle")
        parent = get_department(tenant_id, parent_id)
        if parent is None:
            raise Unprocessable(f"parent department {parent_id!r} does not exist", code="unknown_parent")
        if f"/{department_id}/" in parent.path:
            raise Unprocessable("the parent is inside this department", code="department_cycle")
        path = parent.path + f"{department_id}/"
    if path.count("/") - 1 > MAX_TREE_DEPTH:
        raise Unprocessable("the department tree is too deep", code="tree_too_deep")
    if head_user_id and get_user(tenant_id, head_user_id) is None:
        raise Unprocessable(f"user {head_user_id!r} does not exist", code="unknown_user")
    now = iso(utcnow())
    existing = get_department(tenant_id, department_id)
    dept = existing or Department(tenant_id=tenant_id, department_id=department_id, created_at=now)
    dept.name, dept.parent_id, dept.head_user_id, dept.path, dept.updated_at = name, parent_id, head_user_id, path, now
    dept.save()
    # A move (``old_path != path``): the sub-departments and members follow in the move's
    # job (services/flows/orgjobs.py), in bounded, resumable steps, never in this request.
    return dept


def headed_departments(tenant_id: str, user_id: str) -> list[Department]:
    """Departments the user heads (one query)."""
    return list(Department.gsi2.query(Department.head_pk(tenant_id, user_id)))


def headed_department_paths(tenant_id: str, user_id: str) -> list[str]:
    """Paths of the departments the user heads, minus those nested in another of them."""
    return outermost_paths(headed_departments(tenant_id, user_id))


def outermost_paths(departments: list[Department]) -> list[str]:
    """The departments' paths, minus those nested in another of them."""
    paths = sorted(d.path for d in departments)
    return [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]


def department_member_ids(tenant_id: str, user_id: str) -> list[str]:
    """Everyone in a department the user heads, or in its sub-departments."""
    ids: list[str] = []
    for path in headed_department_paths(tenant_id, user_id):
        ids.extend(u.user_id for u in User.gsi2.query(User.members_pk(tenant_id), User.GSI2SK.startswith(path)))
    return ids


# ---------------------------------------------------------------- users
def get_user(tenant_id: str, user_id: str) -> Optional[User]:
    return User.fetch(tenant_id, user_id)


def caller_user(principal: Principal) -> Optional[User]:
    """The caller's own user record: the one the edge read (chalicelib/web.py), else one GetItem."""
    if principal.user is not None:
        return principal.user
    return get_user(principal.tenant_id, principal.user_id)


def is_active(user: Optional[User]) -> bool:
    """An active user of the tenant: the one place the deactivation flag is honoured."""
    return user is not None and user.is_active


def caller_and_settings(tenant_id: str, user_id: str) -> tuple[Optional[User], TenantSettings]:
    """The caller's user record (None: there is none) and the tenant's settings (the
    defaults when never set): 1 BatchGetItem."""
    found = list(BaseItem.batch_get([User.key_of(tenant_id, user_id), TenantSettings.key_of(tenant_id)]))
    user = next((i for i in found if isinstance(i, User)), None)
    settings = next((i for i in found if isinstance(i, TenantSettings)), None)
    return user, settings or TenantSettings(tenant_id=tenant_id)


def require_active_caller(principal: Principal, path: str) -> Principal:
    """403 ``unknown_user`` for a token whose ``sub`` is not an active user of its tenant,
    except on ``/v1/admin/*`` for members of the ``admin`` group (tenant bootstrap). The
    answer carries the user record and the tenant's settings, read together (1 BatchGetItem),
    so services need not read either again (a page of a sharded index learns its shard
    count here: models/shards.py)."""
    user, settings = caller_and_settings(principal.tenant_id, principal.user_id)
    if not is_active(user):
        if user is None and principal.is_admin and path.startswith("/v1/admin/"):
            return replace(principal, tenant_settings=settings)  # bootstrap: a deactivated admin is refused like anyone
        raise Forbidden("this token's user is not an active user of the tenant", code="unknown_user")
    return replace(principal, user=user, tenant_settings=settings)


def require_user(tenant_id: str, user_id: str) -> User:
    user = get_user(tenant_id, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


INLINE_SUBTREE = 100  # subordinates a manager's move rewrites in its request (the job: the rest)


@dataclass(frozen=True)
class NewUser:
    """A user as an administrator states it (``PUT /v1/admin/users/{id}``): created, or
    replaced whole (the reporting tree and the directory follow)."""

    user_id: str
    name: str
    department_id: str
    manager_id: Optional[str] = None
    email: Optional[str] = None
    roles: Optional[list[str]] = None


def put_user(tenant_id: str, new: NewUser) -> User:
    user_id, name, department_id, manager_id = new.user_id, new.name, new.department_id, new.manager_id
    email, roles = new.email, new.roles
    dept = get_department(tenant_id, department_id)
    if dept is None:
        raise Unprocessable(f"department {department_id!r} does not exist", code="unknown_department")
    path = f"/{user_id}/"
    if manager_id:
        if manager_id == user_id:
            raise Unprocessable("a user cannot manage themselves", code="manager_cycle")
        manager = get_user(tenant_id, manager_id)
        if manager is None or not manager.is_active:
            raise Unprocessable(f"manager {manager_id!r} is not an active user", code="unknown_manager")
        if f"/{user_id}/" in manager.path:
            raise Unprocessable("the manager reports to this user: that is a cycle", code="manager_cycle")
        path = manager.path + f"{user_id}/"
    if path.count("/") - 1 > MAX_TREE_DEPTH:
        raise Unprocessable("the reporting tree is too deep", code="tree_too_deep")
    now = iso(utcnow())
    existing = get_user(tenant_id, user_id)
    user = existing or User(tenant_id=tenant_id, user_id=user_id, created_at=now)
    old_path = existing.path if existing else None
    before = entries_of(existing) if existing else []
    user.name, user.department_id, user.manager_id = name, department_id, manager_id
    user.email, user.roles = email, set(roles) if roles else None
    user.path, user.dept_path, user.updated_at = path, dept.path, now
    save_user(user, before)
    if old_path and old_path != path:  # after the commit: a bounded part; the move's job the rest
        settle("user.subtree", lambda: move_subtree(tenant_id, old_path, path, INLINE_SUBTREE), user_id=user_id)
    return user


def move_subtree(tenant_id: str, old_path: str, new_path: str, limit: int) -> int:
    """Up to ``limit`` of those still below a user who moved follow them (paths and team
    listings rewritten), each in one transaction; idempotent (only those still under
    ``old_path`` move), so repeating it until it answers 0 finishes the subtree, after a
    fault too (the user's move job does: services/flows/orgjobs.py). 1 Query + 1
    transaction per user moved."""
    if limit <= 0:
        return 0
    pk, condition = User.reports_pk(tenant_id), User.GSI1SK.startswith(old_path)
    below = User.gsi1.query(pk, condition, limit=limit + 1, page_size=limit + 1)
    moved = 0
    for u in below:
        if u.path == old_path:
            continue
        if moved == limit:
            break
        before = entries_of(u)
        u.path = new_path + u.path[len(old_path) :]
        save_user(u, before)
        moved += 1
    return moved


# ---------------------------------------------------------------- the directory index
def entries_of(user: User) -> list[DirectoryEntry]:
    """The directory rows a user appears in: the whole directory (with and without the
    inactive), their department (same), and, while active, the team of each of their
    managers at its depth. Write amplification: 2 + 2 + depth in the reporting tree."""
    listings: list[tuple[str, Optional[int]]] = [
        (DirectoryEntry.everyone(True), None),
        (DirectoryEntry.department(user.department_id, True), None),
    ]
    if user.is_active:
        listings += [
            (DirectoryEntry.everyone(False), None),
            (DirectoryEntry.department(user.department_id, False), None),
        ]
        listings += [(DirectoryEntry.below(boss), depth) for depth, boss in enumerate(user.ancestors, start=1)]
    out = []
    for listing, depth in listings:
        entry = DirectoryEntry(
            tenant_id=user.tenant_id,
            listing=listing,
            user_id=user.user_id,
            name=user.name,
            department_id=user.department_id,
            manager_id=user.manager_id,
            roles=set(user.roles) if user.roles else None,
            active=user.is_active,
            depth=depth,
            sort=DirectoryEntry.sort_of(user.name, user.user_id, depth),
        )
        entry.set_keys()
        out.append(entry)
    return out


def save_user(
    user: User, before: list[DirectoryEntry], condition: Any = None, also: Sequence[tuple[str, Any, list[Any]]] = ()
) -> int:
    """The user with their directory rows, deleting those they left (``before``: the rows of
    the user as stored), in one transaction: a storage fault leaves neither, so the retry of
    a 503 starts from the table as it was. At most 1 + 2 x (4 + ``MAX_TREE_DEPTH``) = 73
    items, under DynamoDB's 100 per transaction. ``condition`` guards the user's put
    (``Cancelled`` when it fails); ``also``: (label, item, actions) updates that commit with
    it. Only rows that change are written: a row in ``before`` with the same content stays
    as it is. Answers how many rows it wrote."""
    after = entries_of(user)
    keep = {(e.PK, e.SK) for e in after}
    stored = {(e.PK, e.SK): e.serialize() for e in before}
    tx = Tx("user").put("user", user, condition)
    for n, old in enumerate(e for e in before if (e.PK, e.SK) not in keep):
        tx.delete(f"left{n}", old)
    changed = [e for e in after if stored.get((e.PK, e.SK)) != e.serialize()]
    for n, entry in enumerate(changed):
        tx.put(f"row{n}", entry)
    for label, item, actions in also:
        tx.update(label, item, actions, add_version_condition=False)
    tx.commit()
    pacing.charge([user.PK, *(e.PK for e in before if (e.PK, e.SK) not in keep), *(e.PK for e in changed)])
    return len(changed)


def restore_directory(user: User) -> int:
    """Backfill (services/flows/backfill.py): the directory rows of a user stored before the
    directory existed, written by :func:`save_user` with the user put back as read,
    conditional on it being unchanged: a concurrent change wins (its own ``save_user``
    wrote its rows, and deletes these if they are stale), and this re-reads and tries again.
    Idempotent: a second run writes the same rows. Answers how many rows it wrote."""
    for _ in range(3):
        try:
            return save_user(user, [], user.unchanged())  # [] : every row is written
        except Cancelled as exc:
            if "user" not in exc.failed:
                raise
        fresh = User.lookup(User.key_of(user.tenant_id, user.user_id), consistent_read=True)
        if fresh is None:
            return 0
        user = fresh
    raise Conflict("the user kept changing during the backfill", code="user_conflict")


def set_active(user: User, active: bool) -> User:
    """Deactivate or reactivate: the flag the authentication lookup reads, the rows, and the
    flag the push fan-out reads with the user's devices (``PushSettings.user_active``), in
    one transaction: a message created after the commit is never pushed to the user."""
    before = entries_of(user)
    user.active = None if active else False
    user.deactivated_at = None if active else iso(utcnow())
    user.updated_at = iso(utcnow())
    push_flag = PushSettings.active_update(user.tenant_id, user.user_id, active)
    save_user(user, before, also=[("push_active", *push_flag)])
    return user


def directory_page(
    tenant_id: str, listing: str, prefix: Optional[str], limit: int, cursor: Optional[str], scope: str
) -> tuple[list[DirectoryEntry], Optional[str]]:
    """One key-condition Query per page (``begins_with`` on the name's search key): full
    pages, ordered by name (team listings: by depth, then name)."""
    start = cursors.decode(cursor, scope)
    condition = DirectoryEntry.SK.startswith(prefix) if prefix else None
    result = DirectoryEntry.query(
        DirectoryEntry.pk(tenant_id, listing),
        condition,
        limit=limit + 1,
        page_size=limit + 1,
        last_evaluated_key=start.get("k") if start else None,
    )
    items = list(result)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        next_cursor = cursors.encode({"k": items[-1].start_key()}, scope)
    return items, next_cursor


def directory_listing(department_id: Optional[str], include_inactive: bool) -> str:
    """The listing the directory reads: one department's, or the whole tenant's."""
    if department_id:
        return DirectoryEntry.department(department_id, include_inactive)
    return DirectoryEntry.everyone(include_inactive)


def team_page(
    tenant_id: str, manager_id: str, direct_only: bool, limit: int, cursor: Optional[str], scope: str
) -> tuple[list[DirectoryEntry], Optional[str]]:
    """A page of the manager's team listing (active users below them), by depth then name;
    ``direct_only``: their direct reports only."""
    prefix = DirectoryEntry.depth_prefix(1) if direct_only else None
    return directory_page(tenant_id, DirectoryEntry.below(manager_id), prefix, limit, cursor, scope)


def subordinates_by_path(tenant_id: str, path: str) -> list[User]:
    return [u for u in User.gsi1.query(User.reports_pk(tenant_id), User.GSI1SK.startswith(path)) if u.path != path]


def subordinate_ids(tenant_id: str, user_id: str, user: Optional[User] = None) -> list[str]:
    """Everyone below the user at any depth: one GetItem (skipped when given) + one Query."""
    user = user or get_user(tenant_id, user_id)
    if user is None:
        return []
    return [u.user_id for u in subordinates_by_path(tenant_id, user.path)]


def is_subordinate(tenant_id: str, boss_id: str, user_id: str) -> bool:
    """True when ``user_id`` reports to ``boss_id`` at any depth (one GetItem)."""
    if boss_id == user_id:
        return False
    user = get_user(tenant_id, user_id)
    return bool(user and boss_id in user.ancestors)


def department_heads(tenant_id: str, user: User) -> set[str]:
    """Heads of the user's department and of each department above it (one BatchGet)."""
    ids = [d for d in user.dept_path.strip("/").split("/") if d]
    if not ids:
        return set()
    found = Department.batch_get([Department.key_of(tenant_id, d) for d in ids])
    return {d.head_user_id for d in found if isinstance(d, Department) and d.head_user_id}


def reads_user_data(principal: Principal, user: Optional[User], heads: Collection[str]) -> bool:
    """WHO READS A USER'S OWN RECORDS, the one rule (sign-ins, photos, plans, logs, calendar,
    comparison, expenses, approval requests, and every projection of them: feed activities,
    overview parts, list rows): the user, their managers at any depth, the heads of their
    department and of the departments above it (``heads``: :func:`department_heads`, or a
    caller's own load of the same departments), tenant administrators (contract
    "Fieldwork sign-in": "self, subordinates at any depth, staff of departments the caller
    heads, admins")."""
    if principal.is_admin:
        return True
    if user is None:
        return False
    me = principal.user_id
    return user.user_id == me or me in user.ancestors or me in heads


def can_read_user_data(principal: Principal, user_id: str) -> bool:
    """:func:`reads_user_data` for one user: one GetItem, plus one BatchGet of their
    departments unless the caller is themselves, an admin or one of their managers."""
    if user_id == principal.user_id or principal.is_admin:
        return True
    user = get_user(principal.tenant_id, user_id)
    if user is None:
        return False
    if principal.user_id in user.ancestors:
        return True
    return reads_user_data(principal, user, department_heads(principal.tenant_id, user))


def require_readable_user(principal: Principal, user_id: Optional[str]) -> str:
    """The user whose data a ``?user_id=`` asks for; anyone out of reach is 404."""
    target = user_id or principal.user_id
    if not can_read_user_data(principal, target):
        raise NotFound("user not found")
    return target


# ---------------------------------------------------------------- projects
def put_project(
    tenant_id: str, project_id: str, name: str, owner_id: str, member_ids: Optional[list[str]] = None
) -> Project:
    if get_user(tenant_id, owner_id) is None:
        raise Unprocessable(f"user {owner_id!r} does not exist", code="unknown_user")
    members = set(member_ids) if member_ids is not None else None
    if members:
        found = {u.user_id for u in User.batch_get([User.key_of(tenant_id, m) for m in members])}
        if found != members:
            raise Unprocessable(f"users {sorted(members - found)} do not exist", code="unknown_user")
    now = iso(utcnow())
    project = Project.fetch(tenant_id, project_id) or Project(
        tenant_id=tenant_id, project_id=project_id, created_at=now
    )
    before = _people_of(project)
    project.name, project.owner_id, project.updated_at = name, owner_id, now
    if members is not None:
        project.member_ids = members or None
    project.save()
    _settle_memberships(project, before)
    return project


def _people_of(project: Project) -> set[str]:
    return ({project.owner_id} if getattr(project, "owner_id", None) else set()) | set(project.member_ids or ())


def _settle_memberships(project: Project, before: set[str]) -> None:
    """After the project's commit (up to 500 members: more than one transaction holds); if
    this fails, the project's stream record re-drives it (``sync_memberships``)."""
    settle("project.memberships", lambda: _sync_memberships(project, before), project_id=project.project_id)


def sync_memberships(earlier: Optional[Project], now: Project) -> None:
    """The re-drive of a project's change (its stream record): the memberships of the project
    as stored now, and those of the ``earlier`` image's people who left; idempotent, so a
    duplicate or late record is harmless."""
    project = Project.lookup((now.PK, now.SK), consistent_read=True)
    if project is None:
        return
    _sync_memberships(project, _people_of(earlier) if earlier is not None else set())


def _sync_memberships(project: Project, before: set[str]) -> None:
    after = _people_of(project)
    with ProjectMembership.batch_write() as batch:
        for user_id in before - after:
            gone = ProjectMembership(tenant_id=project.tenant_id, user_id=user_id, project_id=project.project_id)
            gone.set_keys()
            batch.delete(gone)
        for user_id in after:
            item = ProjectMembership(tenant_id=project.tenant_id, user_id=user_id, project_id=project.project_id)
            item.set_keys()
            batch.save(item)


def transfer_projects(tenant_id: str, from_user: str, to_user: str) -> int:
    """Projects owned by ``from_user`` pass to ``to_user`` (deactivation handover)."""
    moved = 0
    for m in list(ProjectMembership.query(ProjectMembership.pk(tenant_id, from_user))):
        project = get_project(tenant_id, m.project_id)
        if project is not None and project.owner_id == from_user:
            before = _people_of(project)
            project.owner_id, project.updated_at = to_user, iso(utcnow())
            project.save()
            _settle_memberships(project, before)
            moved += 1
    return moved


def projects_page(
    principal: Principal, mine: bool, limit: int, cursor: Optional[str]
) -> tuple[list[Project], Optional[str]]:
    """All the tenant's projects (GSI1), or the caller's (owned or member of: one Query of
    their memberships and one BatchGet). One or two requests per page."""
    t = principal.tenant_id
    scope = f"projects:{t}:{principal.user_id}:{mine}"
    start = cursors.decode(cursor, scope)
    position = start.get("k") if start else None
    if mine:
        result: Any = ProjectMembership.query(
            ProjectMembership.pk(t, principal.user_id),
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=position,
        )
        index: Optional[str] = None
    else:
        result = Project.gsi1.query(
            Project.tenant_pk(t), limit=limit + 1, page_size=limit + 1, last_evaluated_key=position
        )
        index = "GSI1"
    rows = list(result)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursors.encode({"k": rows[-1].start_key(index)}, scope)
    if not mine:
        return rows, next_cursor
    found = {p.project_id: p for p in Project.batch_get([Project.key_of(t, r.project_id) for r in rows])}
    return [found[r.project_id] for r in rows if r.project_id in found], next_cursor


# ---------------------------------------------------------------- departments (read)
def departments_page(tenant_id: str, limit: int, cursor: Optional[str]) -> tuple[list[Department], Optional[str]]:
    """The department tree in path order (a parent before its children): one Query per page."""
    scope = f"departments:{tenant_id}"
    start = cursors.decode(cursor, scope)
    result = Department.gsi1.query(
        Department.tree_pk(tenant_id),
        limit=limit + 1,
        page_size=limit + 1,
        last_evaluated_key=start.get("k") if start else None,
    )
    rows = list(result)
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursors.encode({"k": rows[-1].start_key("GSI1")}, scope)
    return rows, next_cursor


def get_project(tenant_id: str, project_id: str) -> Optional[Project]:
    return Project.fetch(tenant_id, project_id)


def user_detail(tenant_id: str, user_id: str) -> tuple[User, Optional[Department], Optional[User]]:
    """A user of the tenant (deactivated ones too) with department and manager: 2 requests."""
    user = require_user(tenant_id, user_id)
    keys: list[tuple[str, str]] = [Department.key_of(tenant_id, user.department_id)]
    if user.manager_id:
        keys.append(User.key_of(tenant_id, user.manager_id))
    found = {(i.PK, i.SK): i for i in BaseItem.batch_get(keys)}
    dept = found.get(keys[0])
    manager = found.get(keys[1]) if len(keys) > 1 else None
    return user, dept if isinstance(dept, Department) else None, manager if isinstance(manager, User) else None


# ---------------------------------------------------------------- views
@dataclass(frozen=True)
class Profile:
    user: Optional[User]
    department: Optional[Department]
    manager: Optional[User]
    heads: list[Department]


def profile(principal: Principal) -> Profile:
    user = caller_user(principal)
    if user is None:
        return Profile(None, None, None, [])
    dept = get_department(principal.tenant_id, user.department_id)
    manager = get_user(principal.tenant_id, user.manager_id) if user.manager_id else None
    return Profile(user, dept, manager, headed_departments(principal.tenant_id, principal.user_id))


def profile_to_dict(principal: Principal, p: Profile) -> dict[str, Any]:
    """The caller's profile's API shape (``GET /v1/me``)."""
    return {
        "id": principal.user_id,
        "tenant_id": principal.tenant_id,
        "name": p.user.name if p.user else None,
        "email": p.user.email if p.user else None,
        "groups": sorted(principal.groups),
        "roles": sorted(p.user.roles or []) if p.user else [],
        "department": {"id": p.department.department_id, "name": p.department.name} if p.department else None,
        "manager": {"id": p.manager.user_id, "name": p.manager.name} if p.manager else None,
        "heads_departments": [{"id": d.department_id, "name": d.name} for d in p.heads],
    }


def _rebuild_directory(scope: Scope, item: BaseItem) -> Optional[int]:
    return restore_directory(item) if isinstance(item, User) else None


DIRECTORY = Projection(
    name="directory",
    reads=(reads("User"),),
    kept="in_transaction",
    writes=("DirectoryEntry",),
    rebuilds=(Rebuild("profile", _rebuild_directory, index="directory"),),
    doc="the users' directory rows, written with the user",
)
