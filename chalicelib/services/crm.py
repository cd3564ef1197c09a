"""CRM objects: accounts, contacts, opportunities, leads; ownership; account teams.

Visibility of an object is the same rule as the feed's ``all`` scene (see
services/feed_audience.py): owner, account team, managers (any depth) of those, heads of
the owner's departments, tenant admins. Anything else is 404, never 403.
Ownership and team changes re-index the object's activity history asynchronously: the
table stream sees the new item and services/feed_index.py recomputes the audiences.
"""

from __future__ import annotations

from typing import Any, Optional

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem
from chalicelib.models.crm import MODELS, OBJECT_SK, OBJECT_TYPES, Account, CrmObject, TeamMember, object_pk
from chalicelib.services import org
from chalicelib.services.feed_audience import Resolver, team_of
from chalicelib.timeutil import iso, utcnow

ID_PREFIX = {"account": "acc", "contact": "con", "opportunity": "opp", "lead": "lead"}
TEAM_ROLES = ("follow_up", "service")
PATCHABLE = {
    "account": {"name", "owner_id", "address", "location"},
    "contact": {"name", "owner_id", "phone", "account_id"},
    "opportunity": {"name", "owner_id", "stage", "amount", "currency"},
    "lead": {"name", "owner_id", "company"},
}


def _is_condition_failure(exc: Exception) -> bool:
    if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
        return True
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(r is not None and getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons)


# ---------------------------------------------------------------- reads
def get_object(tenant_id: str, object_type: str, object_id: str) -> Optional[CrmObject]:
    """The object, or None (one consistent GetItem)."""
    if object_type not in MODELS:
        return None
    try:
        item = MODELS[object_type].get(object_pk(tenant_id, object_type, object_id), OBJECT_SK, consistent_read=True)
    except DoesNotExist:
        return None
    return item if isinstance(item, MODELS[object_type]) else None


def can_see(principal: Principal, obj: CrmObject, resolver: Optional[Resolver] = None) -> bool:
    if principal.is_admin or obj.owner_id == principal.user_id:
        return True
    if isinstance(obj, Account) and principal.user_id in team_of(obj):
        return True
    resolver = resolver or Resolver(principal.tenant_id)
    resolver.objects[(obj.object_type, obj.object_id)] = obj
    resolver.load_objects([(obj.object_type, obj.object_id)])
    return principal.user_id in resolver.object_viewers(obj)


def require_visible(principal: Principal, object_type: str, object_id: str) -> CrmObject:
    """The object when the caller may see it; NotFound when missing or out of range."""
    obj = get_object(principal.tenant_id, object_type, object_id)
    if obj is None or not can_see(principal, obj):
        raise NotFound(f"{object_type} not found")
    return obj


def to_dict(obj: CrmObject) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": obj.object_id,
        "type": obj.object_type,
        "name": obj.name,
        "owner_id": obj.owner_id,
        "created_at": obj.created_at,
        "updated_at": obj.updated_at,
    }
    if isinstance(obj, Account):
        loc = obj.location
        out["address"] = obj.address
        out["location"] = {"lat": float(loc.lat), "lng": float(loc.lng)} if loc is not None else None
        members = obj.team.as_dict() if obj.team is not None else {}
        out["team"] = [{"user_id": u, "role": r} for u, r in sorted(members.items())]
    elif obj.object_type == "contact":
        out["account_id"] = obj.account_id
        out["phone"] = obj.phone
    elif obj.object_type == "opportunity":
        out.update(account_id=obj.account_id, stage=obj.stage, amount=obj.amount, currency=obj.currency)
    elif obj.object_type == "lead":
        out["company"] = obj.company
    return out


# ---------------------------------------------------------------- writes
def _require_user(tenant_id: str, user_id: str) -> None:
    if org.get_user(tenant_id, user_id) is None:
        raise Unprocessable(f"user {user_id!r} does not exist", code="unknown_user")


def _require_account(principal: Principal, account_id: str) -> None:
    try:
        require_visible(principal, "account", account_id)
    except NotFound:
        raise Unprocessable(f"account {account_id!r} does not exist", code="unknown_account") from None


