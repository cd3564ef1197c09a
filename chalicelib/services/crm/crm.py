"""CRM objects: accounts, contacts, opportunities, leads; ownership; account teams.

Visibility of an object is the same rule as the feed's ``all`` scene (see
services/access/visibility.py): owner, account team, managers (any depth) of those, heads of
the owner's departments, tenant admins. Anything else is 404, never 403.
Ownership and team changes re-index the object's activity history asynchronously: the
table stream sees the new item and services/feed/feed_index.py recomputes the audiences.
"""

from __future__ import annotations

import uuid
from typing import Any, Optional

from pynamodb.exceptions import PutError

from chalicelib.auth import Principal
from chalicelib.currencies import require_currency
from chalicelib.errors import Conflict, Forbidden, NotFound, Unprocessable
from chalicelib.ids import new_id
from chalicelib.models.base import Tx, condition_failed
from chalicelib.models.crm import (
    MODELS,
    OBJECT_TYPES,
    Account,
    Contact,
    CrmObject,
    Lead,
    Opportunity,
    TeamMember,
)
from chalicelib.models.org import TenantSettings
from chalicelib.services.access import context, refs, visibility
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.crm import list_index
from chalicelib.services.feed import activities
from chalicelib.services.org import org, pipeline
from chalicelib.services.platform.aftercommit import settle
from chalicelib.timeutil import iso, utcnow

ID_PREFIX = {"account": "acc", "contact": "con", "opportunity": "opp", "lead": "lead"}
TEAM_ROLES = ("follow_up", "service")
PATCHABLE = {  # archived_at: archive / restore only (the PATCH bodies do not take it)
    "account": {"name", "owner_id", "address", "location", "archived_at"},
    "contact": {"name", "owner_id", "phone", "account_id", "archived_at"},
    "opportunity": {"name", "owner_id", "stage", "amount", "currency", "archived_at"},
    "lead": {"name", "owner_id", "company", "archived_at"},
}


# ---------------------------------------------------------------- reads
def get_object(tenant_id: str, object_type: str, object_id: str) -> Optional[CrmObject]:
    """The object, or None (one consistent GetItem)."""
    if object_type not in MODELS:
        return None
    return MODELS[object_type].fetch(tenant_id, object_id)


def can_see(principal: Principal, obj: CrmObject, resolver: Optional[Resolver] = None) -> bool:
    return visibility.can_see(principal, obj, resolver)


def require_visible(
    principal: Principal, object_type: str, object_id: str, resolver: Optional[Resolver] = None
) -> CrmObject:
    """The object when the caller may see it; NotFound when missing or out of range."""
    obj = get_object(principal.tenant_id, object_type, object_id)
    if obj is None or not can_see(principal, obj, resolver):
        raise NotFound(f"{object_type} not found")
    return obj


# ---------------------------------------------------------------- change rights
def can_change(principal: Principal, obj: CrmObject, resolver: Optional[Resolver] = None) -> bool:
    """Who may change a CRM object (PATCH, ownership transfer, team changes, archive and
    restore): its owner, the owner's managers (any depth), heads of the owner's department
    and of its ancestors, tenant admins; decided from the current org data. A team member
    or other viewer may read and comment, not change. At most two BatchGets (the owner,
    their departments), none when ``resolver`` already holds them."""
    if principal.is_admin or obj.owner_id == principal.user_id:
        return True
    resolver = resolver or Resolver(principal.tenant_id)
    resolver.load_users([obj.owner_id])
    owner = obj.owner_id
    return principal.user_id in resolver.managers(owner) or principal.user_id in resolver.heads(owner)


def require_changeable(principal: Principal, object_type: str, object_id: str) -> CrmObject:
    """The object when the caller may change it: 404 when they cannot even see it, 403
    ``not_allowed`` when they see it but may not change it. Every change route calls this."""
    resolver = Resolver(principal.tenant_id)
    obj = require_visible(principal, object_type, object_id, resolver)
    if not can_change(principal, obj, resolver):
        raise Forbidden(
            f"only the {object_type}'s owner, their managers, heads of their departments and admins may change it",
            code="not_allowed",
        )
    return obj


