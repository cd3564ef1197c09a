"""Work reports: submission against a template, recipients, read receipts, edits until
first read, lists.

Who may act (the one place): the author writes and edits their own reports; a report is
read by its author, its recipients (the author's manager when submitted, plus those the
author named) and the author's managers at any depth. Anyone else: 404.

``auto`` fields are computed here from the author's figures kept on write
(``figures.totals``: one BatchGet of the period's days); what a client sends for them is
ignored. A report, its slot (one per author, template and period: a second is 409) and
its list entries commit in one transaction; the ``report_received`` messages and the
feed's ``report`` activity (when it relates to CRM objects) follow the commit, and the
report's stream INSERT re-drives them (both idempotent).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from pynamodb.exceptions import UpdateError

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, Tx, condition_failed
from chalicelib.models.org import User
from chalicelib.models.reports import ALL_TEMPLATES, Report, ReportListEntry, ReportSlot, ReportTemplate
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.feed import activities
from chalicelib.services.inbox import messages
from chalicelib.services.org import org
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import INSERT, Change, Projection, reads
from chalicelib.services.reports import figures, templates
from chalicelib.timeutil import iso, utcnow

MAX_NUMBER = 10**15
MAX_TEXT = 10_000


def to_dict(r: Report) -> dict[str, Any]:
    return {
        "id": r.report_id,
        "template_id": r.template_id,
        "author_id": r.author_id,
        "period": r.period,
        "period_start": r.period_start,
        "period_end": r.period_end,
        "values": json.loads(r.values_json),
        "related": json.loads(r.related_json) if r.related_json else [],
        "recipient_ids": list(r.recipient_ids or []),
        "read_by": [{"user_id": x.user_id, "read_at": x.read_at} for x in r.read_by or []],
        "late": bool(r.late),
        "submitted_at": r.submitted_at,
        "updated_at": r.updated_at,
    }


# ---------------------------------------------------------------- values
def _client_value(key: str, kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "text":
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise Unprocessable(f"field {key!r} takes text (at most {MAX_TEXT} characters)", code="invalid_value")
        return value
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not numeric or not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise Unprocessable(f"field {key!r} takes a number", code="invalid_value")
    return value


def values_of(template: ReportTemplate, sent: dict[str, Any], auto: dict[str, Any]) -> dict[str, Any]:
    """Every field of the template: ``auto`` ones from the figures, whatever was sent for
    them; the others as sent (checked against their type), null when not sent. A key the
    template does not have is 422 ``unknown_field``."""
    fields = {f.key: f for f in template.fields or []}
    unknown = sorted(set(sent) - set(fields))
    if unknown:
        raise Unprocessable(f"the template has no fields {unknown}", code="unknown_field")
    out: dict[str, Any] = {}
    for key, f in fields.items():
        out[key] = auto[str(f.source)] if f.type == "auto" else _client_value(key, f.type, sent.get(key))
    return out


# ---------------------------------------------------------------- who may
def _may_read(principal: Principal, report: Report) -> bool:
    """The author, the recipients, the author's managers (any depth, as the org is now)."""
    me = principal.user_id
    if me == report.author_id or me in (report.recipient_ids or []):
        return True
    author: Optional[User] = org.get_user(principal.tenant_id, report.author_id)
    return author is not None and me in author.ancestors


def _readable(principal: Principal, report_id: str) -> Report:
    report = Report.fetch(principal.tenant_id, report_id, consistent_read=True)
    if report is None or not _may_read(principal, report):
        raise NotFound("report not found")
    return report


# ---------------------------------------------------------------- submit
@dataclass(frozen=True)
class NewReport:
    template_id: str
    period_start: str
    values: dict[str, Any]
    related: list[tuple[str, str]] = field(default_factory=list)
    recipient_ids: list[str] = field(default_factory=list)


def _recipients(author: User, named: list[str]) -> list[str]:
    wanted = ([author.manager_id] if author.manager_id else []) + list(named)
    return [u for u in dict.fromkeys(wanted) if u != author.user_id]


def _entries(report: Report) -> list[ReportListEntry]:
    out = []
    owners = [(report.author_id, "mine")] + [(u, "received") for u in report.recipient_ids or []]
    for user_id, role in owners:
        for listing in (ALL_TEMPLATES, report.template_id):
            out.append(
                ReportListEntry(
                    tenant_id=report.tenant_id,
                    user_id=user_id,
                    role=role,
                    listing=listing,
                    period_start=report.period_start,
                    report_id=report.report_id,
                )
            )
    return out


def _new_report(principal: Principal, new: NewReport, template: ReportTemplate, author: User) -> Report:
    tenant = principal.tenant_id
    zone = context.of(principal).zone
    start = templates.parse_period_start(template, new.period_start)
    now = utcnow()
    if start > now.astimezone(zone).date():
        raise Unprocessable("the period has not started yet", code="period_not_started")
    found = refs.check(principal, objects=new.related, users=new.recipient_ids)
    period = templates.period_of(template, start, zone)
    auto = figures.totals(tenant, author.user_id, period.start, period.end)
    related = [{"type": t, "id": i, "name": found.objects[(t, i)].name} for t, i in dict.fromkeys(new.related)]
    return Report(
        tenant_id=tenant,
        report_id=new_id("rpt"),
        author_id=author.user_id,
        template_id=template.template_id,
        period=template.period,
        period_start=period.start.isoformat(),
        period_end=period.end.isoformat(),
        values_json=json.dumps(values_of(template, new.values, auto), ensure_ascii=False),
        related_json=json.dumps(related, ensure_ascii=False) if related else None,
        recipient_ids=_recipients(author, new.recipient_ids) or None,
        read_by=[],
        late=period.is_due(now),
        submitted_at=iso(now),
        updated_at=iso(now),
    )


