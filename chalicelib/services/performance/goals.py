"""Goals per user or department and month, their actuals, progress and pace, and the
scoreboard of a leader's people.

Who sets a goal: admins; for a user, the user's managers (any depth) and heads of the
user's departments; for a department, heads of it or of a department above it. Who reads
one: the same, and the user themselves. Everyone else: 404 (never reveal it exists).

Costs: a goal read is 1 Query (targets and actuals share a partition) plus the checks of
who may read it (at most 2 GetItems + 1 Query); a scoreboard is 1-2 Queries for the
people plus 1 BatchGet per 50 of them (their targets and actuals), so ``requests per 100
users`` is constant.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, NotFound
from chalicelib.models.base import BaseItem
from chalicelib.models.goals import Actuals, Goal, month_of_scope
from chalicelib.models.org import User
from chalicelib.services.access import context
from chalicelib.services.access.visibility import dept_ids
from chalicelib.services.expenses import budgets
from chalicelib.services.org import org, workcalendar
from chalicelib.timeutil import iso, utcnow

COUNT_METRICS = ("visits", "new_opportunities", "won_count")
MONEY_METRICS = ("won_amount",)
METRICS = (*COUNT_METRICS, "won_amount", "plan_completion_rate", "expense_limit")
AHEAD, BEHIND = Decimal("1.1"), Decimal("0.9")
BATCH_USERS = 50  # two keys each: 100 keys, one BatchGetItem
MAX_BOARD = 2000


# ---------------------------------------------------------------- who may
def _user_rights(principal: Principal, user: Optional[User]) -> bool:
    """Admins, the user's managers (any depth), heads of the user's departments."""
    if user is None:
        return False
    if principal.is_admin:
        return True
    if principal.user_id in user.ancestors:
        return True
    headed = {d.department_id for d in context.of(principal).headed_departments}
    return bool(headed & set(dept_ids(user.dept_path)))


def _department_rights(principal: Principal, department_id: str) -> bool:
    """Admins and heads of the department or of one above it."""
    dept = org.get_department(principal.tenant_id, department_id)
    if dept is None:
        return False
    if principal.is_admin:
        return True
    headed = {d.department_id for d in context.of(principal).headed_departments}
    return bool(headed & set(dept_ids(dept.path)))


def _may(principal: Principal, scope_type: str, scope_id: str, reading: bool) -> bool:
    if scope_type == "department":
        return _department_rights(principal, scope_id)
    if reading and scope_id == principal.user_id:
        return True
    return _user_rights(principal, org.get_user(principal.tenant_id, scope_id))


def require(principal: Principal, scope_type: str, scope_id: str, reading: bool) -> None:
    if not _may(principal, scope_type, scope_id, reading):
        raise NotFound(f"{scope_type} not found")


# ---------------------------------------------------------------- progress and pace
def _day_share(now: datetime, start: datetime) -> Decimal:
    """How much of the day starting at ``start`` has passed at ``now`` (0..1)."""
    return min(Decimal(1), max(Decimal(0), Decimal((now - start).total_seconds()) / 86400))


def elapsed_share(
    period: str, tenant_id: str, now: Optional[datetime] = None, zone: Optional[ZoneInfo] = None
) -> Decimal:
    """How much of the month's working time has passed in the tenant's zone: the share of its
    working days (the tenant's work calendar) gone by, today's counted by the hour; 0 before
    the month, 1 after it. A month without a working day counts calendar days. ``zone``: the
    tenant's, when the caller holds it (the request's context)."""
    zone = zone or org.tenant_zone(tenant_id)
    year, month = int(period[:4]), int(period[5:7])
    first = date(year, month, 1)
    days = calendar.monthrange(year, month)[1]
    working = workcalendar.calendar(tenant_id, [year]).working_days(first, first + timedelta(days=days - 1))
    current = (now or utcnow()).astimezone(zone)
    counted = working or [first + timedelta(days=n) for n in range(days)]
    gone = sum((_day_share(current, datetime(d.year, d.month, d.day, tzinfo=zone)) for d in counted), Decimal(0))
    return gone / len(counted)


def _pace(actual: Decimal, target: Decimal, share: Decimal, lower_is_better: bool = False) -> str:
    expected = target * share
    if lower_is_better:
        if actual > target or actual > expected * AHEAD:
            return "behind"
        return "ahead" if actual <= expected * BEHIND else "on_track"
    if actual >= target or (expected > 0 and actual >= expected * AHEAD):
        return "ahead"
    if expected < 1 or actual >= expected * BEHIND:  # too early in the month to fall behind
        return "on_track"
    return "behind"


@dataclass(frozen=True)
class Measured:
    actuals: dict[str, Any]
    values: dict[str, Optional[Decimal]]  # per metric, comparable with its target


def measure(item: Optional[Actuals]) -> Measured:
    get = (lambda name: int(getattr(item, name) or 0)) if item is not None else (lambda name: 0)
    total, done = get("plans_total"), get("plans_done")
    rate = (Decimal(done * 100) / total).quantize(Decimal("0.1")) if total else None
    values: dict[str, Optional[Decimal]] = {m: Decimal(get(m)) for m in COUNT_METRICS}
    values["won_amount"] = Decimal(get("won_amount_cents")) / 100
    values["plan_completion_rate"] = rate
    values["expense_limit"] = Decimal(get("expenses_cents")) / 100
    actuals = {
        "visits": get("visits"),
        "new_opportunities": get("new_opportunities"),
        "won_amount": budgets.money(get("won_amount_cents")),
        "won_count": get("won_count"),
        "plan_completion_rate": float(rate) if rate is not None else None,
        "expenses": budgets.money(get("expenses_cents")),
    }
    return Measured(actuals, values)


def progress(targets: dict[str, Any], measured: Measured, share: Decimal) -> tuple[dict, dict]:
    """Percent of each target reached, and the pace against the elapsed share."""
    percent: dict[str, float] = {}
    pace: dict[str, str] = {}
    for metric, raw in targets.items():
        target, actual = Decimal(str(raw)), measured.values.get(metric)
        if actual is None or target <= 0:
            continue
        percent[metric] = float((actual * 100 / target).quantize(Decimal("0.1")))
        rate = metric == "plan_completion_rate"
        pace[metric] = _pace(actual, target, Decimal(1) if rate else share, lower_is_better=metric == "expense_limit")
    return percent, pace


# ---------------------------------------------------------------- reads and writes
def _targets(goal: Optional[Goal]) -> dict[str, Any]:
    return dict(goal.targets.as_dict()) if goal is not None and goal.targets is not None else {}


def view(share: Decimal, goal: Optional[Goal], actuals: Optional[Actuals]) -> dict[str, Any]:
    targets = _targets(goal)
    measured = measure(actuals)
    percent, pace = progress(targets, measured, share)
    return {"targets": targets, "actuals": measured.actuals, "progress": percent, "pace": pace}


def read(principal: Principal, scope_type: str, scope_id: str, period: str) -> dict[str, Any]:
    require(principal, scope_type, scope_id, reading=True)
    found = {type(i).__name__: i for i in month_of_scope(principal.tenant_id, scope_type, scope_id, period)}
    share = elapsed_share(period, principal.tenant_id, zone=context.of(principal).zone)
    out = view(share, found.get("Goal"), found.get("Actuals"))  # type: ignore[arg-type]
    return {"scope_type": scope_type, "scope_id": scope_id, "period": period, **out}


def put(principal: Principal, scope_type: str, scope_id: str, period: str, targets: dict[str, Any]) -> dict[str, Any]:
    """Set targets; someone who may read the goal but not set it (the user themselves) gets 403."""
    if not _may(principal, scope_type, scope_id, reading=False):
        require(principal, scope_type, scope_id, reading=True)
        raise Forbidden("goals are set by admins, managers and department heads", code="not_allowed")
    goal = Goal(
        tenant_id=principal.tenant_id,
        scope_type=scope_type,
        scope_id=scope_id,
        period=period,
        targets=targets,
        updated_by=principal.user_id,
        updated_at=iso(utcnow()),
    )
    goal.save()
    return read(principal, scope_type, scope_id, period)


# ---------------------------------------------------------------- scoreboard
def _people(principal: Principal, department_id: Optional[str]) -> list[User]:
    tenant = principal.tenant_id
    if department_id:
        if not _department_rights(principal, department_id):
            raise NotFound("department not found")
        dept = org.get_department(tenant, department_id)
        path = dept.path if dept else "/"
        return list(User.gsi2.query(User.members_pk(tenant), User.GSI2SK.startswith(path), limit=MAX_BOARD))
    me = context.of(principal).caller
    return org.subordinates_by_path(tenant, me.path)[:MAX_BOARD] if me else []


def _goals_and_actuals(tenant_id: str, period: str, user_ids: list[str]) -> dict[tuple[str, str], BaseItem]:
    keys = []
    for user_id in user_ids:
        keys += [Goal.key_of(tenant_id, "user", user_id, period), Actuals.key_of(tenant_id, "user", user_id, period)]
    found: dict[tuple[str, str], BaseItem] = {}
    for start in range(0, len(keys), 2 * BATCH_USERS):
        for item in BaseItem.batch_get(keys[start : start + 2 * BATCH_USERS]):
            found[(item.PK, item.SK)] = item
    return found


def scoreboard(principal: Principal, period: str, department_id: Optional[str]) -> list[dict[str, Any]]:
    """Rows for the caller's subordinates (or a department's staff), ranked by won amount."""
    people = _people(principal, department_id)
    found = _goals_and_actuals(principal.tenant_id, period, [u.user_id for u in people])
    share = elapsed_share(period, principal.tenant_id, zone=context.of(principal).zone)
    rows = []
    for user in people:
        goal = found.get(Goal.key_of(principal.tenant_id, "user", user.user_id, period))
        actuals = found.get(Actuals.key_of(principal.tenant_id, "user", user.user_id, period))
        row = view(share, goal, actuals)  # type: ignore[arg-type]
        rows.append({"user_id": user.user_id, "name": user.name, **row})
    rows.sort(key=lambda r: (-Decimal(r["actuals"]["won_amount"]), r["name"], r["user_id"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def current_period(zone: ZoneInfo) -> str:
    """The month it is now in the tenant's ``zone``."""
    return utcnow().astimezone(zone).strftime("%Y-%m")
