"""CRM objects: accounts, contacts, opportunities, leads, and account teams."""

from collections.abc import Callable
from typing import Annotated, Any, Literal, Optional

from chalice import Blueprint
from pydantic import Field, StringConstraints, create_model

from chalicelib.schemas import (
    Coordinate,
    Currency,
    Id,
    Location,
    Money,
    Name,
    Page,
    PageQuery,
    Query,
    Request,
    Response,
    Text,
    example,
)
from chalicelib.schemas import Limit as PageLimit
from chalicelib.services.crm import crm, lists
from chalicelib.shapes import AccountOut, CrmObjectOut, OpportunityOut, TeamMemberOut
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Address = Annotated[str, StringConstraints(max_length=500)]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+() -]{1,40}$")]
Stage = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(max_length=2000)]


class ContactOut(CrmObjectOut):
    account_id: Optional[str] = None
    phone: Optional[str] = None


class LeadOut(CrmObjectOut):
    company: Optional[str] = None


class AccountIn(Request):
    model_config = example(
        {
            "name": "Acme Hardware",
            "address": "1 Harbour Road, Springfield",
            "location": {"lat": 51.5072, "lng": -0.1276},
        }
    )
    name: Name
    address: Optional[Address] = None
    location: Optional[Location] = None
    owner_id: Optional[Id] = None


class ContactIn(Request):
    model_config = example({"name": "Dana Lee", "account_id": "acc_01HZX3K9", "phone": "+44 20 7946 0000"})
    name: Name
    account_id: Optional[Id] = None
    phone: Optional[Phone] = None
    owner_id: Optional[Id] = None


class OpportunityIn(Request):
    model_config = example(
        {
            "name": "Spring restock",
            "account_id": "acc_01HZX3K9",
            "stage": "qualified",
            "amount": "12500.00",
            "currency": "EUR",
        }
    )
    name: Name
    account_id: Id
    stage: Stage
    amount: Optional[Money] = None
    currency: Optional[Currency] = None
    owner_id: Optional[Id] = None


class LeadIn(Request):
    model_config = example({"name": "Sam Park", "company": "Park & Sons"})
    name: Name
    company: Optional[Text] = None
    owner_id: Optional[Id] = None


class AccountPatch(Request):
    model_config = example({"address": "2 Harbour Road, Springfield"})
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    address: Optional[Address] = None
    location: Optional[Location] = None


class ContactPatch(Request):
    model_config = example({"phone": "+44 20 7946 0001"})
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    account_id: Optional[Id] = None
    phone: Optional[Phone] = None


class OpportunityPatch(Request):
    model_config = example({"stage": "proposal", "stage_note": "Quote sent after the site visit"})
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    stage: Optional[Stage] = None
    stage_note: Optional[Note] = None
    amount: Optional[Money] = None
    currency: Optional[Currency] = None


class LeadPatch(Request):
    model_config = example({"company": "Park and Sons Ltd"})
    name: Optional[Name] = None
    owner_id: Optional[Id] = None
    company: Optional[Text] = None


SearchText = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ListQuery(PageQuery):
    scope: Literal["mine", "team", "all"] = "all"
    q: Optional[SearchText] = Field(default=None, description="case-insensitive name prefix, any script")
    owner_id: Optional[Id] = None
    account_id: Optional[Id] = Field(default=None, description="contacts and opportunities only")
    stage: Optional[Stage] = Field(default=None, description="opportunities only")
    sort: Literal["updated", "name"] = Field(default="updated", description="ignored with q (name order)")
    archived: bool = Field(default=False, description="true: archived objects are listed too")


class NearbyQuery(Query):
    lat: Coordinate(-90, 90)
    lng: Coordinate(-180, 180)
    radius_m: int = Field(default=2000, ge=10, le=50_000)
    limit: PageLimit = 20


class NearbyAccountOut(AccountOut):
    distance_m: float


class NearbyPage(Page):
    items: list[NearbyAccountOut]


class TeamIn(Request):
    model_config = example({"role": "follow_up"})
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


