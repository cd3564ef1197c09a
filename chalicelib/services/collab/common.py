"""What tasks, instructions and approval requests share: their related CRM objects (checked
by the one reference checker, services/access/refs.py), their feed activity, the people
behind them, and list pages over write-time entries."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

from chalicelib import cursor as cursors
from chalicelib.auth import Principal
from chalicelib.models.base import BaseItem
from chalicelib.models.org import User
from chalicelib.services.access import refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.feed import activities

MAX_RELATED = 10


def check_related(principal: Principal, related: Optional[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """``[{type, id}]`` -> ``[{type, id, name}]``: each in the caller's visible range (else
    422 ``unknown_<type>``); repeats dropped."""
    wanted = list(dict.fromkeys((str(r["type"]), str(r["id"])) for r in related or []))
    found = refs.check(principal, objects=wanted)
    out = []
    for object_type, object_id in wanted:
        obj = found.obj(object_type, object_id)
        out.append({"type": object_type, "id": object_id, "name": getattr(obj, "name", None)})
    return out


def record(resolver: Resolver, kind: str, author_id: str, content: str, item: Any, extra: dict[str, Any]) -> None:
    """The item's feed activity of type ``kind`` (only when it relates to CRM objects),
    under the feed's visibility rules; idempotent: its id follows the item's. ``resolver``:
    the visibility loader of the item's tenant (a request's: what it has read, its settings
    included, is not read again)."""
    related = [(r["type"], r["id"]) for r in item.related or []]
    if not related:
        return
    item_id = next(iter(extra.values()))
    activities.record_activity(
        activities.NewActivity(
            resolver.tenant_id,
            kind,
            author_id,
            content,
            related,
            occurred_at=item.created_at,
            extra=extra,
            activity_id="act_" + item_id.split("_", 1)[-1],
        ),
        resolver,
    )


def people(tenant_id: str, user_ids: Iterable[str]) -> dict[str, User]:
    """These users (1 BatchGet per 100)."""
    keys = [User.key_of(tenant_id, u) for u in dict.fromkeys(user_ids)]
    return {u.user_id: u for u in BaseItem.batch_get(keys) if isinstance(u, User)} if keys else {}


def managers_of(users: dict[str, User], user_ids: Iterable[str]) -> set[str]:
    """Every manager (any depth) of these users."""
    return {m for u in user_ids if u in users for m in users[u].ancestors}


def page_of(
    source: Any,
    partition: str,
    key_condition: Any,
    page: tuple[int, Optional[str], str],
    newest: bool,
    index: Optional[str] = None,
) -> tuple[list[Any], Optional[str]]:
    """One page of a partition of a model (or of its ``index``, "GSI1".."GSI3"): 1 Query of
    ``limit + 1``. ``page``: (limit, cursor, the cursor's scope). Answers the items and the
    cursor of the next page (None on the last)."""
    limit, cursor, scope = page
    start = cursors.decode(cursor, scope)
    found = list(
        source.query(
            partition,
            key_condition,
            scan_index_forward=not newest,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start.get("k") if start else None,
        )
    )
    if len(found) <= limit:
        return found, None
    found = found[:limit]
    return found, cursors.encode({"k": found[-1].start_key(index)}, scope)
