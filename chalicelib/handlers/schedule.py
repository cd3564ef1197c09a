"""Schedule management: plans, logs, calendar, plan-vs-log comparison, plan reminders."""

from typing import Annotated, Any, Literal, Optional

from chalice import Blueprint, Rate
from pydantic import BeforeValidator, Field, StringConstraints

from chalicelib.schemas import (
    Date,
    Id,
    Month,
    Page,
    PageQuery,
    Query,
    Request,
    Response,
    Timestamp,
    example,
)
from chalicelib.services.fieldwork import day_route as route_svc
from chalicelib.services.platform import fanout
from chalicelib.services.schedule import reminders
from chalicelib.services.schedule import schedule as svc
from chalicelib.shapes import LogOut, PlanOut
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Title = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Content = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


def _integral(value: Any) -> Any:
    """JSON ``629.0`` is an integer to JSON Schema: accept it as one."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


RemindMinutes = Annotated[int, Field(ge=0, le=svc.MAX_REMIND_MINUTES), BeforeValidator(_integral)]


# ---------------------------------------------------------------- shapes
class PlanIn(Request):
    model_config = example(
        {
            "title": "Visit Acme Hardware",
            "start_time": "2026-12-02T09:00:00+01:00",
            "end_time": "2026-12-02T10:00:00+01:00",
            "account_id": "acc_01HZX3K9",
            "remind_minutes_before": 30,
        },
        anyOf=[  # the day is given, or derived from the start
            {"required": ["date"], "properties": {"date": {"type": "string"}}},
            {"required": ["start_time"], "properties": {"start_time": {"type": "string"}}},
        ],
    )
    date: Optional[Date] = Field(default=None, description="Tenant-local day; derived from start_time when omitted")
    title: Title
    start_time: Optional[Timestamp] = None
    end_time: Optional[Timestamp] = None
    account_id: Optional[Id] = None
    opportunity_id: Optional[Id] = None
    remind_minutes_before: Optional[RemindMinutes] = None


class PlanPatch(Request):
    """Only the fields given change; ``null`` clears an optional field (``start_time``,
    ``end_time``, ``account_id``, ``opportunity_id``, ``remind_minutes_before``)."""

    model_config = example({"status": "done"})

    status: Literal["done", "cancelled"] = Field(default=None)
    date: Date = Field(default=None)
    title: Title = Field(default=None)
    start_time: Optional[Timestamp] = None
    end_time: Optional[Timestamp] = None
    account_id: Optional[Id] = None
    opportunity_id: Optional[Id] = None
    remind_minutes_before: Optional[RemindMinutes] = None


class LogIn(Request):
    model_config = example({"date": "2026-12-02", "content": "Visited Acme; restock agreed", "plan_id": "pln_01HZX3Q7"})
    date: Date
    content: Content
    plan_id: Optional[Id] = None
    account_id: Optional[Id] = None
    opportunity_id: Optional[Id] = None


class RangeQuery(PageQuery):
    user_id: Optional[Id] = None
    from_: Optional[Date] = Field(default=None, alias="from")
    to: Optional[Date] = None


class PlanPage(Page):
    items: list[PlanOut]


class LogPage(Page):
    items: list[LogOut]


class CalendarQuery(Query):
    month: Optional[Month] = None
    user_id: Optional[Id] = None


class CalendarDayOut(Response):
    date: str
    plans: int
    logs: int
    signins: int


class CalendarOut(Response):
    month: str
    user_id: str
    days: list[CalendarDayOut]


class ComparisonQuery(Query):
    user_id: Optional[Id] = None
    from_: Optional[Date] = Field(default=None, alias="from")
    to: Optional[Date] = None


class SigninRef(Response):
    """A sign-in as the comparison shows it (its own route's shape, photos as references)."""

    id: str
    kind: Optional[str] = None
    user_id: Optional[str] = None
    plan_id: Optional[str] = None
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    visit_id: Optional[str] = None
    client_time: Optional[str] = None
    server_time: Optional[str] = None
    location: Optional[dict[str, Any]] = None
    distance_m: Optional[float] = None
    mock_location: Optional[bool] = None
    note: Optional[str] = None
    photos: list[dict[str, Any]] = []
    flags: list[str] = []


class ComparedPlan(PlanOut):
    log: Optional[LogOut] = None
    signins: list[SigninRef]
    completed: bool


class ComparisonDay(Response):
    date: str
    plans: list[ComparedPlan]
    unplanned_logs: list[LogOut]
    unplanned_signins: list[SigninRef]
    completion_rate: Optional[float] = None


class ComparisonTotals(Response):
    plans: int
    cancelled: int
    completed: int


class ComparisonOut(Response):
    user_id: str
    from_: str = Field(alias="from", serialization_alias="from")
    to: str
    completion_rate: Optional[float] = Field(
        default=None, description="completed / plans not cancelled; null without such plans"
    )
    totals: ComparisonTotals
    days: list[ComparisonDay]


class RouteQuery(Query):
    date: Date = Field(description="Tenant-local day whose plans are routed")
    from_lat: float = Field(ge=-90, le=90, description="Start point latitude (degrees)")
    from_lng: float = Field(ge=-180, le=180, description="Start point longitude (degrees)")


class LatLngOut(Response):
    lat: float
    lng: float


class RouteStop(Response):
    plan_id: str
    account_id: str
    name: str = Field(description="The account's name")
    title: str = Field(description="The plan's title")
    start_time: Optional[str] = None
    location: LatLngOut
    distance_m: int = Field(description="Leg from the previous stop (or the start point)")


class RouteOut(Response):
    date: str
    start: LatLngOut
    stops: list[RouteStop]
    total_distance_m: int
    naive_distance_m: int = Field(description="The same stops in start-time order, for comparison")
    unrouted_plan_ids: list[str] = Field(
        description="Plans of the day left out: no account, an account without a location or out of sight"
    )


def _plan(item: Any) -> PlanOut:
    return PlanOut(**svc.to_dict(item))


def _log(item: Any) -> LogOut:
    return LogOut(**svc.to_dict(item))


# ---------------------------------------------------------------- plans
@route(
    bp,
    "/v1/plans",
    method="POST",
    summary="Create a plan (optionally tied to an account or opportunity, with a reminder)",
    tag="schedule",
    body=PlanIn,
    response=PlanOut,
    status=201,
)
def create_plan(req: Req) -> tuple[int, PlanOut]:
    b: PlanIn = req.body
    plan = svc.create_plan(
        req.principal,
        svc.NewPlan(
            date_=b.date,
            title=b.title,
            start_time=b.start_time,
            end_time=b.end_time,
            account_id=b.account_id,
            opportunity_id=b.opportunity_id,
            remind_minutes_before=b.remind_minutes_before,
        ),
    )
    return 201, _plan(plan)


@route(
    bp,
    "/v1/plans",
    summary="Plans of the caller or a subordinate, by date",
    tag="schedule",
    query=RangeQuery,
    response=PlanPage,
)
def list_plans(req: Req) -> PlanPage:
    q: RangeQuery = req.query
    page = svc.list_plans(req.principal, q.user_id, q.from_, q.to, q.limit, q.cursor)
    return PlanPage(items=[_plan(p) for p in page.items], next_cursor=page.next_cursor)


@route(bp, "/v1/plans/{plan_id}", summary="One plan", tag="schedule", response=PlanOut)
def get_plan(req: Req) -> PlanOut:
    return _plan(svc.get_plan(req.principal, req.path["plan_id"]))


@route(
    bp,
    "/v1/plans/{plan_id}",
    method="PATCH",
    summary="Mark a plan done or cancelled, or edit it (editing moves its reminder)",
    tag="schedule",
    body=PlanPatch,
    response=PlanOut,
    errors=(409,),
    name="update_plan",
)
def patch_plan(req: Req) -> PlanOut:
    b: PlanPatch = req.body
    changes = {name: getattr(b, name) for name in b.model_fields_set}
    return _plan(svc.update_plan(req.principal, req.path["plan_id"], changes))


# ---------------------------------------------------------------- logs
@route(
    bp,
    "/v1/logs",
    method="POST",
    summary="Write a work log (optionally reporting on a plan)",
    tag="schedule",
    body=LogIn,
    response=LogOut,
    status=201,
)
def create_log(req: Req) -> tuple[int, LogOut]:
    b: LogIn = req.body
    log = svc.create_log(
        req.principal,
        svc.NewLog(
            date_=b.date, content=b.content, plan_id=b.plan_id, account_id=b.account_id, opportunity_id=b.opportunity_id
        ),
    )
    return 201, _log(log)


@route(
    bp,
    "/v1/logs",
    summary="Work logs of the caller or a subordinate, by date",
    tag="schedule",
    query=RangeQuery,
    response=LogPage,
)
def list_logs(req: Req) -> LogPage:
    q: RangeQuery = req.query
    page = svc.list_logs(req.principal, q.user_id, q.from_, q.to, q.limit, q.cursor)
    return LogPage(items=[_log(x) for x in page.items], next_cursor=page.next_cursor)


@route(bp, "/v1/logs/{log_id}", summary="One work log", tag="schedule", response=LogOut)
def get_log(req: Req) -> LogOut:
    return _log(svc.get_log(req.principal, req.path["log_id"]))


# ---------------------------------------------------------------- calendar and comparison
@route(
    bp,
    "/v1/calendar",
    summary="Days of a month with plans, logs or sign-ins (counts), in the tenant's time zone",
    tag="schedule",
    query=CalendarQuery,
    response=CalendarOut,
    name="get_calendar",
)
def calendar(req: Req) -> CalendarOut:
    q: CalendarQuery = req.query
    return CalendarOut(**svc.calendar_month(req.principal, q.user_id, q.month))


@route(
    bp,
    "/v1/plan-comparison",
    summary="Plans vs work logs and sign-ins per day, with completion rates (at most 92 days)",
    tag="schedule",
    query=ComparisonQuery,
    response=ComparisonOut,
    name="get_plan_comparison",
)
def plan_comparison(req: Req) -> dict[str, Any]:
    q: ComparisonQuery = req.query
    out = ComparisonOut.model_validate(svc.comparison(req.principal, q.user_id, q.from_, q.to))
    return out.model_dump(mode="json", by_alias=True)


@route(
    bp,
    "/v1/route",
    summary="The caller's plans of a day in the order that shortens the trip from a start point",
    tag="schedule",
    query=RouteQuery,
    response=RouteOut,
    name="get_day_route",
)
def day_route(req: Req) -> RouteOut:
    q: RouteQuery = req.query
    return RouteOut(**route_svc.day_route(req.principal, q.date, (q.from_lat, q.from_lng)))


# ---------------------------------------------------------------- reminders
@bp.schedule(Rate(1, unit=Rate.MINUTES), name="plan_reminders")
def plan_reminders(event: Any) -> dict[str, Any]:
    """Every minute: queue one task per due-index shard; the fan-out worker delivers the
    reminders that are due (and any a missed run left)."""
    return {"queued": fanout.enqueue(reminders.due_tasks())}
