"""Work reports: templates (admins), daily / weekly / monthly reports with figures filled
by the server, read receipts, and the leaders' compliance view."""

from typing import Annotated, Any, Literal, Optional, Union

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.schemas import Date, Id, Name, Page, PageQuery, Request, Response, example
from chalicelib.services.org import org
from chalicelib.services.reports import compliance, reports, templates
from chalicelib.shapes import RelatedOut
from chalicelib.vocabulary import ComplianceStatus, ReportFieldType, ReportPeriod, ReportSource
from chalicelib.web import Req, route

bp = Blueprint(__name__)

FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
HourMinute = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200)]
PeriodKind = ReportPeriod
FieldType = ReportFieldType
Source = ReportSource
# pydantic publishes the key pattern as patternProperties, which admits any other key: the
# schema says what validation enforces (a field key, nothing else)
ONLY_FIELD_KEYS: dict[str, Any] = {"additionalProperties": False}
Value = Optional[Union[Annotated[str, StringConstraints(max_length=10_000)], int, float]]
DAILY_EXAMPLE = {
    "name": "Daily report",
    "period": "daily",
    "due_time": "19:00",
    "fields": [
        {"key": "visits", "label": "Customer visits", "type": "auto", "source": "checkins"},
        {"key": "plans_done", "label": "Plans completed", "type": "auto", "source": "plans_done"},
        {"key": "summary", "label": "Today's work", "type": "text"},
        {"key": "calls", "label": "Phone calls", "type": "number"},
    ],
}


class TemplateFieldIn(Request):
    key: FieldKey
    label: Label
    type: FieldType
    source: Optional[Source] = Field(default=None, description="Required for `auto` fields, refused for others")


class TemplateIn(Request):
    model_config = example(DAILY_EXAMPLE)
    name: Name
    period: PeriodKind
    due_time: HourMinute = Field(description="Tenant time, on the period's last working day")
    fields: list[TemplateFieldIn] = Field(min_length=1, max_length=50)


class TemplateFieldOut(Response):
    key: str
    label: str
    type: FieldType
    source: Optional[Source] = None


class TemplateOut(Response):
    id: str
    name: str
    period: PeriodKind
    due_time: str
    fields: list[TemplateFieldOut]
    updated_at: str


class TemplatePage(Page):
    items: list[TemplateOut]


class ReportRelatedIn(Request):
    type: Literal["account", "contact", "opportunity", "lead"]
    id: Id


class ReportIn(Request):
    model_config = example(
        {
            "template_id": "daily",
            "period_start": "2026-12-07",
            "values": {"summary": "Visited two stores; quote sent to Jing'an", "calls": 6},
            "related": [{"type": "account", "id": "acc_01HZX3K9"}],
            "recipient_ids": ["vp"],
        }
    )
    template_id: Id
    period_start: Date = Field(description="daily: the day; weekly: a Monday; monthly: the 1st")
    values: dict[FieldKey, Value] = Field(
        max_length=50,
        description="text and number fields; `auto` fields are computed by the server",
        json_schema_extra=ONLY_FIELD_KEYS,
    )
    related: list[ReportRelatedIn] = Field(default_factory=list, max_length=20)
    recipient_ids: list[Id] = Field(default_factory=list, max_length=20, description="Besides the author's manager")


class ReportPatch(Request):
    model_config = example({"values": {"summary": "Visited two stores; both quotes sent", "calls": 7}})
    values: dict[FieldKey, Value] = Field(max_length=50, json_schema_extra=ONLY_FIELD_KEYS)


class ReadReceiptOut(Response):
    user_id: str
    read_at: str


class ReportOut(Response):
    id: str
    template_id: str
    author_id: str
    period: PeriodKind
    period_start: str
    period_end: str
    values: dict[str, Any]
    related: list[RelatedOut]
    recipient_ids: list[str]
    read_by: list[ReadReceiptOut]
    late: bool = Field(description="Submitted after due_time on the period's last working day")
    submitted_at: str
    updated_at: str


