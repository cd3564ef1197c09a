"""Organisation administration (tenant admins) and the caller's own profile."""

from typing import Annotated, Literal, Optional

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.schemas import Currency, Date, Id, Money, Name, Page, PageQuery, Request, Response, example
from chalicelib.services.access import context
from chalicelib.services.flows import offboarding, orgjobs
from chalicelib.services.org import org, workcalendar
from chalicelib.vocabulary import StageOutcome
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Email = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$")]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
Url = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[!-~]{0,2000})?$", max_length=2048)
]
JOB_ID_NOTE = "the job that re-indexes what this change moves, when there is one (GET /v1/admin/jobs/{id})"
TimeZone = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]+(/[A-Za-z0-9_+-]+){0,2}$", max_length=64)]


class DepartmentIn(Request):
    model_config = example({"name": "Sales North", "parent_id": "sales", "head_user_id": "mgr_a"})
    name: Name
    parent_id: Optional[Id] = None
    head_user_id: Optional[Id] = None


class DepartmentOut(Response):
    id: str
    name: str
    parent_id: Optional[str] = None
    head_user_id: Optional[str] = None
    path: list[str]
    job_id: Optional[str] = Field(default=None, description=JOB_ID_NOTE)


class UserIn(Request):
    model_config = example(
        {
            "name": "Alex Rep",
            "department_id": "sales_north",
            "manager_id": "mgr_a",
            "email": "alex@example.com",
            "roles": ["rep"],
        }
    )
    name: Name
    department_id: Id
    manager_id: Optional[Id] = None
    email: Optional[Email] = None
    roles: Optional[list[Role]] = Field(default=None, max_length=20)


class UserOut(Response):
    id: str
    name: str
    department_id: str
    manager_id: Optional[str] = None
    email: Optional[str] = None
    roles: list[str]
    job_id: Optional[str] = Field(default=None, description=JOB_ID_NOTE)


class ProjectIn(Request):
    model_config = example({"name": "Spring campaign", "owner_id": "mgr_a"})
    name: Name
    owner_id: Id
    member_ids: Optional[list[Id]] = Field(default=None, max_length=500)


class ProjectOut(Response):
    id: str
    name: str
    owner_id: str
    member_ids: list[str] = []


class DeactivateIn(Request):
    model_config = example({"handover_to": "mgr_east"})
    handover_to: Id


class DirectoryUser(Response):
    id: str
    name: str
    department_id: str
    manager_id: Optional[str] = None
    roles: list[str]
    active: bool


class DirectoryPage(Page):
    items: list[DirectoryUser]


class DirectoryQuery(PageQuery):
    department_id: Optional[Id] = None
    q: Optional[Annotated[str, StringConstraints(min_length=1, max_length=100)]] = None
    include_inactive: bool = False


class SubordinateOut(Response):
    id: str
    name: str
    department_id: str
    manager_id: Optional[str] = None
    depth: int


class TeamPage(Page):
    items: list[SubordinateOut]


class TeamQuery(PageQuery):
    depth: Literal["direct", "all"] = "all"


class DepartmentRow(Response):
    id: str
    name: str
    parent_id: Optional[str] = None
    head_user_id: Optional[str] = None


class DepartmentPage(Page):
    items: list[DepartmentRow]


class ProjectPage(Page):
    items: list[ProjectOut]


class ProjectQuery(PageQuery):
    mine: bool = False


StageKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Rate = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?$")]


class StageIn(Request):
    key: StageKey
    probability: int = Field(ge=0, le=100, description="Chance of winning, percent")
    outcome: StageOutcome


class StageOut(Response):
    key: str
    probability: int
    outcome: StageOutcome


class SettingsIn(Request):
    model_config = example(
        {"timezone": "Europe/Berlin", "currency": "EUR", "checkin_radius_m": 200, "approval_limit": "500.00"}
    )
    timezone: Optional[TimeZone] = None
    currency: Optional[Currency] = None
    checkin_radius_m: Optional[int] = Field(default=None, ge=10, le=100_000)
    approval_limit: Optional[Money] = None
    mileage_rate: Optional[Rate] = Field(default=None, description="Tenant currency per km of a mileage claim")
    max_speed_kmh: Optional[int] = Field(
        default=None, ge=10, le=1000, description="A mileage leg faster than this is left out of a claim (150)"
    )
    pipeline: Optional[list[StageIn]] = Field(
        default=None, min_length=3, max_length=30, description="Ordered opportunity stages"
    )
    inactive_days: Optional[int] = Field(default=None, ge=1, le=60, description="Working days without a check-in")
    stale_days: Optional[int] = Field(default=None, ge=1, le=365, description="Days without activity on an opportunity")


