"""Fieldwork sign-ins: check-in / check-out, their flags, and the visits they make.

Public interface (other capabilities call these):
- ``signins_for_user_between(tenant_id, user_id, start_iso, end_iso) -> list[dict]``: the
  user's sign-ins with ``start <= client_time < end``, oldest first, each in the contract
  shape (``to_dict``), photos included. One GSI1 query (+ one BatchGetItem for photos).
  The caller has checked that its principal may read this user's data.
- ``to_dict(signin, photos=None, visit=None) -> dict``: the contract shape. Without
  ``photos`` (views from ``uploads.photo_to_dict``) photos are listed by ``upload_id`` only.

Flags (a flagged sign-in is always recorded):
- ``out_of_range``: farther from the account's location than the tenant's
  ``checkin_radius_m`` (default 500 m). Without an account location: never.
- ``low_accuracy``: reported accuracy worse than 100 m.
- ``clock_skew``: the device clock and the server's differ by more than 5 minutes. The
  device clock is ``sent_at`` when the app sends it (optional; lets an offline sign-in
  keep an old ``client_time`` without looking skewed), else ``client_time``.
- ``mock_location``: the device reported a mocked location.
- ``photo_location_mismatch``: a photo's EXIF GPS is farther than the check-in radius
  from the reported location. ``photo_time_mismatch``: a photo's EXIF capture time is
  more than 30 minutes from ``client_time`` (EXIF offset if present, else tenant zone).
- ``late_upload``: the evidence arrived more than 1 hour after the visit: the sign-in
  reached the server, or one of its photos reached storage, over an hour after
  ``client_time`` (typically an offline sign-in, or a photo taken earlier and sent later).
Photos are often verified after the sign-in exists: their flags are then added with a
DynamoDB ``ADD`` to a set, so the same photo applied twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional
from zoneinfo import ZoneInfo

from pynamodb.exceptions import DoesNotExist

from chalicelib import cursor, vocabulary
from chalicelib.auth import Principal
from chalicelib.errors import Conflict, NotFound, Unprocessable
from chalicelib.geo import distance_m
from chalicelib.ids import new_id
from chalicelib.models.base import BaseItem, Cancelled, Tx, condition_failed
from chalicelib.models.signins import DUE_SHARDS, OpenVisit, SignIn, UserDay, Visit
from chalicelib.models.uploads import Upload
from chalicelib.observability import count, is_corrupt_item, skip_bad_item
from chalicelib.services.access import context, refs
from chalicelib.services.access.visibility import Resolver
from chalicelib.services.feed import activities
from chalicelib.services.org import org
from chalicelib.services.platform import fanout
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import Projection, Rebuild, Scope, reads
from chalicelib.services.uploads import uploads
from chalicelib.timeutil import (
    end_of_local_day,
    iso,
    local_date,
    local_day_bounds,
    normalize,
    parse_date,
    parse_local,
    parse_timestamp,
    utcnow,
)

LOW_ACCURACY_M = 100
CLOCK_SKEW_S = 5 * 60
LATE_UPLOAD_S = 60 * 60
PHOTO_TIME_TOLERANCE_S = 30 * 60
MAX_PHOTOS = 10
KINDS = vocabulary.SIGNIN_KINDS  # chalicelib/vocabulary.py: the one list
Flag = vocabulary.SigninFlag
FLAGS: tuple[str, ...] = vocabulary.SIGNIN_FLAGS


# ---------------------------------------------------------------- helpers
def _location_of(obj: Any) -> Optional[tuple[float, float]]:
    loc = getattr(obj, "location", None) if obj is not None else None
    if loc is None:
        return None
    lat = loc.get("lat") if isinstance(loc, dict) else getattr(loc, "lat", None)
    lng = loc.get("lng") if isinstance(loc, dict) else getattr(loc, "lng", None)
    if lat is None or lng is None:
        return None
    return float(lat), float(lng)


def activity_id_of(signin_id: str) -> str:
    return "act_" + signin_id.split("_", 1)[-1]


def record_activity(signin: SignIn, account: Any, resolver: Optional[Resolver] = None) -> None:
    """The sign-in's feed activity (idempotent: its id follows the sign-in's). After the
    commit point: retried here, else re-driven by the sign-in's stream INSERT. ``resolver``:
    the request's visibility loader (the account and its people, read by the check)."""
    related: list[tuple[str, str]] = []
    if signin.account_id:
        related.append(("account", signin.account_id))
    if signin.opportunity_id:
        related.append(("opportunity", signin.opportunity_id))
    verb = "Checked in" if signin.kind == "check_in" else "Checked out"
    where = f" at {account.name}" if getattr(account, "name", None) else ""
    new = activities.NewActivity(
        signin.tenant_id,
        "signin",
        signin.user_id,
        signin.note or f"{verb}{where}",
        related,
        occurred_at=signin.client_time,
        extra={
            "signin_id": signin.signin_id,
            "kind": signin.kind,
            "plan_id": signin.plan_id,
            "visit_id": signin.visit_id,
        },
        activity_id=activity_id_of(signin.signin_id),
    )
    activities.record_activity(new, resolver)