def _handlers(object_type: str, collection: str) -> dict[str, Callable[[Req], dict[str, Any]]]:
    """The six routes' handlers of one object type, named for their operationIds."""

    def create(req: Req) -> dict[str, Any]:
        fields = req.body.model_dump(exclude_none=True)
        return crm.to_dict(crm.create_object(req.principal, object_type, fields))

    def read(req: Req) -> dict[str, Any]:
        return crm.to_dict(crm.require_visible(req.principal, object_type, req.path["object_id"]))

    def patch(req: Req) -> dict[str, Any]:
        changes = req.body.model_dump(exclude_unset=True)
        note = changes.pop("stage_note", None)
        return crm.to_dict(crm.update_object(req.principal, object_type, req.path["object_id"], changes, note))

    def list_(req: Req) -> dict[str, Any]:
        q: ListQuery = req.query
        query = lists.ListQuery(
            object_type,
            scope=q.scope,
            q=q.q,
            filters={"owner_id": q.owner_id, "account_id": q.account_id, "stage": q.stage},
            sort=q.sort,
            archived=q.archived,
        )
        items, next_cursor = lists.list_page(req.principal, query, limit=q.limit, cursor=q.cursor)
        return {"items": items, "next_cursor": next_cursor}

    def archive(req: Req) -> dict[str, Any]:
        return crm.to_dict(crm.set_archived(req.principal, object_type, req.path["object_id"], True))

    def restore(req: Req) -> dict[str, Any]:
        return crm.to_dict(crm.set_archived(req.principal, object_type, req.path["object_id"], False))

    handlers = {"create": create, "get": read, "update": patch, "archive": archive, "restore": restore}
    for verb, fn in handlers.items():
        fn.__name__ = f"{verb}_{object_type}"
    list_.__name__ = f"list_{collection}"
    return {**handlers, "list": list_}


def _register(collection: str) -> None:
    object_type, body_in, body_patch, out = KINDS[collection]
    handlers = _handlers(object_type, collection)
    route(
        bp,
        f"/v1/{collection}",
        method="POST",
        summary=f"Create a {object_type} (owner_id defaults to the caller)",
        tag="crm",
        body=body_in,
        response=out,
        status=201,
    )(handlers["create"])
    path = f"/v1/{collection}/{{object_id}}"
    route(bp, path, summary=f"Read a {object_type} in the caller's visible range", tag="crm", response=out)(
        handlers["get"]
    )
    route(
        bp,
        path,
        method="PATCH",
        summary=f"Update a {object_type}: name, owner (transfer), "
        + ("stage (records stage_feedback), " if object_type == "opportunity" else "")
        + "other fields",
        tag="crm",
        body=body_patch,
        response=out,
        errors=(409,),
    )(handlers["update"])
    _register_list_and_archive(collection, object_type, out, handlers)


def _register_list_and_archive(
    collection: str, object_type: str, out: type[Response], handlers: dict[str, Callable[[Req], dict[str, Any]]]
) -> None:
    page = create_model(f"{out.__name__.removesuffix('Out')}Page", __base__=Page, items=(list[out], ...))
    route(
        bp,
        f"/v1/{collection}",
        summary=f"List or search the caller's {collection} (scope, name prefix, filters, sort)",
        tag="crm",
        query=ListQuery,
        response=page,
    )(handlers["list"])
    for verb, what in (("archive", "leaves lists, nearby and scenes"), ("restore", "back")):
        route(
            bp,
            f"/v1/{collection}/{{object_id}}/{verb}",
            method="POST",
            summary=f"{verb.capitalize()} a {object_type} ({what}; same change rights as PATCH)",
            tag="crm",
            response=out,
            status=200,
            idempotent=False,
            errors=(409,),
        )(handlers[verb])


@route(
    bp,
    "/v1/accounts/nearby",
    summary="Visible, live accounts within radius_m of a point, nearest first, with distance_m",
    tag="crm",
    query=NearbyQuery,
    response=NearbyPage,
    name="list_nearby_accounts",
)
def nearby_accounts(req: Req) -> dict[str, Any]:
    q: NearbyQuery = req.query
    return {"items": lists.nearby(req.principal, q.lat, q.lng, q.radius_m, q.limit), "next_cursor": None}


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
    name="set_account_team_member",
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
    name="remove_account_team_member",
)
def delete_team_member(req: Req) -> dict[str, Any]:
    return crm.team_to_dict(crm.remove_team_member(req.principal, req.path["object_id"], req.path["user_id"]))
