"""Organisation administration (tenant admins) and the caller's own profile."""

from typing import Annotated, Literal, Optional

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.models.org import Department, Project, TenantSettings, User
from chalicelib.schemas import Currency, Id, Money, Name, Request, Response, example
from chalicelib.services import org, pipeline
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Email = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}$")]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z_]{1,32}$")]
Url = Annotated[
    str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?(/[!-~]{0,2000})?$", max_length=2048)
]
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


StageKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
Rate = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,5})(\.[0-9]{1,4})?$")]


class StageIn(Request):
    key: StageKey
    probability: int = Field(ge=0, le=100, description="Chance of winning, percent")
    outcome: Literal["open", "won", "lost"]


class StageOut(Response):
    key: str
    probability: int
    outcome: Literal["open", "won", "lost"]


class SettingsIn(Request):
    model_config = example(
        {"timezone": "Europe/Berlin", "currency": "EUR", "checkin_radius_m": 200, "approval_limit": "500.00"}
    )
    timezone: Optional[TimeZone] = None
    currency: Optional[Currency] = None
    checkin_radius_m: Optional[int] = Field(default=None, ge=10, le=100_000)
    approval_limit: Optional[Money] = None
    mileage_rate: Optional[Rate] = Field(default=None, description="Tenant currency per km of a mileage claim")
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


def department_out(d: Department) -> DepartmentOut:
    return DepartmentOut(
        id=d.department_id,
        name=d.name,
        parent_id=d.parent_id,
        head_user_id=d.head_user_id,
        path=d.path.strip("/").split("/"),
    )


def user_out(u: User) -> UserOut:
    return UserOut(
        id=u.user_id,
        name=u.name,
        department_id=u.department_id,
        manager_id=u.manager_id,
        email=u.email,
        roles=sorted(u.roles or []),
    )


def settings_out(s: TenantSettings) -> SettingsOut:
    return SettingsOut(
        timezone=s.timezone,
        currency=s.currency,
        checkin_radius_m=int(s.checkin_radius_m),
        approval_limit=s.approval_limit,
        mileage_rate=s.mileage_rate,
        pipeline=[StageOut(**stage.as_dict()) for stage in pipeline.of(s).stages],
        inactive_days=int(s.inactive_days),
        stale_days=int(s.stale_days),
    )


def project_out(p: Project) -> ProjectOut:
    return ProjectOut(id=p.project_id, name=p.name, owner_id=p.owner_id, member_ids=sorted(p.member_ids or []))


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
    org.require_admin(req.principal)
    b: DepartmentIn = req.body
    return department_out(
        org.put_department(req.tenant_id, req.path["department_id"], b.name, b.parent_id, b.head_user_id)
    )


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
    org.require_admin(req.principal)
    b: UserIn = req.body
    return user_out(
        org.put_user(req.tenant_id, req.path["user_id"], b.name, b.department_id, b.manager_id, b.email, b.roles)
    )


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
    return project_out(org.put_project(req.tenant_id, req.path["project_id"], b.name, b.owner_id, b.member_ids))


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
    return settings_out(org.put_settings(req.tenant_id, req.body.model_dump(exclude_none=True)))


@route(bp, "/v1/admin/settings", summary="Read tenant settings", tag="organisation", response=SettingsOut)
def get_settings(req: Req) -> SettingsOut:
    org.require_admin(req.principal)
    return settings_out(org.get_settings(req.tenant_id))


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
    p = org.profile(req.principal)
    return MeOut(
        id=req.user_id,
        tenant_id=req.tenant_id,
        name=p.user.name if p.user else None,
        email=p.user.email if p.user else None,
        groups=sorted(req.principal.groups),
        roles=sorted(p.user.roles or []) if p.user else [],
        department=Ref(id=p.department.department_id, name=p.department.name) if p.department else None,
        manager=Ref(id=p.manager.user_id, name=p.manager.name) if p.manager else None,
        heads_departments=[Ref(id=d.department_id, name=d.name) for d in p.heads],
    )
