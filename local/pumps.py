"""What AWS does between services, done locally (moto runs no triggers, see NOTES.md).

Each pump reads the Chalice app's own event-source registrations, so a new schedule,
rule, queue or stream consumer is wired locally the moment it is declared:
- schedules fire on their cadence (minute rates on the wall-clock minute);
- new S3 objects become the EventBridge ``Object Created`` event AWS sends;
- events the app puts on the bus reach matching ``on_cw_event`` handlers;
- DynamoDB stream records reach ``on_dynamodb_record`` handlers in batches, honouring
  ``batchItemFailures``;
- SQS messages reach ``on_sqs_message`` handlers; a failure leaves the message for
  redelivery (the queue's redrive policy moves it to its DLQ).
"""

from __future__ import annotations

import importlib
import json
import threading
import time
import uuid
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

import boto3

from chalicelib import limits
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.flows.streamdlq import BatchInfo
from chalicelib.services.platform.projections import passes
from local.resources import STREAM_DLQ
from local.switches import time_scale

ACCOUNT = "123456789012"
MAX_STREAM_ATTEMPTS = 6  # 1 + the mapping's 5 retries (infra/ STREAM_BATCH_RETRIES; a drift test holds them equal)
# Each function's deployed timeout is chalicelib/limits.py's (infra/ deploys the same;
# tests/infra/test_drift.py holds them equal): the Lambda context counts down from it (times
# local.switches.time_scale(): 8 on moto as shipped), and an invocation that runs past it
# fails as on AWS.
DEFAULT_TIMEOUT_S = limits.DEFAULT_TIMEOUT_S
FUNCTION_TIMEOUT_S = limits.FUNCTION_TIMEOUT_S
REDELIVERABLE = 2000  # delivered stream records kept for the control endpoint's POST /redeliver
SHARD_REFRESH_S = 30.0  # a table keeps its stream shards; look for new ones this often


