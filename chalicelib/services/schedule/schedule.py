"""Schedule management: plans, work logs, the calendar and the plan-vs-log comparison.

Dates are ``YYYY-MM-DD`` in the tenant's time zone; instants are stored in UTC. A plan's
``start_time`` must fall on its ``date`` in that zone: a plan at 23:30 local belongs to
that local day although it is 15:30 UTC (Asia/Shanghai); given only a ``start_time``, the
plan's date is derived from it in the tenant's zone.

Completion (the comparison's ``completion_rate``): a plan counts as *completed* when its
status is ``done``, or a work log reports on it (``log.plan_id``), or at least one
sign-in executed it (``signin.plan_id``). ``completion_rate = completed / plans not
cancelled``, rounded to 4 places; ``null`` when there is no plan that is not cancelled.
"""

from __future__ import annotations

import calendar as _calendar
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib import cursor
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import Tx
from chalicelib.models.schedule import CalendarDay, Plan, WorkLog, dated_range, dated_start_key
from chalicelib.services.access import context, refs
from chalicelib.services.fieldwork import signins
from chalicelib.services.org import org
from chalicelib.timeutil import (
    day_start_utc,
    format_date,
    format_month,
    iso,
    local_date,
    parse_date,
    parse_month,
    parse_timestamp,
    today,
    utcnow,
)

MAX_RANGE_DAYS = 92
MAX_REMIND_MINUTES = 7 * 24 * 60
LOW_DATE, HIGH_DATE = "0000-00-00", "9999-99-99"
UNSET: Any = object()


def check_range(start: date, end: date, cap_days: Optional[int] = MAX_RANGE_DAYS) -> None:
    if start > end:
        raise Unprocessable("from must not be after to", code="invalid_range")
    if cap_days is not None and (end - start).days + 1 > cap_days:
        raise Unprocessable(f"the range may span at most {cap_days} days", code="range_too_large")


# ---------------------------------------------------------------- sign-ins
def signins_between(tenant_id: str, user_id: str, start_iso: str, end_iso: str) -> list[dict[str, Any]]:
    """The user's sign-ins by client time in ``[start_iso, end_iso)`` (photos are not
    needed here, so they are not read)."""
    return list(signins.signins_for_user_between(tenant_id, user_id, start_iso, end_iso, with_photos=False))


