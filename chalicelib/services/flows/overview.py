"""The opportunity overview: the opportunity, its account, and everything tied to it.

Everything tied to an opportunity carries ``GSI3PK = T#<t>#OPP#<id>`` (plans, logs,
sign-ins, expenses, activity links), so the whole collection is one query, read raw and
sorted into sections by the ``GSI3SK`` prefix. Besides it: the opportunity and account
reads, one BatchGet for the sign-in photos and the feed's own activity read.
"""

from __future__ import annotations

from typing import Any

from chalicelib.auth import Principal
from chalicelib.models.base import BaseItem, collection, opportunity_collection_pk
from chalicelib.models.expenses import Expense
from chalicelib.models.feed import ActivityLink
from chalicelib.models.schedule import Plan, WorkLog
from chalicelib.models.signins import SignIn
from chalicelib.observability import logger
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.crm import crm
from chalicelib.services.expenses import expenses
from chalicelib.services.feed import feed
from chalicelib.services.fieldwork import signins
from chalicelib.services.org import org
from chalicelib.services.schedule import schedule
from chalicelib.services.uploads import uploads

SECTIONS = {
    Plan.COLLECTION_PREFIX: "plans",
    WorkLog.COLLECTION_PREFIX: "logs",
    SignIn.COLLECTION_PREFIX: "signins",
    Expense.COLLECTION_PREFIX: "expenses",
    ActivityLink.COLLECTION_PREFIX: "activities",
}
MAX_ITEMS = 2000


def _collection(tenant_id: str, opportunity_id: str) -> dict[str, list[Any]]:
    """One query (paged) over the opportunity's GSI3 partition, items by section."""
    out: dict[str, list[BaseItem]] = {s: [] for s in SECTIONS.values()}
    for item in collection(opportunity_collection_pk(tenant_id, opportunity_id), MAX_ITEMS):
        sk = item.GSI3SK or ""
        section = next((s for prefix, s in SECTIONS.items() if sk.startswith(prefix)), None)
        if section is not None:
            out[section].append(item)
    return out


def overview(principal: Principal, opportunity_id: str) -> dict[str, Any]:
    opportunity = crm.require_visible(principal, "opportunity", opportunity_id)
    tenant = principal.tenant_id
    account_id = getattr(opportunity, "account_id", None)
    account = crm.get_object(tenant, "account", account_id) if account_id else None
    if account is not None and not crm.can_see(principal, account):
        account = None  # e.g. transferred away: its address, location and team are not the caller's
    items = _visible(principal, _collection(tenant, opportunity_id))
    result: dict[str, Any] = {
        "opportunity": crm.to_dict(opportunity),
        "account": crm.to_dict(account) if account is not None else None,
        "plans": [],
        "logs": [],
        "signins": [],
        "photos": [],
        "expenses": [],
        "activities": [],
    }
    result["plans"] = [schedule.to_dict(p) for p in items["plans"]]
    result["logs"] = [schedule.to_dict(x) for x in items["logs"]]
    result["signins"], result["photos"] = _signins(principal, items["signins"])
    result["expenses"] = [expenses.to_dict(e) for e in items["expenses"]]
    if items["activities"]:
        try:
            result["activities"] = feed.activities_for_opportunity(principal, opportunity_id)
        except Exception:  # noqa: BLE001 - the rest of the overview still answers
            logger.exception("overview: activities failed", extra={"opportunity_id": opportunity_id})
    return result


def _readable_users(principal: Principal, user_ids: set[str]) -> set[str]:
    """Of these users, those whose own records (plans, logs, sign-ins, expenses) the caller
    may read (``org.reads_user_data``: self, managers at any depth, heads of their
    departments, admins), in two BatchGets (the users, their departments)."""
    if principal.is_admin:
        return set(user_ids)
    resolver = Resolver(principal.tenant_id)
    resolver.load_users(sorted(u for u in user_ids if u != principal.user_id))
    readable = {u for u in user_ids if org.reads_user_data(principal, resolver.users.get(u), resolver.heads(u))}
    return readable | ({principal.user_id} & user_ids)


def _visible(principal: Principal, items: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Every section filtered to what the caller may read on its own route."""
    people = {i.user_id for section in ("plans", "logs", "signins", "expenses") for i in items[section]}
    readable = _readable_users(principal, people)
    out = dict(items)
    for section in ("plans", "logs", "signins"):
        out[section] = [i for i in items[section] if i.user_id in readable]
    out["expenses"] = [
        e
        for e in items["expenses"]
        if e.user_id in readable or principal.is_finance or principal.user_id in (e.approver_ids or [])
    ]
    return out


def _signins(principal: Principal, found: list[Any]) -> tuple[list[dict], list[dict]]:
    ids = [u for s in found for u in (s.photo_upload_ids or [])]
    views = {
        upload_id: uploads.photo_to_dict(upload, principal)
        for upload_id, upload in uploads.get_uploads(principal.tenant_id, ids).items()
    }
    out: list[dict] = []
    photos: list[dict] = []
    for s in sorted(found, key=lambda s: s.server_time or "", reverse=True):
        own = [views.get(u, {"upload_id": u, "status": "pending"}) for u in s.photo_upload_ids or []]
        out.append(signins.to_dict(s, own))
        photos.extend({**p, "signin_id": s.signin_id} for p in own)
    return out, photos
