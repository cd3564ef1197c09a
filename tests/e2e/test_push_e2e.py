"""`make run`'s stack over HTTP: every message kind reaches each enabled device of its
recipient once (the stand-in's SNS, read through the control endpoint's ``GET /pushes``),
within 60 s; a re-delivered stream record publishes again with the same collapse id; a
muted kind and quiet hours publish nothing but reminders; a deactivated user's devices
get nothing. Time-bound kinds are fired through the control endpoint: the reminder
schedule (``POST /fire/plan_reminders``, reminders due at once) and the tenant's
``team_digest`` whatever its hour (``POST /fire/team_digest?tenant_id=acme``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from chalicelib.services.schedule.reminders import LAG_S
from chalicelib.vocabulary import MESSAGE_KINDS

pytestmark = pytest.mark.e2e

ZONE = ZoneInfo("Asia/Shanghai")  # the demo tenant's zone
PHONES = {
    "rep_c": (("e2e-iphone-rep-c", "apns", "c1" * 32), ("e2e-pixel-rep-c", "fcm", "e2e-fcm-rep-c")),
    "mgr_west": (("e2e-iphone-mgr-west", "apns", "e2" * 32), ("e2e-pixel-mgr-west", "fcm", "e2e-fcm-mgr-west")),
    "rep_b": (("e2e-iphone-rep-b", "apns", "b1" * 32),),
    "rep_a": (("e2e-pixel-rep-a", "fcm", "e2e-fcm-rep-a"),),
}


def _pushes(stack, user: str) -> list[dict]:
    response = requests.get(f"{stack.control_url}/pushes?tenant_id=acme&user_id={user}", timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def _message_id(push: dict) -> str:
    payload = push["payload"]
    return (
        payload["fcmV1Message"]["message"]["data"]["message_id"] if "fcmV1Message" in payload else payload["message_id"]
    )


def _collapse_id(push: dict) -> str:
    if push["platform"] == "fcm":
        return push["payload"]["fcmV1Message"]["message"]["android"]["collapse_key"]
    return push["message_attributes"]["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"]


def _ok(response: requests.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def _register(stack, user: str) -> None:
    for installation, platform, token in PHONES[user]:
        body = {"platform": platform, "token": token}
        _ok(stack.call("PUT", f"/v1/me/devices/{installation}", body, as_=user))


def _inbox(stack, user: str, since: str) -> list[dict]:
    items = _ok(stack.call("GET", "/v1/messages?limit=100", as_=user))["items"]
    return [m for m in items if m["created_at"] >= since]


def _drain(stack) -> None:
    """Deliver everything pending; on a busy machine the first drain (the seed's backlog)
    may outlast the client's wait: the stack goes on delivering, ask again."""
    for attempt in range(3):
        try:
            stack.drain()
            return
        except requests.exceptions.ReadTimeout:
            if attempt == 2:
                raise


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait_for(stack, user: str, message_ids: set[str], per_message: int) -> dict[str, list[dict]]:
    """The user's pushes by message id, once each of ``message_ids`` has ``per_message`` of
    them (or 60 s passed)."""
    started = time.monotonic()
    while True:
        found: dict[str, list[dict]] = {m: [] for m in message_ids}
        for push in _pushes(stack, user):
            if _message_id(push) in found:
                found[_message_id(push)].append(push)
        if all(len(p) >= per_message for p in found.values()) or time.monotonic() - started > 60:
            return found
        time.sleep(0.5)


# ---------------------------------------------------------------- every kind
def _expense_kinds(stack) -> None:
    """expense_approval_request, budget_alert (mgr_west); expense_result, expense_paid (rep_c)."""
    period = "1986-03"  # a month of its own: nothing else the stack holds touches this budget
    budget = {"amount": "50.00", "currency": "CNY", "mode": "warn", "thresholds": [50]}
    _ok(stack.call("PUT", f"/v1/budgets/department/west/{period}", budget, as_="fin"))
    body = {"amount": "42.00", "category": "travel", "occurred_on": f"{period}-10"}
    expense = _ok(
        stack.call("POST", "/v1/expenses", {**body, "unit": {"type": "department", "id": "west"}}, as_="rep_c"), 201
    )
    _ok(stack.call("POST", f"/v1/expenses/{expense['id']}/submit", {}, as_="rep_c"))
    stack.fire("budget_alerts")
    _ok(stack.call("POST", f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_west"))
    paid = {"type": "expense.payment_updated", "data": {"expense_id": expense["id"], "status": "paid"}}
    sent = requests.post(f"{stack.finance_url}/send", json=paid, timeout=60)
    assert sent.status_code == 200 and sent.json()["status"] == 200, sent.text


def _collab_kinds(stack, now: datetime) -> None:
    """task_assigned, task_reminder, instruction, approval_result (rep_c); approval_request,
    report_received (mgr_west); plan_reminder (rep_c)."""
    soon = _at(now + timedelta(minutes=10))  # a reminder 30 minutes ahead of it: due at once
    task = {"title": "e2e push: chase the PO", "assignee_ids": ["rep_c"], "due_at": soon, "remind_minutes_before": 30}
    _ok(stack.call("POST", "/v1/tasks", task, as_="mgr_west"), 201)
    plan = {"title": "e2e push: visit", "start_time": soon, "remind_minutes_before": 30}
    _ok(stack.call("POST", "/v1/plans", plan, as_="rep_c"), 201)
    instruction = {"content": "e2e push: call the buyer", "recipient_ids": ["rep_c"]}
    _ok(stack.call("POST", "/v1/instructions", instruction, as_="mgr_west"), 201)
    leave = {"kind": "leave", "title": "e2e push: leave", "from_date": "2031-06-05", "to_date": "2031-06-06"}
    request = _ok(stack.call("POST", "/v1/approval-requests", leave, as_="rep_c"), 201)
    _ok(stack.call("POST", f"/v1/approval-requests/{request['id']}/approve", {}, as_="mgr_west"))
    template = {
        "name": "E2E push daily",
        "period": "daily",
        "due_time": "23:59",
        "fields": [{"key": "summary", "label": "Summary", "type": "text"}],
    }
    _ok(stack.call("PUT", "/v1/admin/report-templates/e2e_push_daily", template, as_="admin"))
    day = now.astimezone(ZONE).date().isoformat()
    report = {"template_id": "e2e_push_daily", "period_start": day, "values": {"summary": "e2e"}}
    _ok(stack.call("POST", "/v1/reports", report, as_="rep_c"), 201)
    time.sleep(LAG_S + 1.5)  # the reminders are due at the second they were made; the run reads LAG_S behind
    stack.fire("plan_reminders")


def _feed_and_goal_kinds(stack, now: datetime) -> None:
    """comment, mention, goal_alert (rep_c); team_digest (mgr_west)."""
    month = now.astimezone(ZONE).strftime("%Y-%m")
    _ok(stack.call("PUT", f"/v1/goals/user/rep_c/{month}", {"targets": {"new_opportunities": 1}}, as_="mgr_west"))
    account = _ok(stack.call("POST", "/v1/accounts", {"name": "E2E push shop"}, as_="rep_c"), 201)
    opportunity = {"name": "E2E push deal", "account_id": account["id"], "stage": "qualify"}
    _ok(stack.call("POST", "/v1/opportunities", opportunity, as_="rep_c"), 201)
    activity = {
        "type": "sales_record",
        "content": "e2e push visit",
        "related": [{"type": "account", "id": account["id"]}],
    }
    act = _ok(stack.call("POST", "/v1/activities", activity, as_="rep_c"), 201)
    comment = {"content": "well done @rep_c", "mentions": ["rep_c"]}
    _ok(stack.call("POST", f"/v1/activities/{act['id']}/comments", comment, as_="mgr_west"), 201)
    fired = requests.post(f"{stack.control_url}/fire/team_digest?tenant_id=acme", timeout=120)
    assert fired.status_code == 200, fired.text


def test_every_message_kind_reaches_each_enabled_device_once_and_a_redelivery_collapses(stack):
    for user in ("rep_c", "mgr_west"):
        _register(stack, user)
    _drain(stack)  # the start-up backlog (the demo seed's stream) is not this test's
    time.sleep(1.1)
    now = datetime.now(UTC)
    since = _at(now)
    _expense_kinds(stack)
    _collab_kinds(stack, now)
    _feed_and_goal_kinds(stack, now)
    _drain(stack)

    inboxes = {user: _inbox(stack, user, since) for user in ("rep_c", "mgr_west")}
    kinds = {m["kind"] for items in inboxes.values() for m in items}
    assert kinds == set(MESSAGE_KINDS), sorted(set(MESSAGE_KINDS) - kinds)
    for user, items in inboxes.items():
        found = _wait_for(stack, user, {m["id"] for m in items}, per_message=len(PHONES[user]))
        phones = sorted(installation for installation, _, _ in PHONES[user])
        for message in items:
            pushes = found[message["id"]]
            assert sorted(p["installation_id"] for p in pushes) == phones, (user, message["kind"])
            assert {_collapse_id(p) for p in pushes} == {message["id"]}
            assert not message["body"] or message["body"] not in str(pushes)  # never the body

    # a stream record delivered again publishes again, with the same collapse id
    note = {"content": "e2e push: once more", "recipient_ids": ["rep_c"]}
    _ok(stack.call("POST", "/v1/instructions", note, as_="mgr_west"), 201)
    _drain(stack)
    (message,) = [m for m in _inbox(stack, "rep_c", since) if m["body"] == note["content"]]
    assert len(_wait_for(stack, "rep_c", {message["id"]}, per_message=2)[message["id"]]) == 2
    again = stack.redeliver(last=100)
    assert again["redelivered"] > 0
    pushes = _wait_for(stack, "rep_c", {message["id"]}, per_message=4)[message["id"]]
    assert sorted(p["installation_id"] for p in pushes) == sorted(2 * [i for i, _, _ in PHONES["rep_c"]])
    assert {_collapse_id(p) for p in pushes} == {message["id"]}


# ---------------------------------------------------------------- what is not pushed
def test_muted_kind_and_quiet_hours_push_nothing_but_reminders(stack):
    _register(stack, "rep_b")
    local = datetime.now(UTC).astimezone(ZONE)
    quiet = {
        "from": (local - timedelta(hours=1)).strftime("%H:%M"),
        "to": (local + timedelta(hours=1)).strftime("%H:%M"),
    }
    _ok(
        stack.call(
            "PUT", "/v1/me/notification-settings", {"muted_kinds": ["instruction"], "quiet_hours": quiet}, as_="rep_b"
        )
    )
    _drain(stack)
    time.sleep(1.1)
    now = datetime.now(UTC)
    since = _at(now)
    _ok(
        stack.call("POST", "/v1/instructions", {"content": "e2e muted", "recipient_ids": ["rep_b"]}, as_="mgr_east"),
        201,
    )
    soon = _at(now + timedelta(minutes=10))
    task = {"title": "e2e quiet", "assignee_ids": ["rep_b"], "due_at": soon, "remind_minutes_before": 30}
    _ok(stack.call("POST", "/v1/tasks", task, as_="mgr_east"), 201)  # task_assigned: in quiet hours
    time.sleep(LAG_S + 1.5)
    stack.fire("plan_reminders")  # task_reminder: pushed all the same
    _drain(stack)
    inbox = {m["kind"]: m for m in _inbox(stack, "rep_b", since)}
    assert {"instruction", "task_assigned", "task_reminder"} <= set(inbox)  # all still in the inbox
    found = _wait_for(stack, "rep_b", {m["id"] for m in inbox.values()}, per_message=1)
    assert [k for k, m in inbox.items() if found[m["id"]]] == ["task_reminder"]


def test_a_deactivated_users_devices_get_nothing(stack):
    _register(stack, "rep_a")
    account = _ok(stack.call("POST", "/v1/accounts", {"name": "E2E push: rep_a's shop"}, as_="rep_a"), 201)
    activity = {"type": "sales_record", "content": "e2e visit", "related": [{"type": "account", "id": account["id"]}]}
    act = _ok(stack.call("POST", "/v1/activities", activity, as_="rep_a"), 201)
    _drain(stack)
    before = len(_pushes(stack, "rep_a"))
    since = _at(datetime.now(UTC))
    handover = requests.post(  # the first page of the handover runs in the request: a longer timeout
        f"{stack.base_url}/v1/admin/users/rep_a/deactivate",
        json={"handover_to": "rep_b"},
        headers=stack.headers("admin"),
        timeout=180,
    )
    _ok(handover)
    # a comment on rep_a's activity makes a message for rep_a, the activity's author
    _ok(stack.call("POST", f"/v1/activities/{act['id']}/comments", {"content": "e2e after"}, as_="mgr_east"), 201)
    _drain(stack)
    time.sleep(2)
    _drain(stack)
    assert len(_pushes(stack, "rep_a")) == before
    _ok(stack.call("POST", "/v1/admin/users/rep_a/reactivate", {}, as_="admin"))
    assert [m["kind"] for m in _inbox(stack, "rep_a", since)] == ["comment"]  # it was made, not pushed