# ---------------------------------------------------------------- flags
def base_flags(signin: SignIn, server_time: datetime, client_time: datetime, sent_at: Optional[datetime]) -> set[str]:
    """The flags a sign-in gets when it is made: its distance against its radius, its
    accuracy, the device's clock, a mock location, a late upload."""
    distance, radius_m, accuracy_m = signin.distance_m, float(signin.radius_m), signin.accuracy_m
    flags: set[str] = set()
    if distance is not None and distance > radius_m:
        flags.add("out_of_range")
    if accuracy_m > LOW_ACCURACY_M:
        flags.add("low_accuracy")
    device_clock = sent_at or client_time
    if abs((server_time - device_clock).total_seconds()) > CLOCK_SKEW_S or (
        sent_at is not None and (client_time - server_time).total_seconds() > CLOCK_SKEW_S
    ):
        flags.add("clock_skew")
    if signin.mock_location:
        flags.add("mock_location")
    if (server_time - client_time).total_seconds() > LATE_UPLOAD_S:
        flags.add("late_upload")
    return flags


def _taken_at(upload: Upload, zone: ZoneInfo) -> Optional[datetime]:
    """The photo's EXIF capture time as UTC; None when it has none we can place in time
    (a camera's clock is the photo's business: it never fails the sign-in)."""
    if not upload.taken_at:
        return None
    try:
        return parse_local(upload.taken_at, upload.taken_offset or zone)
    except Unprocessable:
        return None


def photo_flags(signin: SignIn, upload: Upload, radius_m: float, zone: ZoneInfo) -> set[str]:
    """Flags one verified photo adds to its sign-in (pure)."""
    if upload.status != "ready":
        return set()
    flags: set[str] = set()
    client_time = parse_timestamp(signin.client_time, "client_time")
    gps = (upload.gps_lat, upload.gps_lng)
    if None not in gps and distance_m((signin.lat, signin.lng), gps) > radius_m:
        flags.add("photo_location_mismatch")
    taken = _taken_at(upload, zone)
    if taken is not None and abs((taken - client_time).total_seconds()) > PHOTO_TIME_TOLERANCE_S:
        flags.add("photo_time_mismatch")
    if upload.uploaded_at and (parse_timestamp(upload.uploaded_at) - client_time).total_seconds() > LATE_UPLOAD_S:
        flags.add("late_upload")
    return flags


def apply_photo(upload: Upload) -> set[str]:
    """Add a verified photo's flags to its sign-in. Idempotent (set ADD)."""
    if not upload.signin_id or upload.status != "ready":
        return set()
    signin = SignIn.fetch(upload.tenant_id, upload.signin_id, consistent_read=True)
    if signin is None:
        return set()
    tenant_settings = org.get_settings(upload.tenant_id)
    flags = photo_flags(
        signin,
        upload,
        float(signin.radius_m or tenant_settings.checkin_radius_m),
        org.tenant_zone(upload.tenant_id, tenant_settings),
    )
    if flags:
        signin.update(actions=[SignIn.photo_flags.add(flags)])
    return flags


# ---------------------------------------------------------------- shapes
def visit_to_dict(visit: Visit) -> dict[str, Any]:
    return {
        "id": visit.visit_id,
        "status": visit.status,
        "started_at": visit.started_at,
        "ended_at": visit.ended_at,
        "duration_s": int(visit.duration_s) if visit.duration_s is not None else None,
        "closed_by": visit.closed_by,
        "checkin_id": visit.checkin_id,
        "checkout_id": visit.checkout_id,
        "account_id": visit.account_id,
        "opportunity_id": visit.opportunity_id,
    }