def submit(principal: Principal, new: NewReport) -> dict[str, Any]:
    """``POST /v1/reports``: 422 for a bad template, period, value or reference; 409
    ``report_exists`` for a second report of the author, template and period."""
    template = templates.require_template(principal.tenant_id, new.template_id)
    author = org.caller_user(principal)
    if author is None:
        raise Forbidden("only users of the tenant write reports", code="unknown_user")
    report = _new_report(principal, new, template, author)
    slot = ReportSlot(
        tenant_id=report.tenant_id,
        author_id=report.author_id,
        template_id=report.template_id,
        period_start=report.period_start,
        report_id=report.report_id,
        late=report.late,
    )
    tx = Tx("report").put("report", report, Report.PK.does_not_exist())
    tx.put(
        "slot", slot, ReportSlot.PK.does_not_exist(), Conflict("a report for this period exists", code="report_exists")
    )
    for n, entry in enumerate(_entries(report)):
        tx.put(f"entry{n}", entry)
    tx.commit()
    resolver = context.of(principal).resolver  # the request's: its settings and what it read
    settle("report.delivered", lambda: deliver(report, template.name, resolver), report_id=report.report_id)
    return to_dict(report)


def deliver(report: Report, template_name: str, resolver: Optional[Resolver] = None) -> None:
    """``report_received`` to each recipient and, when it relates to CRM objects, the feed's
    ``report`` activity: both idempotent (a dedupe key, an activity id from the report).
    ``resolver``: the request's visibility loader, when there is a request."""
    title = f"{template_name} {report.period_start}"
    for user_id in report.recipient_ids or []:
        messages.send(
            messages.NewMessage(
                report.tenant_id,
                user_id,
                "report_received",
                f"Report: {title}",
                f"{report.author_id} submitted {title}",
                "report",
                report.report_id,
                dedupe_key=f"report_received#{report.report_id}",
            )
        )
    related = [(r["type"], r["id"]) for r in json.loads(report.related_json or "[]")]
    if related:
        activities.record_activity(
            activities.NewActivity(
                report.tenant_id,
                "report",
                report.author_id,
                title,
                related,
                occurred_at=report.submitted_at,
                extra={
                    "report_id": report.report_id,
                    "template_id": report.template_id,
                    "period_start": report.period_start,
                },
                activity_id=f"act_{report.report_id}",
            ),
            resolver,
        )


def handle_change(change: Change) -> bool:
    """The stream's re-drive of a new report's messages and activity."""
    report = change.new
    if not isinstance(report, Report):
        return False
    template = ReportTemplate.fetch(report.tenant_id, report.template_id)
    deliver(report, template.name if template else report.template_id)
    return True


PROJECTION = Projection(
    name="reports",
    reads=(reads("Report", events=[INSERT]),),
    kept="after_commit",
    writes=("Message (report_received)", "Activity (report)"),
    apply=handle_change,
    doc="re-drive of a new report's report_received messages and report activity",
)


# ---------------------------------------------------------------- read, edit
def read(principal: Principal, report_id: str) -> dict[str, Any]:
    """A report; a recipient's first read is recorded in ``read_by`` (once, even when two
    reads race)."""
    report = _readable(principal, report_id)
    me = principal.user_id
    if me in (report.recipient_ids or []) and me not in (report.readers or set()):
        try:
            report.update(actions=Report.first_read_actions(me, iso(utcnow())), condition=Report.not_read_by(me))
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
            report = _readable(principal, report_id)
    return to_dict(report)


def edit(principal: Principal, report_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """``PATCH``: the author replaces the values (``auto`` ones recomputed) until a recipient
    has read the report: 409 ``report_read`` after; 403 for a reader who is not the author."""
    report = _readable(principal, report_id)
    if report.author_id != principal.user_id:
        raise Forbidden("only the author edits a report", code="not_author")
    if report.readers:
        raise Conflict("a recipient has read this report", code="report_read")
    template = templates.require_template(principal.tenant_id, report.template_id)
    start = templates.parse_period_start(template, report.period_start)
    end = templates.period_end(template, start)
    auto = figures.totals(principal.tenant_id, report.author_id, start, end)
    merged = values_of(template, values, auto)
    try:
        report.update(
            actions=[
                Report.values_json.set(json.dumps(merged, ensure_ascii=False)),
                Report.updated_at.set(iso(utcnow())),
            ],
            condition=Report.unread(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict("a recipient has read this report", code="report_read") from None
        raise
    return to_dict(report)


def reports_page(
    principal: Principal,
    role: str,
    template_id: Optional[str],
    period_start: Optional[str],
    limit: int,
    cursor: Optional[str],
) -> tuple[list[dict[str, Any]], Optional[str]]:
    """The caller's own reports (``mine``) or those sent to them (``received``), newest
    period first: 1 Query of the list entries + 1 BatchGet of the reports per page."""
    tenant, me = principal.tenant_id, principal.user_id
    scope = f"reports:{tenant}:{me}:{role}:{template_id}:{period_start}"
    start = cursors.decode(cursor, scope)
    condition = ReportListEntry.SK.startswith(ReportListEntry.period_prefix(period_start)) if period_start else None
    rows = list(
        ReportListEntry.query(
            ReportListEntry.pk(tenant, me, role, template_id),
            condition,
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start.get("k") if start else None,
        )
    )
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = cursors.encode({"k": rows[-1].start_key()}, scope)
    keys = [Report.key_of(tenant, r.report_id) for r in rows]
    found = {i.report_id: i for i in BaseItem.batch_get(keys) if isinstance(i, Report)} if keys else {}
    return [to_dict(found[r.report_id]) for r in rows if r.report_id in found], next_cursor
