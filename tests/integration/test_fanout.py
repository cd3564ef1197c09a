"""Schedules that fan out (services/platform/fanout.py): the dispatchers read only what
is due, the worker runs each task with a deadline and a checkpoint, a big tenant's digest
spans invocations, a failed task is redelivered alone, and every message stays exactly once."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import boto3

from chalicelib.config import work_queue_name
from chalicelib.models.digest import TenantEntry
from chalicelib.models.fanout import FanoutCheckpoint
from chalicelib.models.messages import Message
from chalicelib.services.org import org
from chalicelib.services.performance import digest
from chalicelib.services.platform import fanout
from tests.support import plant_checkin
from tests.support import stored_messages_of as messages_of

DAY = date(2030, 3, 14)
AT_8_SHANGHAI = datetime(2030, 3, 14, 0, 30, tzinfo=UTC)  # 08:30 Shanghai, 20:30 New York


class Expired(fanout.Deadline):
    """A deadline that has always just passed: every step stops after one unit."""

    def expired(self) -> bool:
        return True


def quiet_everyone() -> None:
    for user in ("rep_a", "rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "fin"):
        plant_checkin(user, "2030-03-01")


def test_digest_dispatcher_reads_only_the_zones_at_0800_and_the_zone_moves_with_the_settings(api, ddb_requests):
    TenantEntry.register("acme", "Asia/Shanghai")
    TenantEntry.register("globex", "Asia/Shanghai")
    org.put_settings("globex", {"timezone": "America/New_York"})  # moves it in the zone index, same write
    TenantEntry.register("initech", "Asia/Kolkata")  # 06:00 there: not yet
    ddb_requests.reset()
    tasks = digest.due_tasks(AT_8_SHANGHAI)
    assert sorted(t.params["tenant_id"] for t in tasks) == ["acme"]
    assert tasks[0].params["day"] == "2030-03-14"
    # one Query per zone whose local hour is 8 (none per tenant, no settings read)
    assert set(ddb_requests.calls) == {"Query"}
    assert len(ddb_requests.calls) == len(digest.zones_at(AT_8_SHANGHAI)) < 60
    at_8_new_york = datetime(2030, 3, 14, 12, 30, tzinfo=UTC)  # 08:30 EDT
    assert [t.params["tenant_id"] for t in digest.due_tasks(at_8_new_york)] == ["globex"]


def test_a_big_tenants_digest_spans_invocations_from_its_checkpoint_exactly_once(api):
    quiet_everyone()
    task = fanout.Task(digest.KIND, "acme#2030-03-14", {"tenant_id": "acme", "day": DAY.isoformat()})
    runs, follow = 0, task
    while follow is not None:  # each invocation sends one manager's digest, then its deadline passes
        follow = fanout.run_task(follow, digest.work, Expired())
        runs += 1
        assert runs < 20
    bosses = {"mgr_east", "mgr_west", "vp", "ceo"}
    assert runs == len(bosses)  # the last manager's run ends with nothing left: no extra run
    assert all(len(messages_of(b, "team_digest")) == 1 for b in bosses)
    checkpoint = FanoutCheckpoint.fetch(digest.KIND, task.key)
    assert checkpoint is not None and checkpoint.done
    # a redelivered message of the finished task is acknowledged without work
    assert fanout.run_task(task, lambda t, d: (_ for _ in ()).throw(AssertionError("ran again")), Expired()) is None
    assert all(len(messages_of(b, "team_digest")) == 1 for b in bosses)


def test_worker_reports_only_the_failed_task_and_its_redelivery_finishes_the_work(api, chalice_client, drain_work):
    quiet_everyone()
    TenantEntry.register("acme", "Asia/Shanghai")
    TenantEntry.register("broken", "Asia/Shanghai")
    boto3.resource("dynamodb").Table(TenantEntry.Meta.table_name).put_item(
        Item={
            "PK": "T#broken#TENANT",
            "SK": "SETTINGS",
            "entity": "TenantSettings",
            "tenant_id": "broken",
            "timezone": "Asia/Shanghai",
            "inactive_days": "many",
        }
    )
    tasks = digest.due_tasks(AT_8_SHANGHAI)
    records = [(f"m{i}", t.body()) for i, t in enumerate(tasks)]
    outcome = chalice_client.lambda_.invoke(
        "fanout_worker",
        {
            "Records": [
                {
                    "messageId": m,
                    "receiptHandle": m,
                    "body": b,
                    "attributes": {},
                    "messageAttributes": {},
                    "md5OfBody": "",
                    "eventSource": "aws:sqs",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{work_queue_name()}",
                }
                for m, b in records
            ]
        },
    ).payload
    broken = next(m for (m, _), t in zip(records, tasks, strict=True) if t.params["tenant_id"] == "broken")
    assert outcome == {"batchItemFailures": [{"itemIdentifier": broken}]}
    drain_work()  # a step cut by its deadline (a slow machine) continues as a queued message
    assert len(messages_of("mgr_east", "team_digest")) == 1


def test_dispatchers_queue_tasks_the_local_pump_delivers_to_the_worker(api, chalice_client, drain_work):
    quiet_everyone()
    TenantEntry.register("acme", "Asia/Shanghai")
    fanout.enqueue(digest.due_tasks(AT_8_SHANGHAI))
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=work_queue_name())["QueueUrl"]
    queued = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert queued["Attributes"]["ApproximateNumberOfMessages"] == "1"
    assert drain_work() == 1
    assert {m.user_id for m in Message.scan() if isinstance(m, Message) and m.kind == "team_digest"} == {
        "mgr_east",
        "mgr_west",
        "vp",
        "ceo",
    }
    fanout.enqueue(digest.due_tasks(AT_8_SHANGHAI))  # fired twice: nothing more
    drain_work()
    assert len(messages_of("ceo", "team_digest")) == 1


def test_a_task_body_round_trips_and_a_deadline_follows_the_lambda_context():
    task = fanout.Task("k", "a#b", {"shard": 3}, cursor=json.dumps({"PK": {"S": "x"}}))
    assert fanout.Task.from_body(task.body()) == task

    class Context:
        def __init__(self, ms: int) -> None:
            self.ms = ms

        def get_remaining_time_in_millis(self) -> int:
            return self.ms

    assert fanout.Deadline.of(Context(0)).expired()
    assert not fanout.Deadline.of(Context(120_000)).expired()
    assert fanout.Deadline.of(Context(120_000)).budget_s == 120 * fanout.SHARE
    assert not fanout.Deadline.of(None).expired()
