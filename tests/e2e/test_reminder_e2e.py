"""`make run`'s stack: its own every-minute scheduler delivers a plan reminder, once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from local.switches import time_scale

pytestmark = pytest.mark.e2e


def _reminders(stack, plan_id: str) -> list[dict]:
    response = stack.call("GET", "/v1/messages?limit=100", as_="rep_b")
    assert response.status_code == 200
    return [m for m in response.json()["items"] if m["kind"] == "plan_reminder" and m["ref"]["id"] == plan_id]


def test_local_scheduler_delivers_plan_reminder_once_within_90_seconds(stack):
    start = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = stack.call(
        "POST",
        "/v1/plans",
        {"title": "e2e: call the buyer", "start_time": start, "remind_minutes_before": 2},
        as_="rep_b",
    )
    assert response.status_code == 201, response.text
    plan = response.json()
    due = datetime.strptime(plan["remind_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

    # No manual firing: the stack's scheduler runs plan_reminders on the wall-clock minute
    # (a run's fan-out takes longer on moto as shipped: its bound is scaled like the stack's time).
    deadline = due + timedelta(seconds=100 * time_scale())
    found: list[dict] = []
    while not found and datetime.now(UTC) < deadline:
        time.sleep(2)
        found = _reminders(stack, plan["id"])
    assert found, "no plan_reminder within 100 s of its due time"
    delivered = datetime.strptime(found[0]["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert (delivered - due).total_seconds() <= 90 * time_scale()

    # The schedule firing again (twice) delivers nothing more.
    stack.fire("plan_reminders")
    stack.fire("plan_reminders")
    assert len(_reminders(stack, plan["id"])) == 1
    unread = stack.call("GET", "/v1/messages?unread=true", as_="rep_b").json()
    assert unread["unread_count"] >= 1

    # Cancelling another plan before its reminder means it never arrives.
    start = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    other = stack.call(
        "POST", "/v1/plans", {"title": "e2e: cancelled", "start_time": start, "remind_minutes_before": 2}, as_="rep_b"
    ).json()
    assert stack.call("PATCH", f"/v1/plans/{other['id']}", {"status": "cancelled"}, as_="rep_b").status_code == 200
    time.sleep(11)
    stack.fire("plan_reminders")
    assert _reminders(stack, other["id"]) == []