class ReportPage(Page):
    items: list[ReportOut]


class ReportsQuery(PageQuery):
    role: Literal["mine", "received"] = "mine"
    template_id: Optional[Id] = None
    period_start: Optional[Date] = None


class ComplianceQuery(PageQuery):
    template_id: Id
    period_start: Date


class ComplianceRow(Response):
    user_id: str
    name: str
    status: ComplianceStatus
    report_id: Optional[str] = None


class CompliancePage(Page):
    items: list[ComplianceRow]


@route(
    bp,
    "/v1/admin/report-templates/{template_id}",
    method="PUT",
    summary="Create or replace a report template",
    tag="reports",
    body=TemplateIn,
    response=TemplateOut,
    name="set_report_template",
)
def put_template(req: Req) -> TemplateOut:
    org.require_admin(req.principal)
    return TemplateOut(**templates.put_template(req.tenant_id, req.path["template_id"], req.body.model_dump()))


@route(
    bp,
    "/v1/report-templates",
    summary="The tenant's report templates",
    tag="reports",
    query=PageQuery,
    response=TemplatePage,
    name="list_report_templates",
)
def list_templates(req: Req) -> dict[str, Any]:
    items, next_cursor = templates.templates_page(req.tenant_id, req.query.limit, req.query.cursor)
    return {"items": items, "next_cursor": next_cursor}


@route(
    bp,
    "/v1/reports",
    method="POST",
    summary="Submit a report (auto fields computed from the author's own figures; the manager and recipients are told)",
    tag="reports",
    body=ReportIn,
    response=ReportOut,
    status=201,
    name="submit_report",
)
def submit(req: Req) -> ReportOut:
    b: ReportIn = req.body
    new = reports.NewReport(
        template_id=b.template_id,
        period_start=b.period_start,
        values=dict(b.values),
        related=[(r.type, r.id) for r in b.related],
        recipient_ids=list(b.recipient_ids),
    )
    return ReportOut(**reports.submit(req.principal, new))


@route(
    bp,
    "/v1/reports/{report_id}",
    method="PATCH",
    summary="Edit a report's values (its author, until a recipient has read it)",
    tag="reports",
    body=ReportPatch,
    response=ReportOut,
    name="update_report",
)
def patch(req: Req) -> ReportOut:
    return ReportOut(**reports.edit(req.principal, req.path["report_id"], dict(req.body.values)))


@route(
    bp,
    "/v1/reports/{report_id}",
    summary="A report (author, recipients, the author's managers); a recipient's first read is recorded",
    tag="reports",
    response=ReportOut,
    name="get_report",
)
def get(req: Req) -> ReportOut:
    return ReportOut(**reports.read(req.principal, req.path["report_id"]))


@route(
    bp,
    "/v1/reports",
    summary="The caller's reports (mine) or those sent to them (received), newest period first",
    tag="reports",
    query=ReportsQuery,
    response=ReportPage,
    name="list_reports",
)
def list_reports(req: Req) -> dict[str, Any]:
    q: ReportsQuery = req.query
    items, next_cursor = reports.reports_page(req.principal, q.role, q.template_id, q.period_start, q.limit, q.cursor)
    return {"items": items, "next_cursor": next_cursor}


@route(
    bp,
    "/v1/report-compliance",
    summary="Who of the caller's subordinates submitted a template's report for a period (managers, department heads)",
    tag="reports",
    query=ComplianceQuery,
    response=CompliancePage,
    name="list_report_compliance",
)
def report_compliance(req: Req) -> dict[str, Any]:
    q: ComplianceQuery = req.query
    items, next_cursor = compliance.compliance_page(req.principal, q.template_id, q.period_start, q.limit, q.cursor)
    return {"items": items, "next_cursor": next_cursor}
