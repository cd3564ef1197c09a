"""Push payloads per platform against the documented shapes (tests/push_shapes.py), the TTL
of each kind, quiet hours in tenant time, and the platform table against the vocabulary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.models.devices import PushSettings
from chalicelib.services.push import fanout, payloads
from chalicelib.services.push.platforms import PLATFORMS
from chalicelib.vocabulary import MESSAGE_KINDS, PUSH_PLATFORMS
from tests.push_shapes import check_published

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)


def push(kind: str = "comment", title: str = "A title", ref: bool = True, badge: int = 3) -> payloads.Push:
    return payloads.Push(
        message_id="msg_01ABC", kind=kind, title=title, ref_type="plan" if ref else None,
        ref_id="p1" if ref else None, badge=badge, ttl_s=600,
    )  # fmt: skip


def test_every_vocabulary_platform_has_an_sns_mapping() -> None:
    assert set(PLATFORMS) == set(PUSH_PLATFORMS)


@pytest.mark.parametrize("platform", PUSH_PLATFORMS)
@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_payload_of_every_kind_and_platform_has_the_documented_shape(platform: str, kind: str) -> None:
    message, attributes = payloads.sns_request(PLATFORMS[platform].message_key, push(kind))
    params = {"TargetArn": "arn:aws:sns:us-east-1:1:endpoint/X/y/z", "Message": message}
    check_published(platform, {**params, "MessageStructure": "json", "MessageAttributes": attributes})
    assert kind in json.loads(message)[PLATFORMS[platform].message_key]  # the kind travels, for the app to route


def test_payload_without_ref_and_with_a_long_title_stays_within_the_limits() -> None:
    long = push(title="标题" * 900, ref=False)
    for platform in ("apns", "fcm"):
        message, attributes = payloads.sns_request(PLATFORMS[platform].message_key, long)
        body = json.loads(json.loads(message)[PLATFORMS[platform].message_key])
        assert "ref_type" not in json.dumps(body)
        assert len(json.dumps(body, separators=(",", ":")).encode()) > 4096  # the validator must catch it
        with pytest.raises(AssertionError):
            check_published(platform, {"TargetArn": "arn:aws:sns:x", "Message": message, "MessageStructure": "json",
                                       "MessageAttributes": attributes})  # fmt: skip


@pytest.mark.parametrize("platform", PUSH_PLATFORMS)
def test_a_long_title_is_shortened_so_the_payload_fits(platform: str) -> None:
    title = payloads.shown_title("标题" * 900)
    assert len(title) == payloads.TITLE_MAX_CHARS and title.endswith("…")
    message, attributes = payloads.sns_request(PLATFORMS[platform].message_key, push(title=title, badge=99999))
    check_published(platform, {"TargetArn": "arn:aws:sns:x", "Message": message, "MessageStructure": "json",
                               "MessageAttributes": attributes})  # fmt: skip


def test_shape_check_refuses_a_body_and_non_string_fcm_data() -> None:
    message, attributes = payloads.sns_request("GCM", push())
    outer = json.loads(message)
    fcm = json.loads(outer["GCM"])
    fcm["fcmV1Message"]["message"]["data"]["badge"] = 3
    bad = {"TargetArn": "arn:aws:sns:x", "MessageStructure": "json", "MessageAttributes": attributes}
    with pytest.raises(AssertionError):
        check_published("fcm", {**bad, "Message": json.dumps({**outer, "GCM": json.dumps(fcm)})})
    apns_message, apns_attributes = payloads.sns_request("APNS", push())
    apns = json.loads(json.loads(apns_message)["APNS"])
    apns["aps"]["alert"]["body"] = "the body"
    with pytest.raises(AssertionError):
        check_published("apns", {**bad, "MessageAttributes": apns_attributes,
                                 "Message": json.dumps({"default": "t", "APNS": json.dumps(apns)})})  # fmt: skip


def test_ttl_follows_the_kind_and_a_reminders_start() -> None:
    assert payloads.ttl_for("approval_request", None, NOW) == 3 * 24 * 3600
    assert payloads.ttl_for("team_digest", None, NOW) == 12 * 3600
    assert payloads.ttl_for("mention", None, NOW) == 24 * 3600
    start = (NOW + timedelta(minutes=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert payloads.ttl_for("plan_reminder", start, NOW) == 420
    assert payloads.ttl_for("plan_reminder", (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ"), NOW) == 0


@pytest.mark.parametrize(
    ("window", "utc", "quiet"),
    [
        (("22:00", "07:00"), "15:30", True),  # 23:30 in Shanghai
        (("22:00", "07:00"), "22:59", True),  # 06:59
        (("22:00", "07:00"), "23:00", False),  # 07:00: the window ends
        (("22:00", "07:00"), "04:00", False),  # 12:00
        (("12:00", "14:00"), "04:30", True),  # 12:30
        (("12:00", "14:00"), "06:00", False),  # 14:00
        (("09:00", "09:00"), "01:00", False),  # no window
    ],
)
def test_quiet_hours_are_tenant_time_and_wrap_midnight(window: tuple[str, str], utc: str, quiet: bool) -> None:
    prefs = PushSettings(tenant_id="acme", user_id="u", quiet_from=window[0], quiet_to=window[1], zone="Asia/Shanghai")
    hour, minute = map(int, utc.split(":"))
    now = NOW.replace(hour=hour, minute=minute)
    assert fanout.in_quiet_hours(prefs, now) is quiet
    assert fanout.wanted("comment", prefs, now) is not quiet
    assert fanout.wanted("plan_reminder", prefs, now) and fanout.wanted("task_reminder", prefs, now)


def test_muted_kinds_are_not_wanted_but_reminders_always_are() -> None:
    prefs = PushSettings(tenant_id="acme", user_id="u", muted_kinds=["comment", "plan_reminder"])
    assert not fanout.wanted("comment", prefs, NOW)
    assert fanout.wanted("mention", prefs, NOW)
    assert fanout.wanted("plan_reminder", prefs, NOW)
