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
from chalicelib.observability import logger
from chalicelib.services import crm, expenses, feed, schedule, signins, uploads

SECTIONS = {"PLAN#": "plans", "LOG#": "logs", "SIGNIN#": "signins", "EXPENSE#": "expenses", "ACTIVITY#": "activities"}
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
    items = _collection(tenant, opportunity_id)
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
            result["activities"] = feed.activities_for_opportunity(tenant, opportunity_id)
        except Exception:  # noqa: BLE001 - the rest of the overview still answers
            logger.exception("overview: activities failed", extra={"opportunity_id": opportunity_id})
    return result


def _signins(principal: Principal, found: list[Any]) -> tuple[list[dict], list[dict]]:
    ids = [u for s in found for u in (s.photo_upload_ids or [])]
    views = {
        upload_id: uploads.photo_view(upload, principal)
        for upload_id, upload in uploads.get_uploads(principal.tenant_id, ids).items()
    }
    out: list[dict] = []
    photos: list[dict] = []
    for s in sorted(found, key=lambda s: s.server_time or "", reverse=True):
        own = [views.get(u, {"upload_id": u, "status": "pending"}) for u in s.photo_upload_ids or []]
        out.append(signins.to_dict(s, own))
        photos.extend({**p, "signin_id": s.signin_id} for p in own)
    return out, photos