def to_dict(obj: CrmObject) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": obj.object_id,
        "type": obj.object_type,
        "name": obj.name,
        "owner_id": obj.owner_id,
        "created_at": obj.created_at,
        "updated_at": obj.updated_at,
        "archived": obj.archived_at is not None,
        "archived_at": obj.archived_at,
    }
    if isinstance(obj, Account):
        loc = obj.location
        out["address"] = obj.address
        out["location"] = {"lat": float(loc.lat), "lng": float(loc.lng)} if loc is not None else None
        members = obj.team.as_dict() if obj.team is not None else {}
        out["team"] = [{"user_id": u, "role": r} for u, r in sorted(members.items())]
    elif isinstance(obj, Contact):
        out["account_id"] = obj.account_id
        out["phone"] = obj.phone
    elif isinstance(obj, Opportunity):
        out.update(account_id=obj.account_id, stage=obj.stage, amount=obj.amount, currency=obj.currency)
        out["closed_at"] = obj.closed_at
    elif isinstance(obj, Lead):
        out["company"] = obj.company
    return out


# ---------------------------------------------------------------- writes
def _apply(obj: CrmObject, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        if name == "location":
            value = None if value is None else {"lat": value["lat"], "lng": value["lng"]}
        setattr(obj, name, value)


def _stamp_stage(obj: Opportunity, now: str, tenant_settings: TenantSettings) -> None:
    """A stage must be in the tenant's pipeline; reaching a won or lost stage stamps the
    close, moving back to an open one clears it."""
    stage = pipeline.of(tenant_settings).require(obj.stage)
    obj.closed_at = None if stage.outcome == "open" else now


def create_object(principal: Principal, object_type: str, fields: dict[str, Any]) -> CrmObject:
    if object_type not in OBJECT_TYPES:
        raise ValueError(object_type)
    tenant = principal.tenant_id
    fields = {k: v for k, v in fields.items() if v is not None}
    owner_id = fields.pop("owner_id", None) or principal.user_id
    refs.check(
        principal,
        objects=[("account", fields.get("account_id"))],
        users=[owner_id if owner_id != principal.user_id else None],
    )
    require_currency(fields.get("currency"))  # the one list (chalicelib/currencies.py)
    if object_type == "opportunity" and fields.get("amount") is not None and not fields.get("currency"):
        fields["currency"] = context.of(principal).settings.currency
    now = iso(utcnow())
    obj = MODELS[object_type](
        tenant_id=tenant,
        object_id=new_id(ID_PREFIX[object_type]),
        owner_id=owner_id,
        created_at=now,
        updated_at=now,
    )
    _apply(obj, fields)
    if isinstance(obj, Opportunity):
        _stamp_stage(obj, now, context.of(principal).settings)
    obj.save()
    _index(obj, principal)
    return obj


def _index(obj: CrmObject, principal: Principal) -> None:
    """The object's list and nearby entries, after its commit (else its stream record); the
    retries are one run (one claim), so a fault mid-way leaves the state of one clean run.
    The tenant's index shard count comes with the request's settings (no read)."""
    claim = uuid.uuid4().hex
    settings = context.of(principal).settings
    settle("list.index", lambda: list_index.index_object(obj, claim, settings), object_id=obj.object_id)


def update_object(
    principal: Principal, object_type: str, object_id: str, changes: dict[str, Any], stage_note: Optional[str] = None
) -> CrmObject:
    """PATCH: name, owner (transfer), stage (records ``stage_feedback``), location, ...

    Optimistic locking on ``version``: a concurrent edit is 409, never a lost update."""
    obj = require_changeable(principal, object_type, object_id)
    tenant = principal.tenant_id
    unknown = set(changes) - PATCHABLE[object_type]
    if unknown:
        raise Unprocessable(f"cannot change {sorted(unknown)} on a {object_type}", code="not_patchable")
    if changes.get("name", "") is None or ("owner_id" in changes and not changes["owner_id"]):
        raise Unprocessable("name and owner_id cannot be cleared", code="required_field")
    if object_type == "opportunity" and "stage" in changes and not changes["stage"]:
        raise Unprocessable("stage cannot be cleared", code="required_field")
    refs.check(
        principal,
        objects=[("account", changes.get("account_id"))],
        users=[changes.get("owner_id") if changes.get("owner_id") != obj.owner_id else None],
    )
    old_stage = getattr(obj, "stage", None)
    require_currency(changes.get("currency"))
    _apply(obj, changes)
    if isinstance(obj, Opportunity) and "stage" in changes and changes["stage"] != old_stage:
        _stamp_stage(obj, iso(utcnow()), context.of(principal).settings)
    if isinstance(obj, Opportunity) and obj.amount is not None and not obj.currency:
        obj.currency = context.of(principal).settings.currency
    obj.updated_at = iso(utcnow())
    feedback = None
    if isinstance(obj, Opportunity) and "stage" in changes and changes["stage"] != old_stage:
        # committed with the stage, so a stage change never goes without its feedback
        resolver = Resolver(tenant, context.of(principal).settings)
        resolver.objects[(object_type, obj.object_id)] = obj  # its new owner decides who sees it
        feedback = activities.prepare_activity(
            activities.NewActivity(
                tenant,
                "stage_feedback",
                principal.user_id,
                stage_note or "",
                [("opportunity", obj.object_id), ("account", obj.account_id)],
                extra={"from_stage": old_stage, "to_stage": obj.stage},
            ),
            resolver,
        )
    conflict = Conflict(f"the {object_type} was changed concurrently; retry", code="concurrent_update")
    try:
        if feedback is None:
            obj.save()
        else:
            tx = Tx("stage_change").put(object_type, obj, error=conflict)
            tx.put("feedback", feedback, type(feedback).PK.does_not_exist(), error=conflict).commit()
    except PutError as exc:
        if condition_failed(exc):
            raise conflict from None
        raise
    if feedback is not None:
        activities.publish(feedback)
    _index(obj, principal)
    return obj


def set_archived(principal: Principal, object_type: str, object_id: str, archived: bool) -> CrmObject:
    """Archive or restore: a change like PATCH (the same change rights, optimistic locking),
    idempotent (archiving an archived object keeps its ``archived_at``)."""
    current = require_visible(principal, object_type, object_id)
    when = (current.archived_at or iso(utcnow())) if archived else None
    return update_object(principal, object_type, object_id, {"archived_at": when})


def team_to_dict(account: Account) -> dict[str, Any]:
    members = account.team.as_dict() if account.team is not None else {}
    return {
        "account_id": account.object_id,
        "owner_id": account.owner_id,
        "members": [{"user_id": u, "role": r} for u, r in sorted(members.items())],
    }


def _write_team(principal: Principal, account: Account, member: TeamMember, remove: bool) -> None:
    account.set_keys()
    member.set_keys()
    conflict = Conflict("the account was changed concurrently; retry", code="concurrent_update")
    tx = Tx("account_team").put("account", account, error=conflict)
    if remove:
        tx.delete("member", member, error=conflict)
    else:
        tx.put("member", member, error=conflict)
    tx.commit()
    _index(account, principal)


def put_team_member(principal: Principal, account_id: str, user_id: str, role: str) -> Account:
    account = require_changeable(principal, "account", account_id)
    assert isinstance(account, Account)
    if org.get_user(principal.tenant_id, user_id) is None:
        raise NotFound("user not found")
    now = iso(utcnow())
    members = dict(account.team.as_dict() if account.team is not None else {})
    members[user_id] = role
    account.team = members
    account.updated_at = now
    member = TeamMember(tenant_id=principal.tenant_id, account_id=account_id, user_id=user_id, role=role, added_at=now)
    _write_team(principal, account, member, remove=False)
    return account


def remove_team_member(principal: Principal, account_id: str, user_id: str) -> Account:
    account = require_changeable(principal, "account", account_id)
    assert isinstance(account, Account)
    members = dict(account.team.as_dict() if account.team is not None else {})
    if user_id not in members:
        raise NotFound("not a member of this account's team")
    del members[user_id]
    account.team = members or None
    account.updated_at = iso(utcnow())
    member = TeamMember(tenant_id=principal.tenant_id, account_id=account_id, user_id=user_id, role="", added_at="")
    member.set_keys()
    _write_team(principal, account, member, remove=True)
    return account