class SettingsOut(Response):
    timezone: str
    currency: str
    checkin_radius_m: int
    approval_limit: Optional[str] = None
    mileage_rate: Optional[str] = None
    max_speed_kmh: int = 150
    pipeline: list[StageOut]
    inactive_days: int
    stale_days: int


class IntegrationIn(Request):
    model_config = example({"url": "https://finance.example.com/hooks/fieldsales"})
    url: Url


class IntegrationOut(Response):
    url: str
    secret: str


class Ref(Response):
    id: str
    name: str


class UserDetail(DirectoryUser):
    email: Optional[str] = None
    department: Optional[Ref] = None
    manager: Optional[Ref] = None


class MeOut(Response):
    id: str
    tenant_id: str
    name: Optional[str] = None
    email: Optional[str] = None
    groups: list[str]
    roles: list[str]
    department: Optional[Ref] = None
    manager: Optional[Ref] = None
    heads_departments: list[Ref]


@route(
    bp,
    "/v1/admin/departments/{department_id}",
    method="PUT",
    summary="Create or replace a department",
    tag="organisation",
    body=DepartmentIn,
    response=DepartmentOut,
    name="set_department",
)
def put_department(req: Req) -> DepartmentOut:
    department, job_id = orgjobs.put_department(req.principal, req.path["department_id"], req.body.model_dump())
    return DepartmentOut(**org.department_to_dict(department), job_id=job_id)


@route(
    bp,
    "/v1/admin/users/{user_id}",
    method="PUT",
    summary="Create or replace a user (manager_id forms the reporting tree)",
    tag="organisation",
    body=UserIn,
    response=UserOut,
    name="set_user",
)
def put_user(req: Req) -> UserOut:
    user, job_id = orgjobs.put_user(req.principal, req.path["user_id"], req.body.model_dump())
    return UserOut(**org.user_to_dict(user), job_id=job_id)


@route(
    bp,
    "/v1/admin/users/{user_id}/deactivate",
    method="POST",
    summary="Deactivate a user: tokens refused, ownership handed over, reports and approvals move up",
    tag="organisation",
    body=DeactivateIn,
    response=UserOut,
    idempotent=True,
    errors=(409,),
)
def deactivate_user(req: Req) -> UserOut:
    user, job_id = orgjobs.deactivate(req.principal, req.path["user_id"], req.body.handover_to)
    return UserOut(**org.user_to_dict(user), job_id=job_id)


@route(
    bp,
    "/v1/admin/users/{user_id}/reactivate",
    method="POST",
    summary="Reactivate a deactivated user",
    tag="organisation",
    response=UserOut,
    idempotent=True,
)
def reactivate_user(req: Req) -> UserOut:
    return UserOut(**org.user_to_dict(offboarding.reactivate(req.principal, req.path["user_id"])))


@route(
    bp,
    "/v1/users",
    summary="The directory: users of the tenant, by name; q is a case-insensitive name prefix in any script",
    tag="organisation",
    query=DirectoryQuery,
    response=DirectoryPage,
)
def list_users(req: Req) -> DirectoryPage:
    q: DirectoryQuery = req.query
    listing = org.directory_listing(q.department_id, q.include_inactive)
    prefix = org.search_prefix(q.q) if q.q else None
    scope = f"users:{req.tenant_id}:{req.user_id}:{listing}:{prefix}"
    items, next_cursor = org.directory_page(req.tenant_id, listing, prefix, q.limit, q.cursor, scope)
    return DirectoryPage(items=[DirectoryUser(**org.directory_to_dict(e)) for e in items], next_cursor=next_cursor)


@route(
    bp,
    "/v1/users/{user_id}",
    summary="One user of the tenant, with their department and manager",
    tag="organisation",
    response=UserDetail,
)
def get_user(req: Req) -> UserDetail:
    user, dept, manager = org.user_detail(req.tenant_id, req.path["user_id"])
    return UserDetail(**org.user_detail_to_dict(user, dept, manager))


@route(
    bp,
    "/v1/team",
    summary="The caller's subordinates (direct reports or every depth), nearest first",
    tag="organisation",
    query=TeamQuery,
    response=TeamPage,
)
def list_team(req: Req) -> TeamPage:
    q: TeamQuery = req.query
    scope = f"team:{req.tenant_id}:{req.user_id}:{q.depth}"
    items, next_cursor = org.team_page(req.tenant_id, req.user_id, q.depth == "direct", q.limit, q.cursor, scope)
    rows = [
        SubordinateOut(
            id=e.user_id, name=e.name, department_id=e.department_id, manager_id=e.manager_id, depth=int(e.depth or 1)
        )
        for e in items
    ]
    return TeamPage(items=rows, next_cursor=next_cursor)


