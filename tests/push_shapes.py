"""Each push platform's documented payload shape, checked here because moto's SNS accepts
any JSON (and even malformed JSON) as a payload.

- SNS ``Publish`` with ``MessageStructure=json``: ``Message`` is a JSON object of strings
  with a ``default`` key; each platform's payload is a JSON *string* under its key
  (``APNS``, ``APNS_SANDBOX``, ``GCM``, ``BAIDU``). Message attributes are
  ``{DataType, StringValue}``.
- APNs ("Generating a remote notification", Apple): a JSON dictionary of at most 4096
  bytes with an ``aps`` dictionary of Apple's keys only (``alert``, ``badge``, ``sound``,
  ``thread-id``, ...); ``alert`` a string or a dictionary of Apple's alert keys; ``badge``
  a non-negative number; custom keys beside ``aps``. ``apns-collapse-id`` at most 64 bytes;
  ``apns-expiration`` (SNS: ``AWS.SNS.MOBILE.APNS.TTL``) seconds.
- FCM HTTP v1 through SNS (``fcmV1Message``): ``{"message": Message}`` (plus an optional
  ``validate_only``); SNS fills the target, so no ``token``/``topic``/``condition``;
  ``data`` a map of strings to strings without FCM's reserved keys (``from``, ``google.*``,
  ``gcm.*``, ``message_type``, ``collapse_key``); ``notification`` of ``title``, ``body``,
  ``image``; ``android.ttl`` a duration string (``"3.5s"``), ``android.priority``
  ``NORMAL`` or ``HIGH``; at most 4096 bytes.
- Baidu through SNS: ``title``, ``description`` and an optional ``custom_content`` object.
"""

from __future__ import annotations

import json
import re
from typing import Any

APS_KEYS = {
    "alert",
    "badge",
    "sound",
    "thread-id",
    "category",
    "content-available",
    "mutable-content",
    "target-content-id",
    "interruption-level",
    "relevance-score",
    "filter-criteria",
    "stale-date",
    "content-state",
    "timestamp",
    "event",
    "dismissal-date",
}
ALERT_KEYS = {
    "title",
    "subtitle",
    "body",
    "launch-image",
    "title-loc-key",
    "title-loc-args",
    "subtitle-loc-key",
    "subtitle-loc-args",
    "loc-key",
    "loc-args",
}
FCM_MESSAGE_KEYS = {"data", "notification", "android", "apns", "webpush", "fcm_options", "name"}
FCM_NOTIFICATION_KEYS = {"title", "body", "image"}
FCM_ANDROID_KEYS = {
    "collapse_key",
    "priority",
    "ttl",
    "restricted_package_name",
    "data",
    "notification",
    "fcm_options",
    "direct_boot_ok",
}
FCM_ANDROID_NOTIFICATION_KEYS = {
    "title", "body", "icon", "color", "sound", "tag", "click_action", "body_loc_key", "body_loc_args",
    "title_loc_key", "title_loc_args", "channel_id", "ticker", "sticky", "event_time", "local_only",
    "notification_priority", "default_sound", "default_vibrate_timings", "default_light_settings",
    "vibrate_timings", "visibility", "notification_count", "light_settings", "image",
}  # fmt: skip
FCM_RESERVED_DATA = re.compile(r"^(from|message_type|collapse_key|google\..*|gcm\..*)$")
DURATION = re.compile(r"^[0-9]+(\.[0-9]{1,9})?s$")
MESSAGE_KEYS = {"apns": "APNS", "apns_sandbox": "APNS_SANDBOX", "fcm": "GCM", "baidu": "BAIDU"}


def check_apns(payload: dict[str, Any], attributes: dict[str, Any]) -> None:
    assert len(json.dumps(payload, separators=(",", ":")).encode()) <= 4096
    aps = payload["aps"]
    assert set(aps) <= APS_KEYS, set(aps) - APS_KEYS
    alert = aps["alert"]
    assert isinstance(alert, str) or (isinstance(alert, dict) and set(alert) <= ALERT_KEYS)
    assert "body" not in (alert if isinstance(alert, dict) else {}), "the body never leaves the backend"
    assert isinstance(aps["badge"], int) and aps["badge"] >= 0
    assert isinstance(aps.get("thread-id", ""), str)
    collapse = attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"]["StringValue"]
    assert 0 < len(collapse.encode()) <= 64
    assert int(attributes["AWS.SNS.MOBILE.APNS.TTL"]["StringValue"]) >= 0
    assert attributes["AWS.SNS.MOBILE.APNS.PUSH_TYPE"]["StringValue"] == "alert"
    assert attributes["AWS.SNS.MOBILE.APNS.PRIORITY"]["StringValue"] in {"5", "10"}


def check_fcm_v1(payload: dict[str, Any], attributes: dict[str, Any]) -> None:
    assert len(json.dumps(payload, separators=(",", ":")).encode()) <= 4096
    assert set(payload) == {"fcmV1Message"}
    wrapper = payload["fcmV1Message"]
    assert set(wrapper) <= {"message", "validate_only"}
    message = wrapper["message"]
    assert set(message) <= FCM_MESSAGE_KEYS, set(message) - FCM_MESSAGE_KEYS
    assert set(message["notification"]) <= FCM_NOTIFICATION_KEYS and "body" not in message["notification"]
    data = message["data"]
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()), "FCM data takes strings only"
    assert not [k for k in data if FCM_RESERVED_DATA.match(k)]
    android = message.get("android", {})
    assert set(android) <= FCM_ANDROID_KEYS
    assert set(android.get("notification", {})) <= FCM_ANDROID_NOTIFICATION_KEYS
    assert DURATION.match(android["ttl"]) and android.get("priority", "HIGH") in {"NORMAL", "HIGH"}
    assert int(attributes["AWS.SNS.MOBILE.FCM.TTL"]["StringValue"]) >= 0


def check_baidu(payload: dict[str, Any], attributes: dict[str, Any]) -> None:
    assert set(payload) <= {"title", "description", "custom_content"}
    assert isinstance(payload["title"], str) and isinstance(payload["description"], str)
    assert isinstance(payload.get("custom_content", {}), dict)


CHECKS = {"APNS": check_apns, "APNS_SANDBOX": check_apns, "GCM": check_fcm_v1, "BAIDU": check_baidu}


def check_published(platform: str, params: dict[str, Any]) -> None:
    """One SNS Publish request to a device of ``platform``, against the documented shapes."""
    assert params["MessageStructure"] == "json"
    assert params["TargetArn"].startswith("arn:aws:sns:")
    message = json.loads(params["Message"])
    assert isinstance(message.get("default"), str)
    assert all(isinstance(v, str) for v in message.values())
    key = MESSAGE_KEYS[platform]
    assert set(message) == {"default", key}
    attributes = params.get("MessageAttributes", {})
    assert all(set(a) == {"DataType", "StringValue"} for a in attributes.values())
    CHECKS[key](json.loads(message[key]), attributes)
