"""The push platforms a device may name (``vocabulary.PushPlatform``) and how Amazon SNS
reaches each: its platform-application type and the key of its payload in a
``MessageStructure=json`` message.

The local stack creates one platform application per entry (local/resources.py), and
infra/fieldsales_infra/push.py restates the same table for the deployed stack (a drift
test in tests/infra compares them). A platform with no application configured (no
``PUSH_APP_ARN_<PLATFORM>``) still registers devices; their pushes are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PushPlatformSpec:
    platform: str  # the API's name
    sns_platform: str  # CreatePlatformApplication's Platform
    message_key: str  # the key of this platform's payload in a MessageStructure=json message


PLATFORMS: dict[str, PushPlatformSpec] = {
    spec.platform: spec
    for spec in (
        PushPlatformSpec("apns", "APNS", "APNS"),
        PushPlatformSpec("apns_sandbox", "APNS_SANDBOX", "APNS_SANDBOX"),
        PushPlatformSpec("fcm", "GCM", "GCM"),  # FCM HTTP v1 through SNS's GCM type (fcmV1Message)
        PushPlatformSpec("baidu", "BAIDU", "BAIDU"),  # a vendor channel for phones without Google services
    )
}


def application_name(stage: str, platform: str) -> str:
    """The platform application's name: the same locally and deployed."""
    return f"fieldsales-{stage}-{platform.replace('_', '-')}"
