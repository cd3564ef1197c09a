"""Plan reminders: due-index delivery, exactly once, catch-up, moves and cancels."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from chalicelib.models.schedule import REMIND_SHARDS
from chalicelib.services.inbox import messages
from chalicelib.services.schedule import reminders
from chalicelib.services.schedule import schedule as schedule_service
from tests.support import REP_A, START_LOCAL, at, make_plan, reminders_for


def tapped_events(aws: dict[str, str], detail_type: str) -> list[dict]:
    sqs = boto3.client("sqs")
    found = []
    while True:
        got = sqs.receive_message(QueueUrl=aws["events_tap"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        for m in got:
            body = json.loads(m["Body"])
            if body.get("detail-type") == detail_type:
                found.append(body)
            sqs.delete_message(QueueUrl=aws["events_tap"], ReceiptHandle=m["ReceiptHandle"])


def test_create_plan_with_reminder_stores_due_time_in_utc(api):
    plan = make_plan(api)
    assert plan["date"] == "2030-01-15"
    assert plan["start_time"] == "2030-01-15T01:30:00Z"
    assert plan["remind_at"] == "2030-01-15T01:00:00Z"


def test_reminder_job_before_due_time_delivers_nothing(api):
    make_plan(api)
    result = reminders.run(now=at(-60))
    assert result.delivered == 0
    assert reminders_for("rep_a") == []


def test_reminder_job_after_due_time_delivers_one_message_and_one_event(api, aws):
    plan = make_plan(api)
    reminders.run(now=at(-120))
    result = reminders.run(now=at(30))
    assert result.delivered == 1
    [message] = reminders_for("rep_a")
    assert message.ref_type == "plan" and message.ref_id == plan["id"]
    assert "09:30" in message.body
    events = tapped_events(aws, "plan.reminder_due")
    assert [e["detail"]["plan_id"] for e in events] == [plan["id"]]
    assert events[0]["detail"]["tenant_id"] == "acme"
    status, inbox = api.get("/v1/messages?unread=true")
    assert status == 200 and inbox["unread_count"] == 1
    assert inbox["items"][0]["kind"] == "plan_reminder"
    assert inbox["items"][0]["ref"] == {"type": "plan", "id": plan["id"]}


def test_reminder_job_fired_twice_delivers_exactly_once(api, aws):
    make_plan(api)
    reminders.run(now=at(-120))
    first = reminders.run(now=at(30))
    second = reminders.run(now=at(30))
    assert (first.delivered, second.delivered) == (1, 0)
    assert len(reminders_for("rep_a")) == 1
    assert len(tapped_events(aws, "plan.reminder_due")) == 1
    assert messages.unread_count("acme", "rep_a") == 1


def test_reminder_job_racing_runs_and_a_retry_from_scratch_deliver_exactly_once(api, aws, monkeypatch):
    for _ in range(5):
        make_plan(api)
    reminders.run(now=at(-120))
    # Run B fires and finishes while run A is between reading the bucket and delivering.
    original, raced = reminders.deliver, []

    def deliver_after_a_racing_run(plan, zone):
        if not raced:
            raced.append(None)
            raced[0] = reminders.run(now=at(31))
        return original(plan, zone)

    monkeypatch.setattr(reminders, "deliver", deliver_after_a_racing_run)
    monkeypatch.setattr(reminders, "WORKERS", 1)  # moto's transactions are not atomic across threads
    run_a = reminders.run(now=at(30))
    assert raced[0].delivered + run_a.delivered == 5
    # A retried run that lost its checkpoint re-reads the window: still nothing new.
    from chalicelib.models.schedule import ReminderCheckpoint

    for shard in range(REMIND_SHARDS):  # every shard's checkpoint
        ReminderCheckpoint.get(*ReminderCheckpoint.key_of(shard)).delete()
    retry = reminders.run(now=at(40))
    assert retry.due == 5 and retry.delivered == 0
    assert len(reminders_for("rep_a")) == 5
    assert len(tapped_events(aws, "plan.reminder_due")) == 5
    assert messages.unread_count("acme", "rep_a") == 5


def test_reminder_job_after_missed_runs_catches_up(api):
    make_plan(api)
    reminders.run(now=at(-120))
    # the runs at due+0 .. due+4 min never happened
    result = reminders.run(now=at(5 * 60))
    assert result.delivered == 1
    assert result.buckets >= 6  # every missed minute was read, one query each
    assert len(reminders_for("rep_a")) == 1


def test_reminder_delivered_within_90_seconds_of_due_time_at_minute_cadence(api):
    make_plan(api, start="2030-01-15T09:30:50+08:00")  # due 01:00:50 UTC
    delivered_at = None
    for minute in range(-2, 4):
        now = datetime(2030, 1, 15, 1, 0, 1, tzinfo=UTC) + timedelta(minutes=minute)
        if reminders.run(now=now).delivered:
            delivered_at = now
            break
    assert delivered_at is not None
    assert (delivered_at - at(50)).total_seconds() <= 90


def test_editing_plan_start_moves_the_reminder(api):
    plan = make_plan(api)
    reminders.run(now=at(-120))
    status, body = api.patch(f"/v1/plans/{plan['id']}", {"start_time": "2030-01-15T10:30:00+08:00"})
    assert status == 200, body
    assert body["remind_at"] == "2030-01-15T02:00:00Z"
    assert reminders.run(now=at(60)).delivered == 0  # the old due time is empty
    assert reminders.run(now=at(3600 + 30)).delivered == 1
    [message] = reminders_for("rep_a")
    assert "10:30" in message.body


def test_editing_remind_minutes_moves_the_reminder_earlier(api):
    plan = make_plan(api)
    reminders.run(now=at(-3600))
    status, body = api.patch(f"/v1/plans/{plan['id']}", {"remind_minutes_before": 60})
    assert status == 200 and body["remind_at"] == "2030-01-15T00:30:00Z"
    assert reminders.run(now=at(-1800 + 20)).delivered == 1


def test_cancelling_plan_cancels_the_reminder(api):
    plan = make_plan(api)
    reminders.run(now=at(-120))
    status, body = api.patch(f"/v1/plans/{plan['id']}", {"status": "cancelled"})
    assert status == 200 and body["status"] == "cancelled" and body["remind_at"] is None
    assert reminders.run(now=at(60)).due == 0
    assert reminders_for("rep_a") == []


def test_removing_remind_minutes_disarms_the_reminder(api):
    plan = make_plan(api)
    reminders.run(now=at(-120))
    status, body = api.patch(f"/v1/plans/{plan['id']}", {"remind_minutes_before": None})
    assert status == 200 and body["remind_at"] is None
    assert reminders.run(now=at(60)).due == 0


def test_reminders_of_several_tenants_each_reach_their_own_user(api):
    make_plan(api, as_="rep_a")
    status, _ = api.post(
        "/v1/plans",
        {"title": "Globex call", "start_time": START_LOCAL, "remind_minutes_before": 30},
        as_="rep_x",
        tenant="globex",
    )
    assert status == 201
    reminders.run(now=at(-120))
    assert reminders.run(now=at(30)).delivered == 2
    assert len(reminders_for("rep_a")) == 1
    assert len(reminders_for("rep_x", "globex")) == 1


def test_plan_created_after_its_reminder_time_is_reminded_at_once(api):
    reminders.run(now=datetime.now(UTC) - timedelta(minutes=1))
    start = (datetime.now(UTC) + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = make_plan(api, start=start, remind=30)
    assert plan["remind_at"] is not None
    assert reminders.run(now=datetime.now(UTC) + timedelta(seconds=reminders.LAG_S + 1)).delivered == 1


def test_plan_already_started_gets_no_reminder(api):
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plan = make_plan(api, start=start, remind=30)
    assert plan["remind_at"] is None


def test_schedule_handler_invoked_twice_by_chalice_delivers_once(api, chalice_client, drain_work):
    start = (datetime.now(UTC) + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    make_plan(api, start=start, remind=2)  # due now
    reminders._advance_checkpoint(
        (datetime.now(UTC) - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"), datetime.now(UTC)
    )
    import time

    time.sleep(reminders.LAG_S + 1)
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    # the dispatcher queues one task per due-index shard; the worker delivers (as SQS would)
    first = chalice_client.lambda_.invoke("plan_reminders", event)
    assert first.payload == {"queued": REMIND_SHARDS}
    assert drain_work() >= 2  # 16 tasks, 10 a batch
    assert len(reminders_for("rep_a")) == 1
    second = chalice_client.lambda_.invoke("plan_reminders", event)
    assert second.payload == {"queued": REMIND_SHARDS}
    drain_work()
    assert len(reminders_for("rep_a")) == 1


@pytest.mark.parametrize("stored", [10, 60])
def test_reminder_job_requests_do_not_grow_with_stored_plans(api, ddb_requests, stored):
    principal = REP_A
    for i in range(stored):  # plans far in the future: stored, not due
        schedule_service.create_plan(
            principal,
            schedule_service.NewPlan(
                date_=None, title=f"later {i}", start_time="2031-06-01T09:00:00+08:00", remind_minutes_before=10
            ),
        )
    for _ in range(3):
        make_plan(api)
    reminders.run(now=at(-50))  # the previous minute's run
    ddb_requests.reset()
    result = reminders.run(now=at(30))
    assert result.delivered == 3
    # per due-index shard: checkpoint get + 2 bucket queries + checkpoint put; then 3 sends
    # (the time zone is stored with each reminder: no settings read)
    assert ddb_requests.total == REMIND_SHARDS * 4 + 3, ddb_requests.calls
    assert ddb_requests.calls.count("Query") == REMIND_SHARDS * 2
