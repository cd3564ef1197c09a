"""What a push carries, per platform: the title, ``kind``, the message id, its ``ref`` and
the badge (the unread count). Never the body: lock screens are public.

- APNs (``aps``): ``alert`` with the title only, ``badge``, ``thread-id`` (the referenced
  object, else the kind, so a conversation groups), ``sound``; our keys beside ``aps``. The
  collapse id (``apns-collapse-id``: the message id, so a repeat replaces) and the TTL
  (``apns-expiration``) travel as SNS message attributes.
- FCM HTTP v1 (``fcmV1Message``): ``notification.title``, ``data`` (strings only),
  ``android.ttl`` / ``collapse_key`` / ``notification.tag`` (the message id: a repeat
  replaces the notification shown).
- Baidu: ``title``, ``description`` (the title again), ``custom_content``; the message id
  as its ``MessageKey``.

The TTL follows the kind: a reminder is worthless once its plan or task has started
(``Message.push_expires_at``); an approval request waits days; a digest half a day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from chalicelib.timeutil import parse_timestamp

HOUR = 3600
DAY = 24 * HOUR
TTL_S: dict[str, int] = {
    "plan_reminder": 15 * 60,  # when the message does not say when its plan starts
    "task_reminder": 15 * 60,
    "expense_approval_request": 3 * DAY,
    "approval_request": 3 * DAY,
    "team_digest": 12 * HOUR,
}
DEFAULT_TTL_S = DAY
TITLE_MAX_CHARS = 200  # a lock screen shows far less; every payload stays under its 4 KB limit


def shown_title(title: str) -> str:
    return title if len(title) <= TITLE_MAX_CHARS else title[: TITLE_MAX_CHARS - 1] + "…"


@dataclass(frozen=True)
class Push:
    """One message as a push: everything a payload may carry."""

    message_id: str
    kind: str
    title: str
    ref_type: Optional[str]
    ref_id: Optional[str]
    badge: int
    ttl_s: int

    def data(self) -> dict[str, str]:
        """The app's own fields (FCM ``data`` takes strings only)."""
        out = {"kind": self.kind, "message_id": self.message_id}
        if self.ref_type and self.ref_id:
            out |= {"ref_type": self.ref_type, "ref_id": self.ref_id}
        return out

    @property
    def thread(self) -> str:
        return f"{self.ref_type}-{self.ref_id}" if self.ref_type and self.ref_id else self.kind


def ttl_for(kind: str, expires_at: Optional[str], now: datetime) -> int:
    """Seconds the push is worth delivering (0: already worthless, send nothing)."""
    ttl = TTL_S.get(kind, DEFAULT_TTL_S)
    if expires_at:
        ttl = min(ttl, int((parse_timestamp(expires_at, "push_expires_at") - now).total_seconds()))
    return max(0, ttl)


def apns(push: Push) -> dict[str, Any]:
    aps = {"alert": {"title": push.title}, "badge": push.badge, "thread-id": push.thread, "sound": "default"}
    return {"aps": aps, **push.data()}


def fcm_v1(push: Push) -> dict[str, Any]:
    android = {
        "ttl": f"{push.ttl_s}s",
        "collapse_key": push.message_id,
        "priority": "HIGH",
        "notification": {"tag": push.message_id, "notification_count": push.badge},
    }
    message = {"notification": {"title": push.title}, "data": push.data(), "android": android}
    return {"fcmV1Message": {"message": message}}


def baidu(push: Push) -> dict[str, Any]:
    return {"title": push.title, "description": push.title, "custom_content": push.data()}


def _string(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": value}


def sns_request(message_key: str, push: Push) -> tuple[str, dict[str, dict[str, str]]]:
    """(``Message`` for ``MessageStructure=json``, ``MessageAttributes``) for one platform."""
    builders = {"APNS": apns, "APNS_SANDBOX": apns, "GCM": fcm_v1, "BAIDU": baidu}
    payload = builders[message_key](push)
    message = json.dumps({"default": push.title, message_key: json.dumps(payload, separators=(",", ":"))})
    ttl = str(push.ttl_s)
    if message_key.startswith("APNS"):
        attributes = {
            "AWS.SNS.MOBILE.APNS.TTL": _string(ttl),
            "AWS.SNS.MOBILE.APNS.COLLAPSE_ID": _string(push.message_id),
            "AWS.SNS.MOBILE.APNS.PUSH_TYPE": _string("alert"),
            "AWS.SNS.MOBILE.APNS.PRIORITY": _string("10"),
        }
    elif message_key == "GCM":
        attributes = {"AWS.SNS.MOBILE.FCM.TTL": _string(ttl)}
    else:
        attributes = {"AWS.SNS.MOBILE.BAIDU.MessageKey": _string(push.message_id)}
    return message, attributes