def to_dict(
    signin: SignIn, photos: Optional[list[dict[str, Any]]] = None, visit: Optional[Visit] = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": signin.signin_id,
        "kind": signin.kind,
        "user_id": signin.user_id,
        "client_time": signin.client_time,
        "server_time": signin.server_time,
        "location": {"lat": signin.lat, "lng": signin.lng, "accuracy_m": signin.accuracy_m},
        "distance_m": signin.distance_m,
        "flags": signin.flags,
        "photos": photos if photos is not None else [{"upload_id": u} for u in signin.photo_upload_ids or []],
        "visit_id": signin.visit_id,
        "account_id": signin.account_id,
        "opportunity_id": signin.opportunity_id,
        "plan_id": signin.plan_id,
        "note": signin.note,
        "mock_location": bool(signin.mock_location),
    }
    if visit is not None:
        out["visit"] = visit_to_dict(visit)
    return out


def _photo_views(
    tenant_id: str, signins: list[SignIn], principal: Optional[Principal] = None
) -> dict[str, dict[str, Any]]:
    ids = [u for s in signins for u in (s.photo_upload_ids or [])]
    found = uploads.get_uploads(tenant_id, ids)
    return {upload_id: uploads.photo_to_dict(upload, principal) for upload_id, upload in found.items()}