def _now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeContext:
    """The bits of a Lambda context handlers and Powertools read; the remaining time counts
    down from the function's deployed timeout."""

    def __init__(self, name: str) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:fieldsales-local-{name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "local"
        self.timeout_s = limits.timeout_s(name) * time_scale()
        self.deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class TimedOut(RuntimeError):
    """An invocation ran past its function's timeout: on AWS it is killed and fails."""


def call_with_timeout(handler: Callable[[dict[str, Any], Any], Any], event: dict[str, Any], name: str) -> Any:
    """Invoke as Lambda would: a context with the function's timeout; an invocation that
    took longer fails (its result is discarded: a stream batch or SQS message is retried)."""
    context = FakeContext(name)
    result = handler(event, context)
    if context.get_remaining_time_in_millis() <= 0:
        raise TimedOut(f"Task timed out after {context.timeout_s} seconds ({name})")
    return result


def resolve(handler_string: str) -> Callable[[dict[str, Any], Any], Any]:
    module, _, attr = handler_string.rpartition(".")
    return getattr(importlib.import_module(module), attr)


def _matches(pattern: Any, value: Any) -> bool:
    """EventBridge pattern matching for the subset the app uses (values, prefixes, nesting)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(p, value.get(k)) for k, p in pattern.items())
    if isinstance(pattern, list):
        for option in pattern:
            if isinstance(option, dict) and "prefix" in option:
                if isinstance(value, str) and value.startswith(option["prefix"]):
                    return True
            elif option == value:
                return True
        return False
    return pattern == value


def schedule_period_s(expression: Any) -> float:
    value, unit = getattr(expression, "value", None), getattr(expression, "unit", None)
    if value is None:
        text = str(expression)
        inner = text[text.index("(") + 1 : text.index(")")].split()
        value, unit = int(inner[0]), inner[1]
    unit = str(unit).lower().rstrip("s")
    return float(value) * {"minute": 60, "hour": 3600, "day": 86400}[unit]


class Pump(threading.Thread):
    """Polls one source and delivers what it finds. A quiet source is polled less and
    less often (``interval_s`` doubling up to ``idle_max_s``): an idle `make run` would
    otherwise keep moto busy answering empty polls. ``wake()`` (the API calls it after
    every write) polls at once."""

    name = "pump"
    interval_s = 0.5
    idle_max_s = 2.0

    def __init__(self, log: Callable[[str], None]) -> None:
        super().__init__(daemon=True, name=self.name)
        self.stop_event = threading.Event()
        self.wake_event = threading.Event()
        self.log = log
        self.lock = threading.Lock()
        self.deliveries = 0
        self.errors = 0
        self.wakes = 0

    def tick(self) -> bool:  # pragma: no cover - abstract
        """Poll once and deliver; whether anything was found."""
        raise NotImplementedError

    def run(self) -> None:
        interval = self.interval_s
        while not self.stop_event.is_set():
            started = time.monotonic()
            busy = False
            try:
                with self.lock:
                    busy = self.tick()
            except Exception as exc:  # noqa: BLE001 - a pump must never die
                self.errors += 1
                self.log(f"[{self.name}] {type(exc).__name__}: {exc}")
            interval = self.next_interval(interval, busy)
            self.wake_event.wait(interval)
            self.wake_event.clear()
            # a wake cuts an idle back-off short, but a burst of writes never makes the pump
            # poll faster than its base cadence
            self.stop_event.wait(max(0.0, started + self.interval_s - time.monotonic()))

    def next_interval(self, interval: float, busy: bool) -> float:
        return self.interval_s if busy else min(interval * 2, self.idle_max_s)

    def wake(self) -> None:
        self.wakes += 1
        self.wake_event.set()

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()

    def invoke(self, handler_string: str, event: dict[str, Any]) -> Any:
        self.deliveries += 1
        return call_with_timeout(resolve(handler_string), event, handler_string.rpartition(".")[2])


class SchedulePump(Pump):
    """EventBridge schedules: each fires on its cadence, aligned to the wall clock."""

    name = "schedules"
    idle_max_s = Pump.interval_s  # no AWS call per tick: keep the wall-clock cadence

    def __init__(self, app: Any, log: Callable[[str], None]) -> None:
        super().__init__(log)
        self.schedules = {
            e.name: (e.handler_string, schedule_period_s(e.schedule_expression))
            for e in app.event_sources
            if type(e).__name__ == "ScheduledEventConfig"
        }
        now = time.time()
        self.next_due = {name: (now // period + 1) * period + 1 for name, (_, period) in self.schedules.items()}

    def fire(self, name: str) -> Any:
        handler_string, _ = self.schedules[name]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": ACCOUNT,
            "time": _now_iso(),
            "region": "us-east-1",
            "resources": [f"arn:aws:events:us-east-1:{ACCOUNT}:rule/fieldsales-local-{name}"],
            "detail": {},
        }
        return self.invoke(handler_string, event)

    def tick(self) -> bool:
        now = time.time()
        for name, (_, period) in self.schedules.items():
            if now >= self.next_due[name]:
                self.next_due[name] = (now // period + 1) * period + 1
                try:
                    self.fire(name)
                except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                    self.errors += 1
                    self.log(f"[schedules] {name} failed: {type(exc).__name__}: {exc}")
        return False


class EventBusPump(Pump):
    """S3 Object Created (from new objects) and the app's own events (from the bus tap)
    delivered to matching ``on_cw_event`` handlers."""

    name = "events"
    idle_max_s = 1.0  # uploads reach S3 without the API, so nothing wakes this pump for them

    def __init__(self, app: Any, bucket: str, tap_queue_url: str, log: Callable[[str], None]) -> None:
        super().__init__(log)
        self.rules = [
            (e.event_pattern, e.handler_string)
            for e in app.event_sources
            if type(e).__name__ == "CloudWatchEventConfig"
        ]
        self.bucket = bucket
        self.tap_queue_url = tap_queue_url
        self.s3 = boto3.client("s3")
        self.sqs = boto3.client("sqs")
        self.seen: set[tuple[str, str]] = set(self._objects())

    def _objects(self) -> Iterable[tuple[str, str]]:
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            for obj in page.get("Contents", []):
                yield obj["Key"], obj["ETag"]

    def _object_created(self, key: str, etag: str) -> dict[str, Any]:
        head = self.s3.head_object(Bucket=self.bucket, Key=key)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": ACCOUNT,
            "time": _now_iso(),
            "region": "us-east-1",
            "resources": [f"arn:aws:s3:::{self.bucket}"],
            "detail": {
                "version": "0",
                "bucket": {"name": self.bucket},
                "object": {
                    "key": key,
                    "size": head["ContentLength"],
                    "etag": etag.strip('"'),
                    "version-id": head.get("VersionId"),
                    "sequencer": f"{time.time_ns():020X}",
                },
                "request-id": str(uuid.uuid4()),
                "requester": ACCOUNT,
                "source-ip-address": "127.0.0.1",
                "reason": "PostObject",
            },
        }

    def dispatch(self, event: dict[str, Any]) -> None:
        for pattern, handler_string in self.rules:
            if _matches(pattern, event):
                try:
                    self.invoke(handler_string, event)
                except Exception as exc:  # noqa: BLE001 - like a failed async invoke: logged, DLQ on AWS
                    self.errors += 1
                    self.log(f"[events] {handler_string} failed: {type(exc).__name__}: {exc}")

    def tick(self) -> bool:
        busy = False
        for key, etag in list(self._objects()):
            if (key, etag) not in self.seen:
                self.seen.add((key, etag))
                self.dispatch(self._object_created(key, etag))
                busy = True
        got = self.sqs.receive_message(QueueUrl=self.tap_queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        for message in got.get("Messages", []):
            event = json.loads(message["Body"])
            if event.get("source") != "aws.s3":
                self.dispatch(event)
            self.sqs.delete_message(QueueUrl=self.tap_queue_url, ReceiptHandle=message["ReceiptHandle"])
            busy = True
        return busy


class StreamReader:
    """Every new record of a table's stream, all shards, as Lambda hands them over
    (``StreamPump.to_lambda_record``): for tests and benchmarks that deliver the stream
    themselves, at the moment they choose."""

    def __init__(self, stream_arn: str) -> None:
        self.stream_arn = stream_arn
        self.client = boto3.client("dynamodbstreams")
        self.after: dict[str, str] = {}  # shard id: the sequence number of the last record read

    def read(self) -> list[dict[str, Any]]:
        """Each read starts a fresh iterator after the last record read: moto as shipped
        rolls a cancelled transaction back by swapping in a copy of the table, stream
        shard included, and an iterator kept from before would read the orphaned one."""
        out = []
        for shard in self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            sid = shard["ShardId"]
            start = (
                {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.after[sid]}
                if sid in self.after
                else {"ShardIteratorType": "TRIM_HORIZON"}
            )
            iterator = self.client.get_shard_iterator(StreamArn=self.stream_arn, ShardId=sid, **start)["ShardIterator"]
            while iterator:
                got = self.client.get_records(ShardIterator=iterator, Limit=1000)
                iterator = got.get("NextShardIterator")
                records = got.get("Records", [])
                out += [StreamPump.to_lambda_record(r, self.stream_arn) for r in records]
                if not records:
                    break
                self.after[sid] = records[-1]["dynamodb"]["SequenceNumber"]
        return out


class StreamPump(Pump):
    """The table's stream to ``on_dynamodb_record`` handlers, batch by batch; only the
    records the mapping's filter criteria pass reach them (the projection registry's
    patterns, the ones infra/ deploys: a record no projection reads invokes nothing)."""

    name = "stream"
    interval_s = 0.25

    def __init__(self, app: Any, stream_arn: str, log: Callable[[str], None]) -> None:
        super().__init__(log)
        self.consumers = [
            (e.handler_string, e.batch_size) for e in app.event_sources if type(e).__name__ == "DynamoDBEventConfig"
        ]
        self.stream_arn = stream_arn
        self.client = boto3.client("dynamodbstreams")
        self.iterators: dict[str, str | None] = {}
        self.described_at = 0.0
        self.pending: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = {}
        self.dead: list[dict[str, Any]] = []
        self.filters = REGISTRY.filter_patterns()
        self.shard_of: dict[str, str] = {}  # sequence number: shard (for the DLQ message)
        self.delivered: deque[dict[str, Any]] = deque(maxlen=REDELIVERABLE)  # for redeliver()

    def redeliver(self, last: int) -> int:
        """The last ``last`` delivered records are delivered again on the next tick (the
        at-least-once delivery a consumer must bear); answers how many."""
        again = list(self.delivered)[-last:] if last > 0 else []
        self.pending = again + self.pending
        return len(again)

    @staticmethod
    def to_lambda_record(raw: dict[str, Any], stream_arn: str) -> dict[str, Any]:
        data = dict(raw["dynamodb"])
        created = data.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            data["ApproximateCreationDateTime"] = int(created.timestamp())
        return {
            "eventID": raw["eventID"],
            "eventName": raw["eventName"],
            "eventVersion": raw.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": raw.get("awsRegion", "us-east-1"),
            "dynamodb": data,
            "eventSourceARN": stream_arn,
        }

    def _poll(self) -> None:
        if time.time() - self.described_at > SHARD_REFRESH_S or not any(self.iterators.values()):
            self.described_at = time.time()
            shards = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
            for shard in shards:
                sid = shard["ShardId"]
                if sid not in self.iterators:
                    self.iterators[sid] = self.client.get_shard_iterator(
                        StreamArn=self.stream_arn, ShardId=sid, ShardIteratorType="TRIM_HORIZON"
                    )["ShardIterator"]
        for sid, iterator in list(self.iterators.items()):
            if not iterator:
                continue
            out = self.client.get_records(ShardIterator=iterator, Limit=1000)
            self.iterators[sid] = out.get("NextShardIterator")
            records = [self.to_lambda_record(r, self.stream_arn) for r in out.get("Records", [])]
            self.shard_of.update({r["dynamodb"]["SequenceNumber"]: sid for r in records})
            self.pending.extend(r for r in records if passes(self.filters, r))

    def tick(self) -> bool:
        self._poll()
        busy = bool(self.pending)
        while self.pending:
            for handler_string, batch_size in self.consumers:
                batch = self.pending[:batch_size]
                try:
                    result = self.invoke(handler_string, {"Records": batch})
                except Exception as exc:  # noqa: BLE001 - a failed invocation (a timeout too): the batch is retried
                    self.errors += 1
                    self.log(f"[stream] {handler_string} failed: {type(exc).__name__}: {exc}")
                    result = {"batchItemFailures": [{"itemIdentifier": batch[0]["dynamodb"]["SequenceNumber"]}]}
                failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
                if not failed:
                    self.delivered.extend(batch)
                    self.pending = self.pending[len(batch) :]
                    continue
                # Like Lambda: resume from the first failed record; give up on it after
                # MAX_STREAM_ATTEMPTS and send it to the on-failure destination (here: a list).
                first = next(i for i, r in enumerate(batch) if r["dynamodb"]["SequenceNumber"] in failed)
                seq = batch[first]["dynamodb"]["SequenceNumber"]
                self.attempts[seq] = self.attempts.get(seq, 0) + 1
                if self.attempts[seq] >= MAX_STREAM_ATTEMPTS:
                    self.dead.append(batch[first])
                    self._dead_letter(seq)
                    self.log(f"[stream] record {seq} sent to the on-failure destination")
                    self.pending = self.pending[first + 1 :]
                else:
                    self.pending = self.pending[first:]
                    return True
        return busy

    def _dead_letter(self, seq: str) -> None:
        """The mapping's on-failure message (``DDBStreamBatchInfo``) on the stream DLQ, which
        ``make redrive`` reads (chalicelib/services/flows/streamdlq.py)."""
        sqs = boto3.client("sqs")
        url = sqs.get_queue_url(QueueName=STREAM_DLQ)["QueueUrl"]
        batch = BatchInfo(self.stream_arn, self.shard_of.get(seq, ""), seq, seq)
        sqs.send_message(QueueUrl=url, MessageBody=batch.message(1))


class SqsPump(Pump):
    """SQS queues to their ``on_sqs_message`` handlers."""

    name = "sqs"

    def __init__(self, app: Any, log: Callable[[str], None], queues: set[str] | None = None) -> None:
        super().__init__(log)
        self.sqs = boto3.client("sqs")
        self.consumers = []
        for e in app.event_sources:
            if type(e).__name__ == "SQSEventConfig" and (queues is None or e.queue in queues):
                url = self.sqs.get_queue_url(QueueName=e.queue)["QueueUrl"]
                arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
                self.consumers.append((e.handler_string, url, arn, e.batch_size))

    def tick(self) -> bool:
        busy = False
        for handler_string, url, arn, batch_size in self.consumers:
            got = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=batch_size, WaitTimeSeconds=0, AttributeNames=["All"]
            )
            messages = got.get("Messages", [])
            if not messages:
                continue
            busy = True
            event = {
                "Records": [
                    {
                        "messageId": m["MessageId"],
                        "receiptHandle": m["ReceiptHandle"],
                        "body": m["Body"],
                        "attributes": m.get("Attributes", {}),
                        "messageAttributes": m.get("MessageAttributes", {}),
                        "md5OfBody": m.get("MD5OfBody", ""),
                        "eventSource": "aws:sqs",
                        "eventSourceARN": arn,
                        "awsRegion": "us-east-1",
                    }
                    for m in messages
                ]
            }
            try:
                result = self.invoke(handler_string, event)
            except Exception as exc:  # noqa: BLE001 - left on the queue: redelivered, then DLQ
                self.errors += 1
                self.log(f"[sqs] {handler_string} failed, message stays for retry: {type(exc).__name__}: {exc}")
                continue
            # ReportBatchItemFailures, as the event source mapping does: those stay for redelivery
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            self.errors += len(failed)
            for m in messages:
                if m["MessageId"] not in failed:
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return busy
