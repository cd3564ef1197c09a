"""`make run`'s stack: tasks, instructions and approval requests over HTTP, with the task
reminder sent by the stack's own reminder schedule, once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

pytestmark = pytest.mark.e2e


def _kinds(stack, user: str, ref_id: str) -> list[str]:
    items = stack.call("GET", "/v1/messages?limit=100", as_=user).json()["items"]
    return sorted(m["kind"] for m in items if (m.get("ref") or {}).get("id") == ref_id)


def test_task_instruction_and_leave_request_over_http(stack):
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=75)
    body = {"title": "e2e: chase the PO", "assignee_ids": ["rep_b"], "due_at": due.strftime("%Y-%m-%dT%H:%M:%SZ")}
    created = stack.call("POST", "/v1/tasks", {**body, "remind_minutes_before": 1}, as_="mgr_east")
    assert created.status_code == 201, created.text
    task = created.json()
    refused = stack.call("POST", "/v1/tasks", {**body, "assignee_ids": ["rep_c"]}, as_="mgr_east")
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "recipient_not_allowed")
    time.sleep(max(0.0, (due - timedelta(seconds=60) - datetime.now(UTC)).total_seconds()) + 11)
    stack.fire("plan_reminders")
    stack.fire("plan_reminders")
    assert _kinds(stack, "rep_b", task["id"]) == ["task_assigned", "task_reminder"]
    done = stack.call("POST", f"/v1/tasks/{task['id']}/complete", as_="rep_b").json()
    assert done["status"] == "done"

    instruction = {"content": "e2e: call back", "recipient_ids": ["rep_b"]}
    sent = stack.call("POST", "/v1/instructions", instruction, as_="mgr_east")
    assert sent.status_code == 201, sent.text
    note = sent.json()
    assert stack.call("POST", f"/v1/instructions/{note['id']}/ack", as_="rep_b").json()["pending_ids"] == []

    leave = {"kind": "leave", "title": "e2e: leave", "from_date": "2031-05-05", "to_date": "2031-05-06"}
    asked = stack.call("POST", "/v1/approval-requests", leave, as_="rep_c")
    assert asked.status_code == 201, asked.text
    request = asked.json()
    waiting = stack.call("GET", "/v1/approval-requests?role=waiting", as_="mgr_west").json()["items"]
    assert request["id"] in [r["id"] for r in waiting]
    decided = stack.call("POST", f"/v1/approval-requests/{request['id']}/approve", {}, as_="mgr_west")
    assert decided.json()["status"] == "approved"
    assert _kinds(stack, "rep_c", request["id"]) == ["approval_result"]