@route(
    bp,
    "/v1/departments",
    summary="The department tree (a parent before its children)",
    tag="organisation",
    query=PageQuery,
    response=DepartmentPage,
)
def list_departments(req: Req) -> DepartmentPage:
    q: PageQuery = req.query
    items, next_cursor = org.departments_page(req.tenant_id, q.limit, q.cursor)
    rows = [
        DepartmentRow(id=d.department_id, name=d.name, parent_id=d.parent_id, head_user_id=d.head_user_id)
        for d in items
    ]
    return DepartmentPage(items=rows, next_cursor=next_cursor)


@route(
    bp,
    "/v1/projects",
    summary="Projects of the tenant, or (mine=true) those the caller owns or is a member of",
    tag="organisation",
    query=ProjectQuery,
    response=ProjectPage,
)
def list_projects(req: Req) -> ProjectPage:
    q: ProjectQuery = req.query
    items, next_cursor = org.projects_page(req.principal, q.mine, q.limit, q.cursor)
    return ProjectPage(items=[ProjectOut(**org.project_to_dict(p)) for p in items], next_cursor=next_cursor)


@route(
    bp,
    "/v1/admin/projects/{project_id}",
    method="PUT",
    summary="Create or replace a project",
    tag="organisation",
    body=ProjectIn,
    response=ProjectOut,
    name="set_project",
)
def put_project(req: Req) -> ProjectOut:
    org.require_admin(req.principal)
    b: ProjectIn = req.body
    project = org.put_project(req.tenant_id, req.path["project_id"], b.name, b.owner_id, b.member_ids)
    return ProjectOut(**org.project_to_dict(project))


@route(
    bp,
    "/v1/admin/settings",
    method="PUT",
    summary="Tenant settings",
    tag="organisation",
    body=SettingsIn,
    response=SettingsOut,
    name="update_settings",
)
def put_settings(req: Req) -> SettingsOut:
    org.require_admin(req.principal)
    return SettingsOut(**org.settings_to_dict(org.put_settings(req.tenant_id, req.body.model_dump(exclude_none=True))))


@route(bp, "/v1/admin/settings", summary="Read tenant settings", tag="organisation", response=SettingsOut)
def get_settings(req: Req) -> SettingsOut:
    org.require_admin(req.principal)
    return SettingsOut(**org.settings_to_dict(context.of(req.principal).settings))


@route(
    bp,
    "/v1/admin/integrations/finance",
    method="PUT",
    summary="Set the finance system's webhook URL; answers a new signing secret, shown once",
    tag="organisation",
    body=IntegrationIn,
    response=IntegrationOut,
    name="set_finance_integration",
)
def put_finance_integration(req: Req) -> IntegrationOut:
    org.require_admin(req.principal)
    integration = org.put_finance_integration(req.tenant_id, req.body.url)
    return IntegrationOut(url=integration.url, secret=integration.secret)


@route(
    bp,
    "/v1/me",
    summary="The caller's profile, department, manager and roles",
    tag="organisation",
    response=MeOut,
    name="get_me",
)
def me(req: Req) -> MeOut:
    return MeOut(**org.profile_to_dict(req.principal, org.profile(req.principal)))


# ---------------------------------------------------------------- tenant work calendar
class WorkCalendarIn(Request):
    model_config = example({"holidays": ["2027-10-01", "2027-10-04"], "workdays": ["2027-10-09"]})
    holidays: list[Date] = Field(default_factory=list, max_length=366, description="Days off (any weekday)")
    workdays: list[Date] = Field(
        default_factory=list, max_length=106, description="Make-up working days: Saturdays or Sundays"
    )


class WorkCalendarOut(Response):
    year: int
    holidays: list[str]
    workdays: list[str]
    updated_at: Optional[str] = None


WORK_CALENDAR_PATH = "/v1/admin/work-calendar/{year}"
YEAR_PATTERN = {"year": r"^[0-9]{4}$"}


@route(
    bp,
    WORK_CALENDAR_PATH,
    method="PUT",
    summary="The tenant's holidays and make-up working days of a year (working days: Mon-Fri + workdays - holidays)",
    tag="organisation",
    body=WorkCalendarIn,
    response=WorkCalendarOut,
    path_patterns=YEAR_PATTERN,
    name="set_work_calendar",
)
def put_work_calendar(req: Req) -> WorkCalendarOut:
    org.require_admin(req.principal)
    year = int(req.path["year"])
    return WorkCalendarOut(**workcalendar.put_year(req.tenant_id, year, req.body.holidays, req.body.workdays))


@route(
    bp,
    WORK_CALENDAR_PATH,
    summary="The tenant's work calendar of a year",
    tag="organisation",
    response=WorkCalendarOut,
    path_patterns=YEAR_PATTERN,
    name="get_work_calendar",
)
def get_work_calendar(req: Req) -> WorkCalendarOut:
    org.require_admin(req.principal)
    return WorkCalendarOut(**workcalendar.get_year(req.tenant_id, int(req.path["year"])))
