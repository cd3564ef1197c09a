"""Who submitted what: a leader's compliance view of one template and period, and the
reports missing at the team digest.

Status of a person for a period: ``submitted`` (on time) or ``late`` (after ``due_time``
on the period's last working day; their report's slot says which), else ``missing`` once
the period has begun and has a working day (by the tenant work calendar), else
``not_due`` (a period still to come, or one without a working day: a daily report of a
Sunday or a holiday). The team digest names only reports past their due time.

Cost per page of up to 100 people: the caller's team listing (1 Query, the one the team-day
view reads) + 1 BatchGet of the page's report slots (keyed by author, template and period)
+ the template, the calendar year and the settings (GetItems). A department head who
manages nobody reads the active members of the departments they head instead (1 Query
for the departments, then 1 Query per department the page spans).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Optional

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import Forbidden
from chalicelib.models.base import BaseItem
from chalicelib.models.org import Department, DirectoryEntry, User
from chalicelib.models.reports import ReportSlot, ReportTemplate
from chalicelib.services.access import context
from chalicelib.services.org import org, workcalendar
from chalicelib.services.reports import templates
from chalicelib.timeutil import utcnow

DIGEST_HOUR = 8


def status_of(slot: Optional[ReportSlot], period: templates.Period, now: datetime) -> dict[str, Any]:
    if slot is not None:
        return {"status": "late" if slot.late else "submitted", "report_id": slot.report_id}
    return {"status": "missing" if period.expects_report(now) else "not_due"}


def _slots(tenant_id: str, template_id: str, period_start: str, user_ids: list[str]) -> dict[str, ReportSlot]:
    keys = [ReportSlot.key_of(tenant_id, u, template_id, period_start) for u in user_ids]
    return {s.author_id: s for s in BaseItem.batch_get(keys) if isinstance(s, ReportSlot)} if keys else {}


def _headed_departments(principal: Principal) -> list[str]:
    """The departments the caller heads and those below them, in tree order."""
    tenant_id = principal.tenant_id
    ids: list[str] = []
    for path in context.of(principal).headed_paths:
        below = Department.gsi1.query(Department.tree_pk(tenant_id), Department.GSI1SK.startswith(path))
        ids += [d.department_id for d in below]
    return list(dict.fromkeys(ids))


def _department_people(
    principal: Principal, limit: int, position: dict[str, Any], scope: str
) -> tuple[list[DirectoryEntry], Optional[dict[str, Any]]]:
    """A page of the active members of the departments the caller heads (the caller left out)."""
    departments = _headed_departments(principal)
    index, inner = int(position.get("i", 0)), position.get("c")
    out: list[DirectoryEntry] = []
    while index < len(departments) and len(out) < limit:
        listing = DirectoryEntry.department(departments[index], False)
        rows, inner = org.directory_page(
            principal.tenant_id, listing, None, limit - len(out), inner, f"{scope}:{index}"
        )
        out += [r for r in rows if r.user_id != principal.user_id]
        if inner is None:
            index += 1
    more = index < len(departments)
    return out, ({"src": "dept", "i": index, "c": inner} if more else None)


def _people(
    principal: Principal, limit: int, cursor: Optional[str], scope: str
) -> tuple[list[DirectoryEntry], Optional[str]]:
    position = cursors.decode(cursor, scope) or {"src": "team"}
    if position.get("src") == "team":
        rows, inner = org.team_page(
            principal.tenant_id, principal.user_id, False, limit, position.get("c"), scope + ":team"
        )
        if rows or position.get("c"):
            return rows, cursors.encode({"src": "team", "c": inner}, scope) if inner else None
        if not context.of(principal).headed_departments:
            raise Forbidden("compliance is for managers and department heads", code="not_a_leader")
        position = {"src": "dept"}
    rows, following = _department_people(principal, limit, position, scope + ":dept")
    return rows, cursors.encode(following, scope) if following else None


def compliance_page(
    principal: Principal, template_id: str, period_start: str, limit: int, cursor: Optional[str]
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """``GET /v1/report-compliance``: the caller's subordinates and their status."""
    tenant = principal.tenant_id
    template = templates.require_template(tenant, template_id)
    start = templates.parse_period_start(template, period_start)
    scope = f"compliance:{tenant}:{principal.user_id}:{template_id}:{period_start}"
    people, next_cursor = _people(principal, limit, cursor, scope)
    period = templates.period_of(template, start, context.of(principal).zone)
    slots = _slots(tenant, template_id, start.isoformat(), [p.user_id for p in people])
    now = utcnow()
    items = [{"user_id": p.user_id, "name": p.name, **status_of(slots.get(p.user_id), period, now)} for p in people]
    return items, next_cursor


# ---------------------------------------------------------------- the team digest
@dataclass(frozen=True)
class Missing:
    user: User
    template_name: str
    period_start: str


def _period_start(template: ReportTemplate, day: date) -> date:
    if template.period == "weekly":
        return day - timedelta(days=day.weekday())
    if template.period == "monthly":
        return day.replace(day=1)
    return day


def missing_reports(tenant_id: str, day: date) -> list[Missing]:
    """Reports that fell due on the last working day before ``day`` and that people with a
    manager have not submitted by the digest's hour: each period is listed once, in the
    first digest after it is due. Cost: 1 Query of the templates (nothing more without
    any), then per template due: the tenant's users (1 Query per page) and 1 BatchGet of
    their slots per 100."""
    found = templates.all_templates(tenant_id)
    if not found:
        return []
    zone = org.tenant_zone(tenant_id)
    cal = workcalendar.calendar(tenant_id, [day.year - 1, day.year])
    last = cal.working_days_before(day, 1)
    at = datetime.combine(day, time(DIGEST_HOUR), tzinfo=zone)
    people = [u for u in org.subordinates_by_path(tenant_id, "/") if u.is_active and u.manager_id]
    out: list[Missing] = []
    for template in found:
        period = templates.period_of(template, _period_start(template, last), zone, cal)
        if period.due_at is None or period.due_at.date() != last or not period.is_due(at):
            continue
        start = period.start.isoformat()
        slots: dict[str, ReportSlot] = {}
        for n in range(0, len(people), 100):
            slots.update(_slots(tenant_id, template.template_id, start, [u.user_id for u in people[n : n + 100]]))
        out += [Missing(u, template.name, start) for u in people if u.user_id not in slots]
    return out
