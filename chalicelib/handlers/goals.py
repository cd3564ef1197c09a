"""Goals and performance: targets per user or department and month, actuals kept on
write, progress and pace, and a leader's scoreboard."""

from typing import Annotated, Any, Optional

from chalice import Blueprint, Rate
from pydantic import Field

from chalicelib import cursor
from chalicelib.schemas import Id, Money, Month, Page, PageQuery, Query, Request, Response, example
from chalicelib.services.access import context
from chalicelib.services.performance import digest, oppstats
from chalicelib.services.performance import goals as svc
from chalicelib.services.platform import fanout
from chalicelib.timeutil import parse_month
from chalicelib.vocabulary import GoalScopeType, ListScope, OppStatsGroupBy, Pace
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Count = Annotated[int, Field(ge=0, le=1_000_000)]
Percent = Annotated[float, Field(ge=0, le=100)]
MONTH_PATH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


class Targets(Request):
    visits: Optional[Count] = Field(default=None, description="Check-ins in the month")
    new_opportunities: Optional[Count] = None
    won_amount: Optional[Money] = Field(default=None, description="Tenant currency")
    won_count: Optional[Count] = None
    plan_completion_rate: Optional[Percent] = Field(default=None, description="Percent of plans done")
    expense_limit: Optional[Money] = Field(default=None, description="Submitted + approved expenses, at most")


class GoalIn(Request):
    model_config = example({"targets": {"visits": 40, "won_amount": "80000.00", "plan_completion_rate": 80}})
    targets: Targets


class TargetsOut(Response):
    visits: Optional[int] = None
    new_opportunities: Optional[int] = None
    won_amount: Optional[str] = None
    won_count: Optional[int] = None
    plan_completion_rate: Optional[float] = None
    expense_limit: Optional[str] = None


class ActualsOut(Response):
    visits: int
    new_opportunities: int
    won_amount: str
    won_count: int
    plan_completion_rate: Optional[float] = Field(description="Percent of the month's plans done; null without plans")
    expenses: str


class ProgressOut(Response):
    visits: Optional[float] = None
    new_opportunities: Optional[float] = None
    won_amount: Optional[float] = None
    won_count: Optional[float] = None
    plan_completion_rate: Optional[float] = None
    expense_limit: Optional[float] = None


class PaceOut(Response):
    visits: Optional[Pace] = None
    new_opportunities: Optional[Pace] = None
    won_amount: Optional[Pace] = None
    won_count: Optional[Pace] = None
    plan_completion_rate: Optional[Pace] = None
    expense_limit: Optional[Pace] = None


class GoalOut(Response):
    scope_type: GoalScopeType
    scope_id: str
    period: str
    targets: TargetsOut
    actuals: ActualsOut
    progress: ProgressOut = Field(description="Percent of each target reached")
    pace: PaceOut = Field(description="Against the elapsed share of the month in the tenant's time zone")


class PerformanceQuery(PageQuery):
    period: Optional[Month] = None
    department_id: Optional[Id] = None


class ScoreRow(Response):
    user_id: str
    name: str
    rank: int
    targets: TargetsOut
    actuals: ActualsOut
    progress: ProgressOut
    pace: PaceOut


class ScorePage(Page):
    items: list[ScoreRow]


def _period(value: str) -> str:
    parse_month(value, "period")
    return value


def _goal(req: Req) -> tuple[str, str, str]:
    return req.path["scope_type"], req.path["scope_id"], _period(req.path["period"])


GOAL_PATH = "/v1/goals/{scope_type}/{scope_id}/{period}"
PATTERNS = {"scope_type": r"^(user|department)$", "period": MONTH_PATH}


@route(
    bp,
    GOAL_PATH,
    method="PUT",
    summary="Set a user's or department's targets for a month",
    tag="goals",
    body=GoalIn,
    response=GoalOut,
    path_patterns=PATTERNS,
    name="set_goal",
)
def put_goal(req: Req) -> GoalOut:
    targets = req.body.targets.model_dump(exclude_none=True)
    return GoalOut(**svc.put(req.principal, *_goal(req), targets))


@route(
    bp,
    GOAL_PATH,
    summary="A goal with its actuals, progress and pace",
    tag="goals",
    response=GoalOut,
    path_patterns=PATTERNS,
)
def get_goal(req: Req) -> GoalOut:
    return GoalOut(**svc.read(req.principal, *_goal(req)))


@route(
    bp,
    "/v1/performance",
    summary="Scoreboard of the caller's subordinates (or a department the caller heads), ranked by won amount",
    tag="goals",
    query=PerformanceQuery,
    response=ScorePage,
    name="list_performance",
)
def performance(req: Req) -> dict[str, Any]:
    q: PerformanceQuery = req.query
    period = _period(q.period) if q.period else svc.current_period(context.of(req.principal).zone)
    scope = f"performance:{req.tenant_id}:{req.user_id}:{period}:{q.department_id}"
    start = int((cursor.decode(q.cursor, scope) or {}).get("o", 0))
    rows = svc.scoreboard(req.principal, period, q.department_id)
    page = rows[start : start + q.limit]
    more = start + q.limit < len(rows)
    return {"items": page, "next_cursor": cursor.encode({"o": start + q.limit}, scope) if more else None}


class OppStatsQuery(Query):
    group_by: OppStatsGroupBy = "stage"
    scope: ListScope = "all"
    period: Optional[Month] = Field(default=None, description="Month of creation; all time when omitted")


class StatGroup(Response):
    key: str
    count: int
    amount: str


class StatTotal(Response):
    count: int
    amount: str


class OppStatsOut(Response):
    group_by: OppStatsGroupBy
    scope: ListScope
    period: Optional[str] = None
    currency: str = Field(description="Amounts are in the tenant currency")
    groups: list[StatGroup]
    won: StatTotal
    lost: StatTotal
    win_rate: Optional[float] = Field(description="won / (won + lost) by count; null when both are 0")
    weighted_amount: str = Field(description="Open opportunities' amounts times their stage's probability")


@route(
    bp,
    "/v1/opportunity-stats",
    summary="Pipeline statistics over the caller's visible opportunities, by stage or owner",
    tag="goals",
    query=OppStatsQuery,
    response=OppStatsOut,
    name="get_opportunity_stats",
)
def opportunity_stats(req: Req) -> OppStatsOut:
    q: OppStatsQuery = req.query
    period = _period(q.period) if q.period else None
    return OppStatsOut(**oppstats.statistics(req.principal, q.group_by, q.scope, period))


@bp.schedule(Rate(1, unit=Rate.HOURS), name="team_digest")
def team_digest(event: Any) -> dict[str, int]:
    """Hourly: queue one task per tenant whose local time is 08:00-08:59 (the zone index);
    the fan-out worker sends each tenant's digests."""
    return {"queued": fanout.enqueue(digest.due_tasks())}
