"""The calendar feed: a user's plans and open tasks as an RFC 5545 calendar behind a secret
URL, for the phone's own calendar (Google and Outlook subscribe to a URL and cannot send
a bearer token).

- The token is 32 random bytes (URL-safe base64, 43 characters); only its SHA-256 is
  stored (``CalendarFeedToken``, found from the URL alone; ``CalendarFeedPointer`` on the
  user names the current one). A new one replaces the old in one transaction, conditional
  on the pointer read, so two racing requests never leave two live tokens; revoking
  deletes both items. A deactivated user's feed is 404 like a revoked one.
- The feed: plans dated from 30 days back to 90 ahead (tenant-local days) and the tasks
  assigned to or created by the user due in that window (``_task_items``; another
  capability may add items through :func:`register_items`), one ``VEVENT`` each with a
  stable ``UID`` (``<id>@fieldsales``), ``SEQUENCE`` = the item's version (clients
  replace a changed event), ``STATUS:CANCELLED`` for a cancelled plan and for a task no
  longer open (cancelled or done: RFC 5545's way to take an event off a subscribed
  calendar), times in the tenant's zone with its ``VTIMEZONE``. A plan without a start is
  an all-day event on its date; one without an end lasts an hour; a task is an instant at
  its due time.
Requests: 1 GetItem (token), 1 GetItem (user), 1 GetItem (settings), 1 Query per 1 MB of
the window's plans, 6 Queries of the user's task lists (2 roles x 3 statuses) + 1
BatchGet per 100 tasks.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Optional
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound
from chalicelib.models.base import Cancelled, Tx
from chalicelib.models.schedule import Plan, dated_range
from chalicelib.models.sync import CalendarFeedPointer, CalendarFeedToken
from chalicelib.services.collab import tasks
from chalicelib.services.org import org
from chalicelib.timeutil import format_date, iso, parse_timestamp, today, utcnow

TOKEN_BYTES = 32
PAST_DAYS, AHEAD_DAYS = 30, 90
DEFAULT_LENGTH = timedelta(hours=1)
PRODID = "-//Fieldsales//Calendar feed//EN"
UID_DOMAIN = "fieldsales"
FEED_PATH = "/v1/calendar-feed/{token}.ics"
TOKEN_PATTERN = r"^[A-Za-z0-9_-]{43}\.ics$"
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class FeedItem:
    """One event of the feed from another capability (an open task with a due time)."""

    uid: str
    summary: str
    starts_at: str  # RFC 3339
    updated_at: str
    sequence: int = 0
    description: str = ""
    cancelled: bool = False


def _task_items(tenant_id: str, user_id: str, start: datetime, end: datetime) -> list[FeedItem]:
    """The user's tasks due in the window: open ones confirmed, the others cancelled."""
    return [
        FeedItem(
            uid=f"{t.task_id}@{UID_DOMAIN}",
            summary=t.title,
            starts_at=str(t.due_at),
            updated_at=t.updated_at,
            sequence=int(t.version or 0),
            description=f"Task ({t.status})",
            cancelled=t.status != "open",
        )
        for t in tasks.due_between(tenant_id, user_id, iso(start), iso(end))
        if t.due_at
    ]


# another capability plugs in here: (tenant, user, window start, window end) -> events
ItemSource = Callable[[str, str, datetime, datetime], list[FeedItem]]
ITEM_SOURCES: list[ItemSource] = [_task_items]


def register_items(source: ItemSource) -> None:
    ITEM_SOURCES.append(source)


# ---------------------------------------------------------------- the secret
def _token_item(tenant_id: str, token_hash: str, user_id: str) -> CalendarFeedToken:
    item = CalendarFeedToken(tenant_id=tenant_id, token_hash=token_hash, user_id=user_id, created_at="")
    item.set_keys()
    return item


