"""Every new information-center message, pushed to each enabled device of its recipient: a
consumer of the table stream (``handle_change``), at least once.

Cost per message: 1 Query (the recipient's unread count, preferences and devices:
``models.devices.push_collection``) and 1 Publish per enabled device, whatever the
tenant's size; a device whose endpoint SNS reports disabled or gone costs 1 more write
(it becomes ``enabled: false``). A re-delivered record publishes again with the same
collapse id (the message id), so the phone replaces the notification rather than showing
it twice. Nothing is pushed to a deactivated user, for a muted kind, or in quiet hours
(tenant time), except ``plan_reminder`` and ``task_reminder``; a reminder whose plan or
task has started is not pushed at all (its TTL would be 0).

The one Query returns ``PushSettings.user_active``, written in the transaction that
deactivates the user (so a message created an instant after is not pushed, whatever order
the stream delivers the records in), and the quiet hours' ``zone``, which follows the
tenant's current zone: a change of the tenant's zone rewrites it for every user with
quiet hours (``follow_tenant_zone``, from the settings' stream record).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from chalicelib.models.devices import Device, PushSettings, push_collection
from chalicelib.models.messages import Message
from chalicelib.models.org import TenantSettings
from chalicelib.observability import count, logger
from chalicelib.services.org import org
from chalicelib.services.platform.projections import INSERT, MODIFY, Change, Projection, reads
from chalicelib.services.push.payloads import Push, shown_title, ttl_for
from chalicelib.services.push.senders import GONE, REFUSED, Sender, sender_for
from chalicelib.timeutil import utcnow

ALWAYS_PUSHED = frozenset({"plan_reminder", "task_reminder"})


def handle_change(change: Change) -> None:
    new = change.new
    if change.event_name == INSERT and isinstance(new, Message):
        fan_out(new)
    elif isinstance(new, TenantSettings):
        old = change.old
        if not isinstance(old, TenantSettings) or old.timezone != new.timezone:
            follow_tenant_zone(new.tenant_id, org.tenant_zone(new.tenant_id, new).key)


def follow_tenant_zone(tenant_id: str, zone: str) -> int:
    """The quiet hours of the tenant's users follow its zone (the settings' stream records
    of one tenant arrive in order, so the last change wins): 1 Query per 1 MB of users
    with quiet hours + 1 write per user whose zone differs. Answers how many were rewritten."""
    return sum(
        1 for prefs in PushSettings.with_quiet_hours(tenant_id) if prefs.zone != zone and prefs.follow_zone(zone)
    )


PROJECTION = Projection(
    name="push",
    reads=(reads("Message", events=[INSERT]), reads("TenantSettings", events=[INSERT, MODIFY])),
    kept="after_commit",
    writes=("SNS mobile push", "PushSettings.zone", "Device.enabled"),
    apply=handle_change,
    doc="every new message pushed to its recipient's enabled devices; quiet hours follow the tenant's zone",
)


def in_quiet_hours(prefs: Optional[PushSettings], now: datetime) -> bool:
    """``from`` <= now < ``to`` in the tenant's zone (kept on the preferences); a window that
    passes midnight (22:00-07:00) wraps; ``from`` == ``to`` is no window."""
    if prefs is None or not prefs.quiet_from or not prefs.quiet_to or prefs.quiet_from == prefs.quiet_to:
        return False
    local = now.astimezone(org.zone_named(prefs.zone or "")).strftime("%H:%M")
    start, end = prefs.quiet_from, prefs.quiet_to
    return start <= local < end if start < end else (local >= start or local < end)


def wanted(kind: str, prefs: Optional[PushSettings], now: datetime) -> bool:
    """Whether the recipient's preferences let a message of ``kind`` be pushed now."""
    if kind in ALWAYS_PUSHED or prefs is None:
        return True
    return kind not in (prefs.muted_kinds or []) and not in_quiet_hours(prefs, now)


def fan_out(message: Message, now: Optional[datetime] = None) -> int:
    """Pushes one message; answers how many devices it was published to."""
    now = now or utcnow()
    unread, prefs, devices = push_collection(message.tenant_id, message.user_id)
    devices = [d for d in devices if d.enabled]
    if not devices:
        return 0
    why_not = _why_not(message, prefs, now)
    if why_not:
        count(why_not)
        return 0
    push = Push(
        message_id=message.message_id,
        kind=message.kind,
        title=shown_title(message.title),
        ref_type=message.ref_type,
        ref_id=message.ref_id,
        badge=unread or 0,
        ttl_s=ttl_for(message.kind, message.push_expires_at, now),
    )
    return _publish_all(devices, push)


def _why_not(message: Message, prefs: Optional[PushSettings], now: datetime) -> Optional[str]:
    """The metric that says why nothing is pushed, or None."""
    if prefs is not None and prefs.user_active is False:
        return "PushSkippedInactiveUser"
    if not wanted(message.kind, prefs, now):
        return "PushSkippedByPreferences"
    if ttl_for(message.kind, message.push_expires_at, now) <= 0:
        return "PushSkippedExpired"
    return None


def _publish_all(devices: list[Device], push: Push) -> int:
    """1 Publish per device. A failure a retry may cure is raised after every device has
    had its try (the record is retried; a repeat replaces, it does not duplicate)."""
    senders: dict[str, Optional[Sender]] = {}
    sent, retry = 0, None
    for device in devices:
        if device.platform not in senders:
            senders[device.platform] = sender_for(device.platform)
        sender = senders[device.platform]
        if sender is None or not device.endpoint_arn:
            count("PushNoChannel")
            logger.info("push skipped: no channel for the platform", extra={"platform": device.platform})
            continue
        try:
            outcome = sender.publish(device.endpoint_arn, push)
        except Exception as exc:  # noqa: BLE001 - every device gets its try; raised below
            retry = retry or exc
            count("PushFailed")
            continue
        if outcome == GONE:
            device.disable_if_endpoint(device.endpoint_arn)
            count("PushEndpointDisabled")
        elif outcome == REFUSED:
            count("PushFailed")
            logger.warning("push refused", extra={"platform": device.platform, "message_id": push.message_id})
        else:
            sent += 1
            count("PushSent")
    if retry is not None:
        raise retry
    return sent
