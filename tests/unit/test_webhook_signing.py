"""Outbound webhook rules that need no AWS: target restrictions, backoff, signatures."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from chalicelib.services.integrations import webhooks

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://172.16.5.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://0.0.0.0/hook",
        "http://8.8.8.8/hook",
        "ftp://8.8.8.8/hook",
        "https:///nohost",
    ],
)
def test_target_in_deployed_stage_refuses_non_public_or_plain_http(url):
    allowed, why = webhooks.target_allowed(url, allow_private=False)
    assert not allowed and why


def test_target_public_https_is_allowed_and_local_stage_allows_loopback():
    assert webhooks.target_allowed("https://8.8.8.8/hook", allow_private=False) == (True, "")
    assert webhooks.target_allowed("http://127.0.0.1:8002/hook", allow_private=True) == (True, "")


def test_backoff_doubles_per_attempt_and_caps_at_12_hours(monkeypatch):
    monkeypatch.setenv("WEBHOOK_BACKOFF_BASE_S", "30")
    assert [webhooks.backoff_s(a) for a in range(1, 5)] == [60, 120, 240, 480]
    assert webhooks.backoff_s(20) == 12 * 3600


def test_signature_verifies_with_reference_library_and_id_is_stable():
    payload = json.dumps({"type": "expense.approved", "timestamp": "2026-11-22T09:30:00Z", "data": {"id": "e"}})
    webhook_id = webhooks.stable_id("expense.approved", "exp_1")
    assert webhook_id == webhooks.stable_id("expense.approved", "exp_1") != webhooks.stable_id("x", "exp_1")
    headers = webhooks.sign(SECRET, webhook_id, datetime.now(UTC), payload)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(payload, headers)["data"] == {"id": "e"}
