"""The one reference checker: every id a request body names goes through ``check``.

A reference to something missing, in another tenant, or outside the caller's visible
range is 422 ``unknown_<thing>`` (``unknown_account``, ``unknown_plan``,
``unknown_upload``, ``unknown_user``, ...): the same answer for a hidden object as for a
missing one, so a body can neither probe for ids nor tie a record into an object the
caller cannot see. Every reference is checked on its own, whatever else the body names
(a valid ``plan_id`` does not vouch for an ``opportunity_id``).

Rules:
- CRM objects (account, contact, opportunity, lead): in the caller's visible range (the
  feed's rule, services/access/visibility.py).
- plans: the caller's own.
- uploads: the caller's own, of the purpose the field takes (``signin_photo``,
  ``receipt``, ``attachment``); their processing status is the route's business.
- users: an active user of the tenant; recipients of a task or an instruction also one
  the caller may address (:func:`recipients`).

Cost: one BatchGet for everything the body names, then the visibility inputs (owners and
team members, their departments: one BatchGet each), whatever the number of references.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

from chalicelib.auth import Principal
from chalicelib.errors import Forbidden, Unprocessable
from chalicelib.models.base import BaseItem
from chalicelib.models.crm import OBJECT_TYPES, CrmObject, object_key
from chalicelib.models.org import User
from chalicelib.models.schedule import Plan
from chalicelib.models.uploads import Upload
from chalicelib.services.access import context
from chalicelib.services.access.visibility import Resolver, can_see, may_address
from chalicelib.services.org import org

Ref = tuple[str, str]


@dataclass
class Found:
    """What the checked references point at (reuse it instead of reading again)."""

    resolver: Resolver
    objects: dict[Ref, CrmObject] = field(default_factory=dict)
    plans: dict[str, Plan] = field(default_factory=dict)
    uploads: dict[str, Upload] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    def obj(self, object_type: str, object_id: Optional[str]) -> Optional[CrmObject]:
        return self.objects.get((object_type, object_id)) if object_id else None


def unknown(thing: str, ref_id: str) -> Unprocessable:
    return Unprocessable(f"{thing} {ref_id!r} does not exist", code=f"unknown_{thing}")


def _load(tenant_id: str, objects: list[Ref], plans: list[str], uploads: list[str], users: list[str]) -> list[BaseItem]:
    keys = [object_key(tenant_id, t, i) for t, i in objects]
    keys += [Plan.key_of(tenant_id, p) for p in plans]
    keys += [Upload.key_of(tenant_id, u) for u in uploads]
    keys += [User.key_of(tenant_id, u) for u in users]
    return list(BaseItem.batch_get(keys, consistent_read=True)) if keys else []


def check(
    principal: Principal,
    *,
    objects: Iterable[tuple[str, Optional[str]]] = (),
    plans: Iterable[Optional[str]] = (),
    uploads: Iterable[tuple[Optional[str], str]] = (),
    users: Iterable[Optional[str]] = (),
    resolver: Optional[Resolver] = None,
) -> Found:
    """Check every reference (``None`` ids are skipped); the first bad one raises 422.
    What it reads joins the request's visibility loader (its context's ``resolver``) unless
    another ``resolver`` is given."""
    tenant = principal.tenant_id
    refs = list(dict.fromkeys((t, i) for t, i in objects if i))
    for object_type, _ in refs:
        if object_type not in OBJECT_TYPES:
            raise Unprocessable(f"{object_type!r} is not a CRM object type", code="invalid_related")
    plan_ids = list(dict.fromkeys(p for p in plans if p))
    upload_refs = list(dict.fromkeys((u, purpose) for u, purpose in uploads if u))
    user_ids = list(dict.fromkeys(u for u in users if u))
    found = Found(resolver or context.of(principal).resolver)
    for item in _load(tenant, refs, plan_ids, [u for u, _ in upload_refs], user_ids):
        if isinstance(item, CrmObject):
            found.resolver.objects[(item.object_type, item.object_id)] = item
        elif isinstance(item, Plan):
            found.plans[item.plan_id] = item
        elif isinstance(item, Upload):
            found.uploads[item.upload_id] = item
        elif isinstance(item, User):
            found.users[item.user_id] = item
            found.resolver.users.setdefault(item.user_id, item)
    for ref in refs:
        found.resolver.objects.setdefault(ref, None)
    found.objects = found.resolver.load_objects(refs)  # cached objects; owners and depts batched
    for object_type, object_id in refs:
        obj = found.objects.get((object_type, object_id))
        if obj is None or not can_see(principal, obj, found.resolver):
            raise unknown(object_type, object_id)
    for plan_id in plan_ids:
        plan = found.plans.get(plan_id)
        if plan is None or plan.user_id != principal.user_id:
            raise unknown("plan", plan_id)
    for upload_id, purpose in upload_refs:
        upload = found.uploads.get(upload_id)
        if upload is None or upload.user_id != principal.user_id or upload.purpose != purpose:
            raise unknown("upload", upload_id)
    for user_id in user_ids:
        if not org.is_active(found.users.get(user_id)):
            raise unknown("user", user_id)
    return found


def recipients(principal: Principal, user_ids: Iterable[str], allow_self: bool) -> dict[str, User]:
    """The users a task or an instruction addresses: each an active user of the tenant
    (else 422 ``unknown_user``) whom the caller may address (visibility.may_address; else
    403 ``recipient_not_allowed``). 1 BatchGet, plus 1 Query of the departments the caller
    heads when someone is neither self nor a subordinate."""
    ids = list(dict.fromkeys(user_ids))
    found = check(principal, users=ids).users
    headed: Optional[list[str]] = None
    for user_id in ids:
        user = found[user_id]
        if may_address(principal, user, allow_self, ()):
            continue
        if headed is None and user_id != principal.user_id:
            headed = context.of(principal).headed_paths
        if not may_address(principal, user, allow_self, headed or ()):
            raise Forbidden(f"you may not address {user_id!r}", code="recipient_not_allowed")
    return {u: found[u] for u in ids}