def _with_photos(signin: SignIn, views: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [views.get(u, {"upload_id": u, "status": "pending"}) for u in signin.photo_upload_ids or []]


# ---------------------------------------------------------------- create
def _account_of(
    principal: Principal, found: refs.Found, account_id: Optional[str], opportunity_id: Optional[str]
) -> Any:
    """The account the sign-in is at: the given one, else the opportunity's when the
    caller may see it (never tie a sign-in to an account out of the caller's range)."""
    if account_id:
        return found.obj("account", account_id)
    opportunity = found.obj("opportunity", opportunity_id)
    inferred = getattr(opportunity, "account_id", None)
    if not inferred:
        return None
    try:
        return refs.check(principal, objects=[("account", inferred)], resolver=found.resolver).obj("account", inferred)
    except Unprocessable:
        return None


def _references(
    principal: Principal,
    account_id: Optional[str],
    opportunity_id: Optional[str],
    plan_id: Optional[str],
    photo_ids: list[str],
) -> tuple[refs.Found, Any]:
    """Every id the sign-in names, checked in one go (422 ``unknown_<thing>``), and the
    account it is at (the given one, else the opportunity's when visible)."""
    found = refs.check(
        principal,
        objects=[("opportunity", opportunity_id), ("account", account_id)],
        plans=[plan_id],
        uploads=[(u, "signin_photo") for u in photo_ids],
    )
    return found, _account_of(principal, found, account_id, opportunity_id)


def _claim_photos(principal: Principal, upload_ids: list[str], found: Optional[refs.Found] = None) -> list[Upload]:
    """The caller's own sign-in photos (one BatchGet; none when ``found`` holds them)."""
    if found is None:
        found = refs.check(principal, uploads=[(u, "signin_photo") for u in upload_ids])
    photos = []
    for upload_id in upload_ids:
        upload = found.uploads[upload_id]
        if upload.status == "rejected":
            raise Unprocessable(
                f"photo {upload_id!r} was rejected ({upload.reason}); take another", code="photo_rejected"
            )
        if upload.signin_id:
            raise Conflict(f"photo {upload_id!r} belongs to another sign-in", code="photo_already_attached")
        photos.append(upload)
    return photos


def _get_open_visit(tenant_id: str, user_id: str) -> Optional[Visit]:
    pointer = OpenVisit.fetch(tenant_id, user_id)
    return Visit.fetch(tenant_id, pointer.visit_id, consistent_read=True) if pointer is not None else None


def _duration_s(started_at: Optional[str], ended_at: str) -> int:
    """Seconds between two stored times; 0 when the stored start is unreadable (a row
    written before times were range-checked must not block its user's next sign-in)."""
    try:
        return max(0, int((parse_timestamp(ended_at) - parse_timestamp(started_at or "")).total_seconds()))
    except Unprocessable:
        return 0


def _close_actions(visit: Visit, ended_at: str, closed_by: str, checkout_id: Optional[str]) -> list[Any]:
    duration = _duration_s(visit.started_at, ended_at)
    visit.status, visit.ended_at, visit.duration_s, visit.closed_by = "closed", ended_at, duration, closed_by
    visit.checkout_id = checkout_id
    actions = [
        Visit.status.set("closed"),
        Visit.ended_at.set(ended_at),
        Visit.duration_s.set(duration),
        Visit.closed_by.set(closed_by),
        Visit.GSI2PK.remove(),
        Visit.GSI2SK.remove(),
    ]
    if checkout_id:
        actions.append(Visit.checkout_id.set(checkout_id))
    return actions


def _day_update(signin: SignIn, day: str) -> tuple[UserDay, list[Any]]:
    """The sign-in's line in its user's day (``ADD`` to a set: idempotent)."""
    item = UserDay(tenant_id=signin.tenant_id, user_id=signin.user_id, date=day)
    item.set_keys()
    actions = [
        UserDay.entity.set(UserDay),
        UserDay.tenant_id.set(signin.tenant_id),
        UserDay.user_id.set(signin.user_id),
        UserDay.date.set(day),
        UserDay.signins.add({signin.timeline_sk}),
    ]
    return item, actions


def restore_day(signin: SignIn, zone: ZoneInfo) -> int:
    """Backfill (services/flows/backfill.py): the sign-in's line in its user's day, for a sign-in
    stored before the team day existed; the same ``ADD`` as the sign-in's transaction, so a
    repeat (or a line already there) changes nothing. 1 UpdateItem."""
    item, actions = _day_update(signin, local_date(signin.client_time, zone))
    item.update(actions=actions)
    return 1


@dataclass(frozen=True)
class NewSignIn:
    """A check-in or check-out as the device sent it (``POST /v1/signins``)."""

    kind: str
    lat: float
    lng: float
    accuracy_m: float
    client_time: str
    account_id: Optional[str] = None
    opportunity_id: Optional[str] = None
    plan_id: Optional[str] = None
    photo_upload_ids: Optional[list[str]] = None
    note: Optional[str] = None
    mock_location: bool = False
    sent_at: Optional[str] = None


def create_signin(principal: Principal, new: NewSignIn) -> dict[str, Any]:
    """A check-in or check-out: validated, flagged, committed with its visit and photo
    claims, then its feed activity. Answers the sign-in's API shape."""
    ctx = context.of(principal)  # the request's caller, settings, zone and visibility loader
    tenant_id = ctx.tenant_id
    photo_ids, server_dt, client_dt, sent_dt = _validated(new.kind, new.photo_upload_ids, new.client_time, new.sent_at)
    found, account = _references(ctx, new.account_id, new.opportunity_id, new.plan_id, photo_ids)
    account_id = account.object_id if account is not None else new.account_id
    target = _location_of(account)
    signin_id = new_id("sgn")
    signin = SignIn(
        tenant_id=tenant_id,
        signin_id=signin_id,
        activity_id=activity_id_of(signin_id),
        user_id=ctx.user_id,
        kind=new.kind,
        lat=new.lat,
        lng=new.lng,
        accuracy_m=new.accuracy_m,
        client_time=iso(client_dt),
        sent_at=iso(sent_dt) if sent_dt else None,
        server_time=iso(server_dt),
        account_id=account_id,
        opportunity_id=new.opportunity_id,
        plan_id=new.plan_id,
        photo_upload_ids=photo_ids,
        note=new.note,
        mock_location=bool(new.mock_location),
        distance_m=round(distance_m((new.lat, new.lng), target), 1) if target else None,
        radius_m=float(ctx.settings.checkin_radius_m),
    )
    signin.base_flags = base_flags(signin, server_dt, client_dt, sent_dt) or None
    visit, photos = _commit(ctx, signin, photo_ids, found, client_dt, ctx.zone)
    views = _claimed_photo_views(signin, photos)
    settle("signin.activity", lambda: record_activity(signin, account, found.resolver), signin_id=signin.signin_id)
    count("SigninCreated")
    if signin.flags:
        count("SigninFlagged")
    return to_dict(signin, _with_photos(signin, views), visit)


def _validated(
    kind: str, photo_upload_ids: Optional[list[str]], client_time: str, sent_at: Optional[str]
) -> tuple[list[str], datetime, datetime, Optional[datetime]]:
    """(distinct photo ids, server time, client time, sent-at time) or 422."""
    if kind not in KINDS:
        raise Unprocessable(f"kind must be one of {KINDS}", code="invalid_kind")
    photo_ids = list(dict.fromkeys(photo_upload_ids or []))
    if len(photo_ids) > MAX_PHOTOS:
        raise Unprocessable(f"at most {MAX_PHOTOS} photos", code="too_many_photos")
    server_dt = utcnow().replace(microsecond=0)
    client_dt = parse_timestamp(client_time, "client_time")
    sent_dt = parse_timestamp(sent_at, "sent_at") if sent_at else None
    return photo_ids, server_dt, client_dt, sent_dt


def _commit(
    principal: Principal, signin: SignIn, photo_ids: list[str], found: refs.Found, client_dt: datetime, zone: Any
) -> tuple[Optional[Visit], list[Upload]]:
    """Commit the sign-in with its visit change and photo claims (one transaction, retried
    on a concurrent visit change; 409 after three tries). Answers (visit, claimed photos)."""
    tenant_id, user_id = signin.tenant_id, signin.user_id
    radius = float(signin.radius_m)
    for attempt in range(3):
        photos = _claim_photos(principal, photo_ids, found if attempt == 0 else None)
        signin.photo_flags = set().union(*(photo_flags(signin, p, radius, zone) for p in photos)) or None
        tx, visit = _signin_tx(signin, _get_open_visit(tenant_id, user_id), photos, client_dt, zone)
        try:
            tx.commit()
            return visit, photos
        except Cancelled as exc:
            if not exc.failed or attempt == 2:
                if exc.failed:
                    raise Conflict("the visit changed concurrently; retry", code="visit_conflict") from None
                raise
            count("SigninRetried")
    raise AssertionError("unreachable")  # pragma: no cover


def _signin_tx(
    signin: SignIn, open_visit: Optional[Visit], photos: list[Upload], client_dt: datetime, zone: Any
) -> tuple[Tx, Optional[Visit]]:
    """The transaction: close the open visit (a check-out ends it, a check-in replaces it),
    open a new visit on a check-in, save the sign-in and claim its photos."""
    tenant_id, user_id, kind = signin.tenant_id, signin.user_id, signin.kind
    tx = Tx("signin")
    signin.visit_id = None
    visit: Optional[Visit] = None
    pointer = OpenVisit(tenant_id=tenant_id, user_id=user_id)
    pointer.set_keys()
    if open_visit is not None:
        closed_by = "check_in" if kind == "check_in" else "user"
        ended = max(signin.client_time, open_visit.started_at)
        checkout_id = signin.signin_id if kind == "check_out" else None
        actions = _close_actions(open_visit, ended, closed_by, checkout_id)
        tx.update("open_visit", open_visit, actions, Visit.status == "open")
        if kind == "check_out":
            visit = open_visit
            signin.visit_id = open_visit.visit_id
            tx.delete("pointer", pointer, OpenVisit.visit_id == open_visit.visit_id)
    if kind == "check_in":
        visit = Visit(
            tenant_id=tenant_id,
            visit_id=new_id("vis"),
            user_id=user_id,
            status="open",
            checkin_id=signin.signin_id,
            account_id=signin.account_id,
            opportunity_id=signin.opportunity_id,
            plan_id=signin.plan_id,
            started_at=signin.client_time,
            close_after=iso(end_of_local_day(client_dt, zone)),
        )
        signin.visit_id = visit.visit_id
        tx.put("visit", visit, Visit.PK.does_not_exist())
        pointer.visit_id = visit.visit_id
        moved = (OpenVisit.visit_id == open_visit.visit_id) if open_visit is not None else OpenVisit.PK.does_not_exist()
        tx.put("pointer", pointer, moved)
    tx.put("signin", signin, SignIn.PK.does_not_exist())
    tx.update("day", *_day_update(signin, client_dt.astimezone(zone).date().isoformat()))
    for i, photo in enumerate(photos):
        unclaimed = (Upload.user_id == user_id) & Upload.signin_id.does_not_exist()
        tx.update(f"photo{i}", photo, [Upload.signin_id.set(signin.signin_id)], unclaimed)
    return tx, visit


def _claimed_photo_views(signin: SignIn, photos: list[Upload]) -> dict[str, dict[str, Any]]:
    """Photos verified between our read and the transaction get their flags now; the
    views of every photo."""
    views = {}
    for photo in photos:
        current = uploads.get_upload(signin.tenant_id, photo.upload_id, consistent=True) or photo
        if photo.status == "pending" and current.status == "ready":
            apply_photo(current)
        views[current.upload_id] = uploads.photo_to_dict(current)
    if any(p.status == "pending" for p in photos):
        signin.refresh(consistent_read=True)
    return views


# ---------------------------------------------------------------- reads
def get_signin(principal: Principal, signin_id: str) -> dict[str, Any]:
    signin = SignIn.fetch(principal.tenant_id, signin_id)
    if signin is None or not org.can_read_user_data(principal, signin.user_id):
        raise NotFound("sign-in not found")
    visit = Visit.fetch(principal.tenant_id, signin.visit_id) if signin.visit_id else None
    views = _photo_views(principal.tenant_id, [signin])
    return to_dict(signin, _with_photos(signin, views), visit)


def _bound(value: Optional[str], zone: ZoneInfo, end: bool) -> Optional[str]:
    if not value:
        return None
    if "T" in value:
        return normalize(value, "to" if end else "from")
    start_of_day, start_of_next = local_day_bounds(parse_date(value, "to" if end else "from"), zone)
    return iso(start_of_next if end else start_of_day)


def signins_for_user_between(
    tenant_id: str,
    user_id: str,
    start_iso: str,
    end_iso: str,
    *,
    with_photos: bool = True,
    principal: Optional[Principal] = None,
) -> list[dict[str, Any]]:
    start, end = normalize(start_iso), normalize(end_iso)
    items = list(SignIn.gsi1.query(SignIn.user_pk(tenant_id, user_id), SignIn.GSI1SK.between(start, end)))
    items = [s for s in items if start <= s.client_time < end]
    views = _photo_views(tenant_id, items, principal) if with_photos else {}
    return [to_dict(s, _with_photos(s, views) if with_photos else None) for s in items]


def list_signins(
    principal: Principal,
    user_id: Optional[str],
    start: Optional[str],
    end: Optional[str],
    limit: int,
    page_cursor: Optional[str],
) -> dict[str, Any]:
    """Newest first. ``start``/``end``: dates (tenant zone, inclusive) or timestamps."""
    target = org.require_readable_user(principal, user_id)
    zone = context.of(principal).zone
    lo, hi = _bound(start, zone, end=False), _bound(end, zone, end=True)
    if lo and hi and (lo > hi or (lo == hi and start != end)):
        raise Unprocessable("from is after to", code="invalid_range")
    scope = f"signins:{principal.tenant_id}:{principal.user_id}:{target}:{lo}:{hi}"
    position = cursor.decode(page_cursor, scope)
    pk = SignIn.user_pk(principal.tenant_id, target)
    condition: Any
    if lo and hi:
        condition = SignIn.GSI1SK.between(lo, hi)
    elif lo:
        condition = SignIn.GSI1SK >= lo  # noqa: SIM300
    elif hi:
        condition = SignIn.GSI1SK < hi  # noqa: SIM300
    else:
        condition = None
    results = SignIn.gsi1.query(
        pk, condition, scan_index_forward=False, limit=limit + 1, last_evaluated_key=position, page_size=limit + 1
    )
    items = list(results)
    next_cursor = None
    if len(items) > limit:
        items = items[:limit]
        last = items[-1]
        next_cursor = cursor.encode(last.start_key("GSI1"), scope)
    views = _photo_views(principal.tenant_id, items)
    return {"items": [to_dict(s, _with_photos(s, views)) for s in items], "next_cursor": next_cursor}


# ---------------------------------------------------------------- the schedule
def close_open_visits(now: Optional[datetime] = None, page_size: int = 100) -> int:
    """Close every open visit whose day has ended (tenant zone), marked ``closed_by:
    "system"``, ending at the end of that day. Reads the sparse due index only: the cost
    is proportional to the visits that are due. Safe to run twice at once. Every shard in
    this process; deployed, the dispatcher queues one task per shard (:func:`close_tasks`)."""
    closed = 0
    for shard in range(_due_shards()):
        closed += close_shard(shard, now, page_size=page_size)[0]
    return closed


CLOSE_KIND = "close_open_visits"  # the fan-out task kind


def close_tasks(now: Optional[datetime] = None) -> list[fanout.Task]:
    """The dispatcher's work every 15 minutes: one task per due-index shard, no read."""
    at = iso(now or utcnow())
    return [fanout.Task(CLOSE_KIND, f"{shard}#{at}", {"shard": shard, "now": at}) for shard in range(_due_shards())]


def close_work(task: fanout.Task, deadline: fanout.Deadline) -> Optional[str]:
    """One shard's due visits; the cursor to resume at when the deadline stopped it."""
    at = parse_timestamp(task.params["now"], "now")
    return close_shard(int(task.params["shard"]), at, task.cursor, deadline.expired)[1]


def close_shard(
    shard: int,
    now: Optional[datetime] = None,
    cursor: Optional[str] = None,
    expired: Optional[Callable[[], bool]] = None,
    page_size: int = 100,
) -> tuple[int, Optional[str]]:
    """Close the due visits of one shard from ``cursor``; answers how many were closed and
    the cursor after the last one handled when ``expired()`` stopped it (None when done)."""
    now_key = Visit.due_before(iso(now or utcnow()))
    start = json.loads(cursor) if cursor else None
    closed = 0
    query = Visit.gsi2.query(Visit.due_pk(shard), Visit.GSI2SK < now_key, page_size=page_size, last_evaluated_key=start)  # noqa: SIM300
    for visit in query:
        if visit.status == "open":
            closed += _close_due(visit)
        if expired is not None and expired():
            _count_closed(closed)
            return closed, json.dumps(visit.start_key("GSI2"), sort_keys=True)
    _count_closed(closed)
    return closed, None


def _close_due(visit: Visit) -> int:
    try:
        return _system_close(visit)
    except Exception as exc:  # noqa: BLE001 - one tenant's bad row must not stop the others
        if not is_corrupt_item(exc):
            raise
        skip_bad_item("close_open_visits", exc, tenant_id=visit.tenant_id, key=visit.visit_id)
        return 0


def _count_closed(closed: int) -> None:
    if closed:
        count("VisitsClosedBySystem", closed)


def _due_shards() -> int:
    return DUE_SHARDS


def _system_close(visit: Visit) -> int:
    parse_timestamp(visit.close_after, "close_after")  # an unreadable row is skipped, not closed with garbage
    pointer = OpenVisit(tenant_id=visit.tenant_id, user_id=visit.user_id, visit_id=visit.visit_id)
    pointer.set_keys()
    actions = _close_actions(visit, visit.close_after, "system", None)
    tx = Tx("system_close").update("visit", visit, actions, Visit.status == "open")
    tx.delete("pointer", pointer, OpenVisit.visit_id == visit.visit_id)
    try:
        tx.commit()
        return 1
    except Cancelled as exc:
        if not exc.failed:
            raise
    # Either someone closed it first (fine), or the pointer moved on: close the visit alone.
    try:
        visit.refresh(consistent_read=True)
    except DoesNotExist:
        return 0
    if visit.status != "open":
        return 0
    try:
        visit.update(actions=_close_actions(visit, visit.close_after, "system", None), condition=Visit.status == "open")
    except Exception as exc:  # noqa: BLE001 - a lost race is not an error
        if not condition_failed(exc):
            raise
        return 0
    return 1


__all__ = [
    "create_signin",
    "get_signin",
    "list_signins",
    "signins_for_user_between",
    "to_dict",
    "apply_photo",
    "photo_flags",
    "base_flags",
    "NewSignIn",
    "close_open_visits",
    "distance_m",
    "FLAGS",
]


def _rebuild_day(scope: Scope, item: BaseItem) -> Optional[int]:
    return restore_day(item, scope.zone) if isinstance(item, SignIn) else None


TEAM_DAY = Projection(
    name="team_day",
    reads=(reads("SignIn"),),
    kept="in_transaction",
    writes=("UserDay",),
    rebuilds=(Rebuild("signins", _rebuild_day, index="team_day"),),
    doc="each user's day of sign-ins (the team day), added in the sign-in's transaction",
)
