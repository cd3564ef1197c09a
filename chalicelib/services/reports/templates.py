"""Report templates (set by tenant admins) and their periods: which days a report covers,
and when it is due (``due_time`` on the period's last working day, tenant time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib import cursor as cursors
from chalicelib.errors import NotFound, Unprocessable
from chalicelib.models.reports import ReportTemplate, TemplateField
from chalicelib.services.org import workcalendar
from chalicelib.timeutil import iso, parse_date, utcnow
from chalicelib.vocabulary import REPORT_SOURCES

PERIODS = ("daily", "weekly", "monthly")
SOURCES = REPORT_SOURCES  # chalicelib/vocabulary.py: the one list


def to_dict(t: ReportTemplate) -> dict[str, Any]:
    return {
        "id": t.template_id,
        "name": t.name,
        "period": t.period,
        "due_time": t.due_time,
        "fields": [
            {"key": f.key, "label": f.label, "type": f.type, **({"source": f.source} if f.source else {})}
            for f in t.fields or []
        ],
        "updated_at": t.updated_at,
    }


def _check_fields(fields: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for f in fields:
        if f["key"] in seen:
            raise Unprocessable(f"field key {f['key']!r} appears twice", code="duplicate_field_key")
        seen.add(f["key"])
        if f["type"] == "auto" and not f.get("source"):
            raise Unprocessable(f"auto field {f['key']!r} needs a source", code="source_required")
        if f["type"] != "auto" and f.get("source"):
            raise Unprocessable(f"only auto fields take a source ({f['key']!r})", code="source_not_allowed")


def put_template(tenant_id: str, template_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or replace a template (admins: the handler checks)."""
    _check_fields(body["fields"])
    template = ReportTemplate(
        tenant_id=tenant_id,
        template_id=template_id,
        name=body["name"],
        period=body["period"],
        due_time=body["due_time"],
        fields=[
            TemplateField(key=f["key"], label=f["label"], type=f["type"], source=f.get("source"))
            for f in body["fields"]
        ],
        updated_at=iso(utcnow()),
    )
    template.save()
    return to_dict(template)


def require_template(tenant_id: str, template_id: str) -> ReportTemplate:
    """A template of the tenant; 422 ``unknown_template`` otherwise (a reference in a body or query)."""
    template = ReportTemplate.fetch(tenant_id, template_id)
    if template is None:
        raise Unprocessable(f"report template {template_id!r} does not exist", code="unknown_template")
    return template


def get_template(tenant_id: str, template_id: str) -> ReportTemplate:
    template = ReportTemplate.fetch(tenant_id, template_id)
    if template is None:
        raise NotFound("report template not found")
    return template


def templates_page(tenant_id: str, limit: int, cursor: Optional[str]) -> tuple[list[dict[str, Any]], Optional[str]]:
    """The tenant's templates by id: one Query per page."""
    scope = f"report-templates:{tenant_id}"
    start = cursors.decode(cursor, scope)
    rows = list(
        ReportTemplate.query(
            ReportTemplate.collection_pk(tenant_id),
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start.get("k") if start else None,
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursors.encode({"k": rows[-1].start_key()}, scope)
    return [to_dict(t) for t in rows], next_cursor


def all_templates(tenant_id: str) -> list[ReportTemplate]:
    """Every template of the tenant (the digest; a tenant has a handful)."""
    return list(ReportTemplate.query(ReportTemplate.collection_pk(tenant_id)))


# ---------------------------------------------------------------- periods
@dataclass(frozen=True)
class Period:
    start: date
    end: date
    starts_at: datetime  # the start of its first day, tenant time
    due_at: Optional[datetime]  # None: no working day in the period, so no report is expected

    def is_due(self, now: datetime) -> bool:
        """Past its due time: a report submitted now is ``late``."""
        return self.due_at is not None and now > self.due_at

    def expects_report(self, now: datetime) -> bool:
        """The period has begun and has a working day: not having a report is ``missing``."""
        return self.due_at is not None and now >= self.starts_at


def period_end(template: ReportTemplate, start: date) -> date:
    if template.period == "weekly":
        return start + timedelta(days=6)
    if template.period == "monthly":
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        return following - timedelta(days=1)
    return start


def parse_period_start(template: ReportTemplate, value: str) -> date:
    """``period_start`` as the template's period requires: any day (daily), a Monday
    (weekly), the 1st (monthly); else 422 ``invalid_period_start``."""
    start = parse_date(value, "period_start")
    if template.period == "weekly" and start.weekday() != 0:
        raise Unprocessable("a weekly report's period starts on a Monday", code="invalid_period_start")
    if template.period == "monthly" and start.day != 1:
        raise Unprocessable("a monthly report's period starts on the 1st", code="invalid_period_start")
    return start


def period_of(
    template: ReportTemplate, start: date, zone: ZoneInfo, cal: Optional[workcalendar.Calendar] = None
) -> Period:
    """The period starting at ``start``: due at ``due_time`` on its last working day."""
    end = period_end(template, start)
    cal = cal or workcalendar.calendar(template.tenant_id, range(start.year, end.year + 1))
    working = cal.working_days(start, end)
    starts_at = datetime.combine(start, time(0), tzinfo=zone)
    if not working:
        return Period(start, end, starts_at, None)
    hh, mm = (int(x) for x in template.due_time.split(":"))
    return Period(start, end, starts_at, datetime.combine(working[-1], time(hh, mm), tzinfo=zone))