def _apply(obj: CrmObject, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "location":
            obj.location = None if value is None else {"lat": value["lat"], "lng": value["lng"]}  # type: ignore[assignment]
        else:
            setattr(obj, name, value)


def create_object(principal: Principal, object_type: str, fields: dict[str, Any]) -> CrmObject:
    if object_type not in OBJECT_TYPES:
        raise ValueError(object_type)
    tenant = principal.tenant_id
    fields = {k: v for k, v in fields.items() if v is not None}
    owner_id = fields.pop("owner_id", None) or principal.user_id
    if owner_id != principal.user_id:
        _require_user(tenant, owner_id)
    if fields.get("account_id"):
        _require_account(principal, fields["account_id"])
    if object_type == "opportunity" and fields.get("amount") is not None and not fields.get("currency"):
        fields["currency"] = org.get_settings(tenant).currency
    now = iso(utcnow())
    obj = MODELS[object_type](
        tenant_id=tenant,
        object_id=new_id(ID_PREFIX[object_type]),
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
    )
    _apply(obj, fields)
    obj.save()
    return obj


def update_object(
    principal: Principal, object_type: str, object_id: str, changes: dict[str, Any], stage_note: Optional[str] = None
) -> CrmObject:
    """PATCH: name, owner (transfer), stage (records ``stage_feedback``), location, ...

    Optimistic locking on ``version``: a concurrent edit is 409, never a lost update."""
    obj = require_visible(principal, object_type, object_id)
    tenant = principal.tenant_id
    unknown = set(changes) - PATCHABLE[object_type]
    if unknown:
        raise Unprocessable(f"cannot change {sorted(unknown)} on a {object_type}", code="not_patchable")
    if changes.get("name", "") is None or ("owner_id" in changes and not changes["owner_id"]):
        raise Unprocessable("name and owner_id cannot be cleared", code="required_field")
    if object_type == "opportunity" and "stage" in changes and not changes["stage"]:
        raise Unprocessable("stage cannot be cleared", code="required_field")
    if changes.get("owner_id") and changes["owner_id"] != obj.owner_id:
        _require_user(tenant, changes["owner_id"])
    if changes.get("account_id"):
        _require_account(principal, changes["account_id"])
    old_stage = getattr(obj, "stage", None)
    _apply(obj, changes)
    if object_type == "opportunity" and obj.amount is not None and not obj.currency:
        obj.currency = org.get_settings(tenant).currency
    obj.updated_at = iso(utcnow())
    feedback = None
    if object_type == "opportunity" and "stage" in changes and changes["stage"] != old_stage:
        from chalicelib.services import feed  # the feed depends on CRM objects, not the reverse

        # committed with the stage, so a stage change never goes without its feedback
        resolver = Resolver(tenant)
        resolver.objects[(object_type, obj.object_id)] = obj  # its new owner decides who sees it
        feedback = feed.prepare_activity(
            tenant,
            "stage_feedback",
            principal.user_id,
            stage_note or "",
            [("opportunity", obj.object_id), ("account", obj.account_id)],
            extra={"from_stage": old_stage, "to_stage": obj.stage},
            resolver=resolver,
        )
    try:
        if feedback is None:
            obj.save()
        else:
            with TransactWrite(connection=BaseItem._get_connection().connection) as tx:
                tx.save(obj)
                tx.save(feedback, condition=type(feedback).PK.does_not_exist())
    except (PutError, TransactWriteError) as exc:
        if _is_condition_failure(exc):
            raise Conflict(f"the {object_type} was changed concurrently; retry", code="concurrent_update") from None
        raise
    if feedback is not None:
        feed.publish(feedback)
    return obj


def team_to_dict(account: Account) -> dict[str, Any]:
    members = account.team.as_dict() if account.team is not None else {}
    return {
        "account_id": account.object_id,
        "owner_id": account.owner_id,
        "members": [{"user_id": u, "role": r} for u, r in sorted(members.items())],
    }


def _write_team(account: Account, member: TeamMember, remove: bool) -> None:
    account.set_keys()
    member.set_keys()
    try:
        with TransactWrite(connection=Account._get_connection().connection) as tx:
            tx.save(account)
            if remove:
                tx.delete(member)
            else:
                tx.save(member)
    except TransactWriteError as exc:
        if _is_condition_failure(exc):
            raise Conflict("the account was changed concurrently; retry", code="concurrent_update") from None
        raise


def put_team_member(principal: Principal, account_id: str, user_id: str, role: str) -> Account:
    account = require_visible(principal, "account", account_id)
    assert isinstance(account, Account)
    if org.get_user(principal.tenant_id, user_id) is None:
        raise NotFound("user not found")
    now = iso(utcnow())
    members = dict(account.team.as_dict() if account.team is not None else {})
    members[user_id] = role
    account.team = members  # type: ignore[assignment]
    account.updated_at = now
    member = TeamMember(tenant_id=principal.tenant_id, account_id=account_id, user_id=user_id, role=role, added_at=now)
    _write_team(account, member, remove=False)
    return account


def remove_team_member(principal: Principal, account_id: str, user_id: str) -> Account:
    account = require_visible(principal, "account", account_id)
    assert isinstance(account, Account)
    members = dict(account.team.as_dict() if account.team is not None else {})
    if user_id not in members:
        raise NotFound("not a member of this account's team")
    del members[user_id]
    account.team = members or None  # type: ignore[assignment]
    account.updated_at = iso(utcnow())
    member = TeamMember(tenant_id=principal.tenant_id, account_id=account_id, user_id=user_id, role="", added_at="")
    member.set_keys()
    _write_team(account, member, remove=True)
    return account


# ---------------------------------------------------------------- re-index support
def objects_owned_by(tenant_id: str, user_id: str) -> list[tuple[str, str]]:
    """(type, id) of every object the user owns (one query per page of GSI1)."""
    from chalicelib.models.crm import owned_pk

    out = []
    for item in BaseItem.gsi1.query(owned_pk(tenant_id, user_id)):
        if isinstance(item, CrmObject):
            out.append((item.object_type, item.object_id))
    return out


def accounts_with_member(tenant_id: str, user_id: str) -> list[tuple[str, str]]:
    from chalicelib.models.crm import team_of_pk

    return [
        ("account", item.account_id)
        for item in TeamMember.gsi1.query(team_of_pk(tenant_id, user_id))
        if isinstance(item, TeamMember)
    ]