# ---------------------------------------------------------------- shapes
def to_dict(item: Plan | WorkLog) -> dict[str, Any]:
    """The API shape of a plan or a work log (the opportunity overview uses this)."""
    if isinstance(item, Plan):
        return {
            "id": item.plan_id,
            "type": "plan",
            "user_id": item.user_id,
            "date": item.date,
            "title": item.title,
            "start_time": item.start_time,
            "end_time": item.end_time,
            "account_id": item.account_id,
            "opportunity_id": item.opportunity_id,
            "remind_minutes_before": None if item.remind_minutes_before is None else int(item.remind_minutes_before),
            "remind_at": item.remind_at if item.reminder_armed else None,
            "status": item.status,
            "log_id": item.log_id,
            "created_at": item.created_at,
            "updated_at": item.updated_at,
        }
    return {
        "id": item.log_id,
        "type": "log",
        "user_id": item.user_id,
        "date": item.date,
        "content": item.content,
        "plan_id": item.plan_id,
        "account_id": item.account_id,
        "opportunity_id": item.opportunity_id,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


# ---------------------------------------------------------------- related objects
def _check_related(principal: Principal, account_id: Optional[str], opportunity_id: Optional[str]) -> None:
    """Referenced CRM objects must exist in the caller's visible range (services/access/refs.py)."""
    refs.check(principal, objects=[("account", account_id), ("opportunity", opportunity_id)])


def _calendar_update(tx: Tx, label: str, item: Any, day: str, plans: int = 0, logs: int = 0) -> None:
    """Count ``plans`` and ``logs`` on ``day`` of the calendar of ``item``'s user (a plan or a log)."""
    tenant_id, user_id = item.tenant_id, item.user_id
    counter = CalendarDay(tenant_id=tenant_id, user_id=user_id, date=day)
    counter.set_keys()
    actions: list[Any] = [
        CalendarDay.entity.set(CalendarDay),
        CalendarDay.tenant_id.set(tenant_id),
        CalendarDay.user_id.set(user_id),
        CalendarDay.date.set(day),
    ]
    if plans:
        actions.append(CalendarDay.plans.add(plans))
    if logs:
        actions.append(CalendarDay.logs.add(logs))
    tx.update(label, counter, actions)


# ---------------------------------------------------------------- plans
def _compute_reminder(plan: Plan, now: datetime) -> None:
    """``remind_at = start - remind_minutes_before`` (UTC). Already past but the plan not
    yet started: due now. Start already past: no reminder."""
    plan.remind_at = None
    if plan.remind_minutes_before is None or not plan.start_time or plan.status != "planned":
        return
    start = parse_timestamp(plan.start_time)
    due = start - timedelta(minutes=int(plan.remind_minutes_before))
    now = now.replace(microsecond=0)
    if due < now:
        if start <= now:
            return
        due = now
    plan.remind_at = iso(due)


def _validate_plan(plan: Plan, zone: ZoneInfo) -> None:
    parse_date(plan.date)
    start = parse_timestamp(plan.start_time) if plan.start_time else None
    end = parse_timestamp(plan.end_time) if plan.end_time else None
    if start and local_date(start, zone) != plan.date:
        raise Unprocessable(
            f"start_time falls on {local_date(start, zone)} in the tenant's time zone, not on {plan.date}",
            code="date_mismatch",
        )
    if end and not start:
        raise Unprocessable("end_time needs a start_time", code="start_time_required")
    if start and end and end < start:
        raise Unprocessable("end_time is before start_time", code="invalid_time_range")
    if plan.remind_minutes_before is not None and not start:
        raise Unprocessable("a reminder needs a start_time", code="start_time_required")


def _normalize(value: Optional[str]) -> Optional[str]:
    return iso(parse_timestamp(value)) if value else None


@dataclass(frozen=True)
class NewPlan:
    """A plan as its owner states it (``POST /v1/plans``): a day, or a start time it falls on."""

    date_: Optional[str]
    title: str
    start_time: Optional[str] = None
    end_time: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    remind_minutes_before: Optional[int] = None


def create_plan(principal: Principal, new: NewPlan, now: Optional[datetime] = None) -> Plan:
    tenant, now = principal.tenant_id, now or utcnow()
    date_, title, account_id, opportunity_id = new.date_, new.title, new.account_id, new.opportunity_id
    start_time, end_time, remind_minutes_before = new.start_time, new.end_time, new.remind_minutes_before
    zone = context.of(principal).zone
    start_time, end_time = _normalize(start_time), _normalize(end_time)
    if not date_:
        if not start_time:
            raise Unprocessable("date or start_time is required", code="date_required")
        date_ = local_date(start_time, zone)
    _check_related(principal, account_id, opportunity_id)
    stamp = iso(now)
    plan = Plan(
        tenant_id=tenant,
        plan_id=new_id("pln"),
        user_id=principal.user_id,
        date=date_,
        title=title,
        start_time=start_time,
        end_time=end_time,
        account_id=account_id,
        opportunity_id=opportunity_id,
        remind_minutes_before=remind_minutes_before,
        status="planned",
        created_at=stamp,
        updated_at=stamp,
    )
    _validate_plan(plan, zone)
    _compute_reminder(plan, now)
    plan.zone = zone.key if plan.remind_at else None  # stored with the due item: no lookup when due
    plan.set_keys()
    tx = Tx("create_plan").put("plan", plan, Plan.PK.does_not_exist())
    _calendar_update(tx, "calendar", plan, plan.date, plans=1)
    tx.commit()
    return plan


def _load_plan(tenant_id: str, plan_id: str) -> Optional[Plan]:
    return Plan.fetch(tenant_id, plan_id, consistent_read=True)


def get_plan(principal: Principal, plan_id: str) -> Plan:
    plan = _load_plan(principal.tenant_id, plan_id)
    if plan is None or not org.can_read_user_data(principal, plan.user_id):
        raise NotFound("plan not found")
    return plan


def update_plan(principal: Principal, plan_id: str, changes: dict[str, Any], now: Optional[datetime] = None) -> Plan:
    """Edit a plan (its owner only). Moving its time moves its reminder; ``done`` or
    ``cancelled`` disarms it. A cancelled plan cannot change any more (409)."""
    now = now or utcnow()
    plan = get_plan(principal, plan_id)
    if plan.user_id != principal.user_id:
        raise Forbidden("only the plan's owner may change it", code="not_owner")
    if not changes:
        return plan
    old_status, old_date = plan.status, plan.date
    new_status = changes.get("status", old_status)
    if old_status == "cancelled":
        if set(changes) <= {"status"} and new_status == "cancelled":
            return plan  # repeating the cancellation is a no-op
        raise Conflict("the plan is cancelled", code="plan_cancelled")
    if old_status == "done" and new_status == "cancelled":
        raise Conflict("a done plan cannot be cancelled", code="invalid_transition")
    zone = context.of(principal).zone
    if "start_time" in changes:
        changes["start_time"] = _normalize(changes["start_time"])
    if "end_time" in changes:
        changes["end_time"] = _normalize(changes["end_time"])
    if "start_time" in changes and "date" not in changes and changes["start_time"]:
        changes["date"] = local_date(changes["start_time"], zone)  # moving the time moves the day
    if "account_id" in changes or "opportunity_id" in changes:
        _check_related(principal, changes.get("account_id"), changes.get("opportunity_id"))
    for name, value in changes.items():
        setattr(plan, name, value)
    plan.status = new_status
    _validate_plan(plan, zone)
    _compute_reminder(plan, now)
    plan.zone = zone.key if plan.remind_at else None  # stored with the due item: no lookup when due
    plan.updated_at = iso(now)
    plan.set_keys()
    counted_before, counted_after = old_status != "cancelled", plan.status != "cancelled"
    changed = Conflict("the plan was changed meanwhile; reload and retry", code="plan_changed")
    tx = Tx("update_plan").put("plan", plan, error=changed)  # its version makes a concurrent edit fail
    if counted_before and (not counted_after or plan.date != old_date):
        _calendar_update(tx, "calendar_old", plan, old_date, plans=-1)
    if counted_after and (not counted_before or plan.date != old_date):
        _calendar_update(tx, "calendar_new", plan, plan.date, plans=1)
    tx.commit()
    return plan


# ---------------------------------------------------------------- logs
@dataclass(frozen=True)
class NewLog:
    """A work log as its author writes it (``POST /v1/logs``)."""

    date_: str
    content: str
    plan_id: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None


def create_log(principal: Principal, new: NewLog, now: Optional[datetime] = None) -> WorkLog:
    """A work log; with ``plan_id`` it reports on that plan (the caller's own, one log per
    plan) and inherits its account and opportunity unless given."""
    tenant, now = principal.tenant_id, now or utcnow()
    date_, content, plan_id = new.date_, new.content, new.plan_id
    account_id, opportunity_id = new.account_id, new.opportunity_id
    parse_date(date_)
    # every reference on its own: a valid plan_id vouches for no other id of the body
    found = refs.check(principal, objects=[("account", account_id), ("opportunity", opportunity_id)], plans=[plan_id])
    plan = found.plans.get(plan_id) if plan_id else None
    if plan is not None:
        if plan.status == "cancelled":
            raise Conflict("the plan is cancelled", code="plan_cancelled")
        if plan.log_id:
            raise Conflict("the plan already has a work log", code="plan_already_logged")
        account_id = account_id or plan.account_id
        opportunity_id = opportunity_id or plan.opportunity_id
    stamp = iso(now)
    log = WorkLog(
        tenant_id=tenant,
        log_id=new_id("log"),
        user_id=principal.user_id,
        date=date_,
        content=content,
        plan_id=plan_id,
        account_id=account_id,
        opportunity_id=opportunity_id,
        created_at=stamp,
        updated_at=stamp,
    )
    log.set_keys()
    taken = Conflict("the plan already has a work log or was cancelled", code="plan_already_logged")
    tx = Tx("create_log").put("log", log, WorkLog.PK.does_not_exist(), error=taken if plan is not None else None)
    if plan is not None:
        tx.update(
            "plan",
            plan,
            [Plan.log_id.set(log.log_id)],
            Plan.log_id.does_not_exist() & (Plan.status != "cancelled"),
            error=taken,
            add_version_condition=False,
        )
    _calendar_update(tx, "calendar", log, log.date, logs=1)
    tx.commit()
    return log


def get_log(principal: Principal, log_id: str) -> WorkLog:
    log = WorkLog.fetch(principal.tenant_id, log_id)
    if log is None or not org.can_read_user_data(principal, log.user_id):
        raise NotFound("log not found")
    return log


# ---------------------------------------------------------------- lists
@dataclass(frozen=True)
class ItemPage:
    items: list[Any]
    next_cursor: Optional[str]


def _bounds(from_: Optional[str], to: Optional[str]) -> tuple[str, str]:
    start = parse_date(from_, "from") if from_ else None
    end = parse_date(to, "to") if to else None
    if start and end:
        check_range(start, end, cap_days=None)
    return from_ or LOW_DATE, to or HIGH_DATE


@dataclass(frozen=True)
class DatedQuery:
    """One user's dated items of a model (plans, logs) between two days."""

    model: Any
    tenant: str
    pk: str
    lo: str
    hi: str


def _list(query: DatedQuery, limit: int, token: Optional[str], scope: str) -> ItemPage:
    model, tenant, pk, lo, hi = query.model, query.tenant, query.pk, query.lo, query.hi
    position = cursor.decode(token, scope)
    esk = None
    if position:
        esk = dated_start_key(model, tenant, pk, position.get("k"))
        if esk is None:
            raise Unprocessable("cursor is not valid for this query", code="invalid_cursor")
    results = list(
        model.gsi1.query(
            pk,
            model.GSI1SK.between(*dated_range(lo, hi)),
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=esk,
        )
    )
    next_cursor = None
    if len(results) > limit:
        results = results[:limit]
        next_cursor = cursor.encode({"k": results[-1].GSI1SK}, scope)
    return ItemPage(results, next_cursor)


def list_plans(
    principal: Principal,
    user_id: Optional[str],
    from_: Optional[str],
    to: Optional[str],
    limit: int,
    token: Optional[str],
) -> ItemPage:
    target = org.require_readable_user(principal, user_id)
    lo, hi = _bounds(from_, to)
    scope = f"plans:{principal.tenant_id}:{principal.user_id}:{target}:{lo}:{hi}"
    query = DatedQuery(Plan, principal.tenant_id, Plan.user_pk(principal.tenant_id, target), lo, hi)
    return _list(query, limit, token, scope)


def list_logs(
    principal: Principal,
    user_id: Optional[str],
    from_: Optional[str],
    to: Optional[str],
    limit: int,
    token: Optional[str],
) -> ItemPage:
    target = org.require_readable_user(principal, user_id)
    lo, hi = _bounds(from_, to)
    scope = f"logs:{principal.tenant_id}:{principal.user_id}:{target}:{lo}:{hi}"
    query = DatedQuery(WorkLog, principal.tenant_id, WorkLog.user_pk(principal.tenant_id, target), lo, hi)
    return _list(query, limit, token, scope)


def _all_between(model: Any, pk: str, lo: str, hi: str) -> list[Any]:
    return list(model.gsi1.query(pk, model.GSI1SK.between(*dated_range(lo, hi))))


# ---------------------------------------------------------------- calendar
def calendar_month(principal: Principal, user_id: Optional[str], month: Optional[str]) -> dict[str, Any]:
    """Days of the month with plans, logs or sign-ins, and their counts. Requests: the
    tenant settings, the access check, one query of at most 31 counter items, and the
    sign-in capability's range read."""
    target = org.require_readable_user(principal, user_id)
    tenant = principal.tenant_id
    zone = context.of(principal).zone
    month = month or format_month(today(zone))
    first = parse_month(month)
    last = first.replace(day=_calendar.monthrange(first.year, first.month)[1])
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"plans": 0, "logs": 0, "signins": 0})
    for day in CalendarDay.query(CalendarDay.month_pk(tenant, target, month)):
        if int(day.plans or 0) > 0:
            counts[day.date]["plans"] = int(day.plans)
        if int(day.logs or 0) > 0:
            counts[day.date]["logs"] = int(day.logs)
    start, end = day_start_utc(first, zone), day_start_utc(last + timedelta(days=1), zone)
    for signin in signins_between(tenant, target, iso(start), iso(end)):
        when = signin.get("client_time")
        if not when:
            continue
        local_day = local_date(when, zone)
        if local_day.startswith(month):
            counts[local_day]["signins"] += 1
    days = [{"date": d, **c} for d, c in sorted(counts.items()) if any(c.values())]
    return {"month": month, "user_id": target, "days": days}


