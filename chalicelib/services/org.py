"""The organisation: departments, the reporting tree, projects, tenant settings.

Reads that other capabilities depend on ("who is below X", "which departments does X
head", "is Y below X") cost a bounded number of requests whatever the org's size: the
trees are materialised paths, so each is a key lookup or one ``begins_with`` query.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynamodb.exceptions import DoesNotExist

from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound, Unprocessable
from chalicelib.models.org import DEFAULT_TIMEZONE, Department, FinanceIntegration, Project, TenantSettings, User
from chalicelib.timeutil import iso, utcnow

MAX_TREE_DEPTH = 32


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("tenant administrators only", code="admin_only")


# ---------------------------------------------------------------- settings
def get_settings(tenant_id: str) -> TenantSettings:
    try:
        return TenantSettings.get(TenantSettings.pk(tenant_id), "SETTINGS")
    except DoesNotExist:
        return TenantSettings(tenant_id=tenant_id)


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
    if "timezone" in changes:
        try:
            ZoneInfo(changes["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise Unprocessable(f"unknown time zone {changes['timezone']!r}", code="unknown_timezone") from None
    current = get_settings(tenant_id)
    for name, value in changes.items():
        setattr(current, name, value)
    current.updated_at = iso(utcnow())
    current.save()
    return current


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
    try:
        return FinanceIntegration.get(TenantSettings.pk(tenant_id), "INTEGRATION#finance")
    except DoesNotExist:
        return None


# ---------------------------------------------------------------- departments
def get_department(tenant_id: str, department_id: str) -> Optional[Department]:
    try:
        return Department.get(Department.pk(tenant_id, department_id), "DEPT")
    except DoesNotExist:
        return None


def _rewrite_prefix(items: Iterable[Any], attr: str, old: str, new: str) -> None:
    for item in items:
        setattr(item, attr, new + getattr(item, attr)[len(old) :])
        item.save()


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
    old_path = existing.path if existing else None
    dept.name, dept.parent_id, dept.head_user_id, dept.path, dept.updated_at = name, parent_id, head_user_id, path, now
    dept.save()
    if old_path and old_path != path:
        # The subtree moved: sub-departments and their members follow.
        _rewrite_prefix(
            (d for d in Department.gsi1.query(Department.tree_pk(tenant_id), Department.GSI1SK.startswith(old_path))),
            "path",
            old_path,
            path,
        )
        _rewrite_prefix(
            list(User.gsi2.query(User.members_pk(tenant_id), User.GSI2SK.startswith(old_path))),
            "dept_path",
            old_path,
            path,
        )
    return dept


def headed_departments(tenant_id: str, user_id: str) -> list[Department]:
    """Departments the user heads (one query)."""
    return list(Department.gsi2.query(Department.head_pk(tenant_id, user_id)))


def headed_department_paths(tenant_id: str, user_id: str) -> list[str]:
    """Paths of the departments the user heads, minus those nested in another of them."""
    paths = sorted(d.path for d in headed_departments(tenant_id, user_id))
    return [p for i, p in enumerate(paths) if not any(p.startswith(q) for q in paths[:i])]


def department_member_ids(tenant_id: str, user_id: str) -> list[str]:
    """Everyone in a department the user heads, or in its sub-departments."""
    ids: list[str] = []
    for path in headed_department_paths(tenant_id, user_id):
        ids.extend(u.user_id for u in User.gsi2.query(User.members_pk(tenant_id), User.GSI2SK.startswith(path)))
    return ids


# ---------------------------------------------------------------- users
def get_user(tenant_id: str, user_id: str) -> Optional[User]:
    try:
        return User.get(User.pk(tenant_id, user_id), "PROFILE")
    except DoesNotExist:
        return None


def require_user(tenant_id: str, user_id: str) -> User:
    user = get_user(tenant_id, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def put_user(
    tenant_id: str,
    user_id: str,
    name: str,
    department_id: str,
    manager_id: Optional[str],
    email: Optional[str],
    roles: Optional[list[str]],
) -> User:
    dept = get_department(tenant_id, department_id)
    if dept is None:
        raise Unprocessable(f"department {department_id!r} does not exist", code="unknown_department")
    path = f"/{user_id}/"
    if manager_id:
        if manager_id == user_id:
            raise Unprocessable("a user cannot manage themselves", code="manager_cycle")
        manager = get_user(tenant_id, manager_id)
        if manager is None:
            raise Unprocessable(f"manager {manager_id!r} does not exist", code="unknown_manager")
        if f"/{user_id}/" in manager.path:
            raise Unprocessable("the manager reports to this user: that is a cycle", code="manager_cycle")
        path = manager.path + f"{user_id}/"
    if path.count("/") - 1 > MAX_TREE_DEPTH:
        raise Unprocessable("the reporting tree is too deep", code="tree_too_deep")
    now = iso(utcnow())
    existing = get_user(tenant_id, user_id)
    user = existing or User(tenant_id=tenant_id, user_id=user_id, created_at=now)
    old_path = existing.path if existing else None
    user.name, user.department_id, user.manager_id = name, department_id, manager_id
    user.email, user.roles = email, set(roles) if roles else None
    user.path, user.dept_path, user.updated_at = path, dept.path, now
    user.save()
    if old_path and old_path != path:
        below = [u for u in subordinates_by_path(tenant_id, old_path)]
        _rewrite_prefix(below, "path", old_path, path)
    return user


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


def can_read_user_data(principal: Principal, user_id: str) -> bool:
    """Self, a manager at any depth, or a tenant administrator."""
    return (
        user_id == principal.user_id
        or principal.is_admin
        or is_subordinate(principal.tenant_id, principal.user_id, user_id)
    )


def require_readable_user(principal: Principal, user_id: Optional[str]) -> str:
    """The user whose data a ``?user_id=`` asks for; anyone out of reach is 404."""
    target = user_id or principal.user_id
    if not can_read_user_data(principal, target):
        raise NotFound("user not found")
    return target


# ---------------------------------------------------------------- projects
def put_project(tenant_id: str, project_id: str, name: str, owner_id: str) -> Project:
    if get_user(tenant_id, owner_id) is None:
        raise Unprocessable(f"user {owner_id!r} does not exist", code="unknown_user")
    now = iso(utcnow())
    try:
        project = Project.get(Project.pk(tenant_id, project_id), "PROJECT")
    except DoesNotExist:
        project = Project(tenant_id=tenant_id, project_id=project_id, created_at=now)
    project.name, project.owner_id, project.updated_at = name, owner_id, now
    project.save()
    return project


def get_project(tenant_id: str, project_id: str) -> Optional[Project]:
    try:
        return Project.get(Project.pk(tenant_id, project_id), "PROJECT")
    except DoesNotExist:
        return None


# ---------------------------------------------------------------- views
@dataclass(frozen=True)
class Profile:
    user: Optional[User]
    department: Optional[Department]
    manager: Optional[User]
    heads: list[Department]


def profile(principal: Principal) -> Profile:
    user = get_user(principal.tenant_id, principal.user_id)
    if user is None:
        return Profile(None, None, None, [])
    dept = get_department(principal.tenant_id, user.department_id)
    manager = get_user(principal.tenant_id, user.manager_id) if user.manager_id else None
    return Profile(user, dept, manager, headed_departments(principal.tenant_id, principal.user_id))
