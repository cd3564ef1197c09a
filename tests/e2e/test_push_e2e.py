"""`make run`'s stack: a message reaches its recipient's phones (the stand-in's SNS), one
push per enabled device, seen through the control endpoint's ``GET /pushes``."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.e2e


def _pushes(stack, user: str) -> list[dict]:
    response = requests.get(f"{stack.control_url}/pushes?tenant_id=acme&user_id={user}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _message_id(push: dict) -> str:
    payload = push["payload"]
    return (
        payload["fcmV1Message"]["message"]["data"]["message_id"] if "fcmV1Message" in payload else payload["message_id"]
    )


def test_approval_request_is_pushed_to_each_device_of_the_manager_within_60_s(stack):
    for installation, platform, token in (
        ("e2e-iphone-mgr-west", "apns", "e2" * 32),
        ("e2e-pixel-mgr-west", "fcm", "e2e-fcm"),
    ):
        r = stack.call("PUT", f"/v1/me/devices/{installation}", {"platform": platform, "token": token}, as_="mgr_west")
        assert r.status_code == 200, r.text
    body = {
        "amount": "42.00",
        "category": "travel",
        "occurred_on": "2026-12-01",
        "unit": {"type": "department", "id": "west"},
    }
    expense = stack.call("POST", "/v1/expenses", body, as_="rep_c").json()
    stack.drain()  # the start-up backlog (the demo seed's stream) is not this message's latency
    started = time.monotonic()
    assert stack.call("POST", f"/v1/expenses/{expense['id']}/submit", {}, as_="rep_c").status_code == 200
    inbox = stack.call("GET", "/v1/messages?limit=100", as_="mgr_west").json()["items"]
    (request,) = [m for m in inbox if m["kind"] == "expense_approval_request" and m["ref"]["id"] == expense["id"]]
    found: list[dict] = []
    while time.monotonic() - started < 60 and len(found) < 2:
        found = [p for p in _pushes(stack, "mgr_west") if _message_id(p) == request["id"]]
        time.sleep(0.5)
    assert sorted(p["installation_id"] for p in found) == ["e2e-iphone-mgr-west", "e2e-pixel-mgr-west"]
    apns = next(p for p in found if p["platform"] == "apns")
    assert apns["payload"]["aps"]["alert"] == {"title": request["title"]}
    assert apns["message_attributes"]["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] == request["id"]
    assert request["body"] not in str(found) or not request["body"]
    # re-delivering the stream changes nothing the phone shows: same collapse id (tests/integration)
    assert stack.call("DELETE", "/v1/me/devices/e2e-iphone-mgr-west", as_="mgr_west").status_code == 204
    devices = stack.call("GET", "/v1/me/devices", as_="mgr_west").json()["items"]
    assert [d["installation_id"] for d in devices] == ["e2e-pixel-mgr-west"]