# ---------------------------------------------------------------- comparison
def _rate(completed: int, total: int) -> Optional[float]:
    return round(completed / total, 4) if total else None


def comparison(principal: Principal, user_id: Optional[str], from_: Optional[str], to: Optional[str]) -> dict[str, Any]:
    """Per day: each plan with its log and the sign-ins that executed it, logs and sign-ins
    tied to no plan, and the day's completion rate; plus the range's rate."""
    target = org.require_readable_user(principal, user_id)
    tenant = principal.tenant_id
    zone = context.of(principal).zone
    start = parse_date(from_, "from") if from_ else today(zone)
    end = parse_date(to, "to") if to else (start if from_ else today(zone))
    check_range(start, end)
    lo, hi = format_date(start), format_date(end)
    plans = _all_between(Plan, Plan.user_pk(tenant, target), lo, hi)
    logs = _all_between(WorkLog, WorkLog.user_pk(tenant, target), lo, hi)
    first, stop = day_start_utc(start, zone), day_start_utc(end + timedelta(days=1), zone)
    found = signins_between(tenant, target, iso(first), iso(stop))
    logs_by_plan = _logs_by_plan(tenant, plans, logs)
    plan_ids = {p.plan_id for p in plans}
    signins_by_plan: dict[str, list[dict[str, Any]]] = defaultdict(list)
    days: dict[str, dict[str, Any]] = {}

    def day_of(d: str) -> dict[str, Any]:
        return days.setdefault(d, {"date": d, "plans": [], "unplanned_logs": [], "unplanned_signins": []})

    for s in sorted(found, key=lambda s: s.get("client_time") or ""):
        if s.get("plan_id") in plan_ids:
            signins_by_plan[s["plan_id"]].append(s)
        elif s.get("client_time"):
            d = local_date(s["client_time"], zone)
            if lo <= d <= hi:
                day_of(d)["unplanned_signins"].append(s)
    for log in logs:
        if not log.plan_id or log.plan_id not in plan_ids:
            day_of(log.date)["unplanned_logs"].append(to_dict(log))
    totals = {"plans": 0, "cancelled": 0, "completed": 0}
    for plan in sorted(plans, key=lambda p: (p.date, p.start_time or "~", p.plan_id)):
        log = logs_by_plan.get(plan.plan_id)
        executed = signins_by_plan.get(plan.plan_id, [])
        completed = plan.status != "cancelled" and (plan.status == "done" or log is not None or bool(executed))
        entry = {
            **to_dict(plan),
            "log": to_dict(log) if log is not None else None,
            "signins": executed,
            "completed": completed,
        }
        day_of(plan.date)["plans"].append(entry)
        totals["plans"] += 1
        totals["cancelled"] += plan.status == "cancelled"
        totals["completed"] += completed
    return {
        "user_id": target,
        "from": lo,
        "to": hi,
        "completion_rate": _rate(totals["completed"], totals["plans"] - totals["cancelled"]),
        "totals": totals,
        "days": _with_rates(days),
    }


def _logs_by_plan(tenant: str, plans: list[Plan], logs: list[WorkLog]) -> dict[str, WorkLog]:
    """Each plan's log, also when it was written on another day than its plan's (1 BatchGet)."""
    logs_by_plan = {log.plan_id: log for log in logs if log.plan_id}
    missing = [p for p in plans if p.log_id and p.plan_id not in logs_by_plan]
    if missing:
        keys = [WorkLog.key_of(tenant, p.log_id) for p in missing]
        for log in WorkLog.batch_get(keys):
            logs_by_plan[log.plan_id] = log
    return logs_by_plan


def _with_rates(days: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The days in date order, each with the completion rate of its plans not cancelled."""
    out_days = []
    for d in sorted(days):
        day = days[d]
        active = [p for p in day["plans"] if p["status"] != "cancelled"]
        day["completion_rate"] = _rate(sum(p["completed"] for p in active), len(active))
        out_days.append(day)
    return out_days
