"""CRM objects: accounts, contacts, opportunities, leads, and account teams."""

from typing import Annotated, Any, Literal, Optional

from chalice import Blueprint
from pydantic import StringConstraints

from chalicelib.schemas import Currency, Id, Location, Money, Name, Request, Response, Text
from chalicelib.services import crm
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Address = Annotated[str, StringConstraints(max_length=500)]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+() -]{1,40}$")]
Stage = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(max_length=2000)]


class LocationOut(Response):
    lat: float
    lng: float


class TeamMemberOut(Response):
    user_id: str
    role: str


class CrmObjectOut(Response):
    id: str
    type: str
    name: str
    owner_id: str
    created_at: str
    updated_at: str


class AccountOut(CrmObjectOut):
    address: Optional[str] = None
    location: Optional[LocationOut] = None
    team: list[TeamMemberOut]


class ContactOut(CrmObjectOut):
    account_id: Optional[str] = None
    phone: Optional[str] = None


class OpportunityOut(CrmObjectOut):
    account_id: str
    stage: str
    amount: Optional[str] = None
    currency: Optional[str] = None
    closed_at: Optional[str] = None  # when it reached a won or lost stage


class LeadOut(CrmObjectOut):
    company: Optional[str] = None


class AccountIn(Request):
    name: Name
    address: Optional[Address] = None
    location: Optional[Location] = None
    owner_id: Optional[Id] = None


class ContactIn(Request):
    name: Name
    account_id: Optional[Id] = None
    phone: Optional[Phone] = None
    owner_id: Optional[Id] = None


class OpportunityIn(Request):
    name: Name
    account_id: Id
    stage: Stage
    amount: Optional[Money] = None
    currency: Optional[Currency] = None
    owner_id: Optional[Id] = None


class LeadIn(Request):
    name: Name
    company: Optional[Text] = None
    owner_id: Optional[Id] = None


class AccountPatch(Request):
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    address: Optional[Address] = None
    location: Optional[Location] = None


class ContactPatch(Request):
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    account_id: Optional[Id] = None
    phone: Optional[Phone] = None


class OpportunityPatch(Request):
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    stage: Optional[Stage] = None
    stage_note: Optional[Note] = None
    amount: Optional[Money] = None
    currency: Optional[Currency] = None


class LeadPatch(Request):
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    company: Optional[Text] = None


class TeamIn(Request):
    role: Literal["follow_up", "service"]


class TeamOut(Response):
    account_id: str
    owner_id: str
    members: list[TeamMemberOut]


KINDS: dict[str, tuple[str, type[Request], type[Request], type[Response]]] = {
    "accounts": ("account", AccountIn, AccountPatch, AccountOut),
    "contacts": ("contact", ContactIn, ContactPatch, ContactOut),
    "opportunities": ("opportunity", OpportunityIn, OpportunityPatch, OpportunityOut),
    "leads": ("lead", LeadIn, LeadPatch, LeadOut),
}


def _register(collection: str) -> None:
    object_type, body_in, body_patch, out = KINDS[collection]

    def create(req: Req) -> dict[str, Any]:
        fields = req.body.model_dump(exclude_none=True)
        return crm.to_dict(crm.create_object(req.principal, object_type, fields))

    def read(req: Req) -> dict[str, Any]:
        return crm.to_dict(crm.require_visible(req.principal, object_type, req.path["object_id"]))

    def patch(req: Req) -> dict[str, Any]:
        changes = req.body.model_dump(exclude_unset=True)
        note = changes.pop("stage_note", None)
        return crm.to_dict(crm.update_object(req.principal, object_type, req.path["object_id"], changes, note))

    for fn, verb in ((create, "create"), (read, "get"), (patch, "update")):
        fn.__name__ = f"{verb}_{object_type}"
    route(
        bp,
        f"/v1/{collection}",
        method="POST",
        summary=f"Create a {object_type} (owner_id defaults to the caller)",
        tag="crm",
        body=body_in,
        response=out,
        status=201,
    )(create)
    route(
        bp,
        f"/v1/{collection}/{{object_id}}",
        summary=f"Read a {object_type} in the caller's visible range",
        tag="crm",
        response=out,
    )(read)
    route(
        bp,
        f"/v1/{collection}/{{object_id}}",
        method="PATCH",
        summary=f"Update a {object_type}: name, owner (transfer), "
        + ("stage (records stage_feedback), " if object_type == "opportunity" else "")
        + "other fields",
        tag="crm",
        body=body_patch,
        response=out,
        errors=(409,),
    )(patch)


for _collection in KINDS:
    _register(_collection)


@route(
    bp,
    "/v1/accounts/{object_id}/team/{user_id}",
    method="PUT",
    summary="Add or change a member of the account's relevant team",
    tag="crm",
    body=TeamIn,
    response=TeamOut,
    errors=(409,),
)
def put_team_member(req: Req) -> dict[str, Any]:
    account = crm.put_team_member(req.principal, req.path["object_id"], req.path["user_id"], req.body.role)
    return crm.team_to_dict(account)


@route(
    bp,
    "/v1/accounts/{object_id}/team/{user_id}",
    method="DELETE",
    summary="Remove a member from the account's relevant team",
    tag="crm",
    response=TeamOut,
    errors=(409,),
)
def delete_team_member(req: Req) -> dict[str, Any]:
    return crm.team_to_dict(crm.remove_team_member(req.principal, req.path["object_id"], req.path["user_id"]))