def create_feed(principal: Principal) -> str:
    """A new secret token for the caller's feed (the old one stops working)."""
    tenant, user = principal.tenant_id, principal.user_id
    for _ in range(MAX_ATTEMPTS):
        token = secrets.token_urlsafe(TOKEN_BYTES)
        digest = CalendarFeedToken.hash_of(token)
        old = CalendarFeedPointer.fetch(tenant, user)
        entry = CalendarFeedToken(tenant_id=tenant, token_hash=digest, user_id=user, created_at=iso(utcnow()))
        pointer = CalendarFeedPointer(tenant_id=tenant, user_id=user, token_hash=digest)
        same = CalendarFeedPointer.token_hash == old.token_hash if old else CalendarFeedPointer.PK.does_not_exist()
        tx = Tx("calendar_feed").put("token", entry, CalendarFeedToken.PK.does_not_exist())
        tx.put("pointer", pointer, same)
        if old is not None:
            tx.delete("old_token", _token_item(tenant, old.token_hash, user))
        try:
            tx.commit()
        except Cancelled:
            continue  # another request replaced it meanwhile: replace theirs
        return token
    raise Conflict("the calendar feed was changed concurrently; retry", code="concurrent_update")


def revoke_feed(principal: Principal) -> None:
    """The caller's feed URL stops working (idempotent)."""
    old = CalendarFeedPointer.fetch(principal.tenant_id, principal.user_id)
    if old is None:
        return
    tx = Tx("calendar_feed_revoke").delete(
        "pointer",
        old,
        CalendarFeedPointer.token_hash == old.token_hash,
        error=Conflict("retry", code="concurrent_update"),
    )
    tx.delete("token", _token_item(old.tenant_id, old.token_hash, old.user_id))
    tx.commit()


# ---------------------------------------------------------------- the feed
def _plan_event(plan: Plan, zone: ZoneInfo) -> Event:
    event = Event()
    event.add("uid", f"{plan.plan_id}@{UID_DOMAIN}")
    event.add("summary", plan.title)
    event.add("dtstamp", parse_timestamp(plan.updated_at))
    event.add("last-modified", parse_timestamp(plan.updated_at))
    event.add("created", parse_timestamp(plan.created_at))
    event.add("sequence", int(plan.version or 0))
    if plan.start_time:
        start = parse_timestamp(plan.start_time).astimezone(zone)
        end = parse_timestamp(plan.end_time).astimezone(zone) if plan.end_time else start + DEFAULT_LENGTH
        event.add("dtstart", start)
        event.add("dtend", end)
    else:
        day = date.fromisoformat(plan.date)
        event.add("dtstart", day)
        event.add("dtend", day + timedelta(days=1))
    event.add("status", "CANCELLED" if plan.status == "cancelled" else "CONFIRMED")
    event.add("description", f"Plan ({plan.status})")
    return event


def _item_event(item: FeedItem, zone: ZoneInfo) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("summary", item.summary)
    event.add("dtstamp", parse_timestamp(item.updated_at))
    event.add("last-modified", parse_timestamp(item.updated_at))
    event.add("sequence", item.sequence)
    start = parse_timestamp(item.starts_at).astimezone(zone)
    event.add("dtstart", start)
    event.add("dtend", start)
    event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
    if item.description:
        event.add("description", item.description)
    return event


def _owner_of(token: str) -> tuple[str, str]:
    """(tenant, user) of a live token whose user is active; else 404."""
    found = CalendarFeedToken.fetch(CalendarFeedToken.hash_of(token))
    if found is None or not org.is_active(org.get_user(found.tenant_id, found.user_id)):
        raise NotFound("no such calendar feed")
    return found.tenant_id, found.user_id


def feed_ics(token: str, now: Optional[datetime] = None) -> bytes:
    """The calendar of the token's user, RFC 5545 (404 when revoked or deactivated)."""
    tenant, user = _owner_of(token)
    settings = org.get_settings(tenant)
    zone = org.tenant_zone(tenant, settings)
    first = today(zone, now) - timedelta(days=PAST_DAYS)
    last = today(zone, now) + timedelta(days=AHEAD_DAYS)
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Fieldsales")
    cal.add("x-wr-timezone", zone.key)
    cal.add_component(Timezone.from_tzinfo(zone, tzid=zone.key, first_date=first, last_date=last))
    lo, hi = dated_range(format_date(first), format_date(last))
    for plan in Plan.gsi1.query(Plan.user_pk(tenant, user), Plan.GSI1SK.between(lo, hi)):
        cal.add_component(_plan_event(plan, zone))
    window = (datetime.combine(first, datetime.min.time(), zone), datetime.combine(last, datetime.max.time(), zone))
    for source in ITEM_SOURCES:
        for item in source(tenant, user, *window):
            cal.add_component(_item_event(item, zone))
    return cal.to_ical()
