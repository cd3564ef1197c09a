"""Re-drive of the table stream's dead-letter queue through the projection engine.

A stream record that kept failing (a bug, a dependency down through every retry) is sent by
the event source mapping to its on-failure destination (``StreamFailureDlq``) as a message
naming the batch, not holding it (AWS: "DDBStreamBatchInfo")::

    {"DDBStreamBatchInfo": {"shardId": ..., "startSequenceNumber": ..., "endSequenceNumber": ...,
                            "batchSize": n, "streamArn": ...}, "requestContext": {...}, ...}

:func:`redrive` reads those messages, fetches the batch's records from the stream
(``GetShardIterator`` ``AT_SEQUENCE_NUMBER`` + ``GetRecords`` up to the end sequence number),
runs each through the same engine as the stream consumer (``REGISTRY.apply``: every
projection is idempotent, so records of the batch that had applied apply again harmlessly),
and deletes a message only when its whole batch applied; a batch that fails again stays
on the queue for the next run. A stream keeps records 24 hours: a batch older than that
(the shard trimmed, or its records gone) cannot be fetched; it stays on the queue, counted
``expired``, and the backfill (``backfill_indexes``, ``{"all_tenants": true}``) rebuilds
the projections that declare a rebuild from current state. Cost per message: 1
GetShardIterator, 1 GetRecords per 1,000 records, the projections' own work, 1 DeleteMessage.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from botocore.exceptions import ClientError

from chalicelib.aws import client
from chalicelib.observability import count, logger
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.platform.projections import Change, Registry

GONE = {"TrimmedDataAccessException", "ResourceNotFoundException", "ExpiredIteratorException"}
MAX_MESSAGES = 10  # one ReceiveMessage


@dataclass(frozen=True)
class BatchInfo:
    """A failed batch as the DLQ message names it."""

    stream_arn: str
    shard_id: str
    start: str
    end: str

    @classmethod
    def of_message(cls, body: str) -> BatchInfo:
        info = json.loads(body)["DDBStreamBatchInfo"]
        return cls(info["streamArn"], info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"])

    def message(self, size: int, condition: str = "RetryAttemptsExhausted") -> str:
        """The message the mapping sends for this batch (what the local stack sends too)."""
        info = {
            "shardId": self.shard_id,
            "startSequenceNumber": self.start,
            "endSequenceNumber": self.end,
            "batchSize": size,
            "streamArn": self.stream_arn,
        }
        return json.dumps({"version": "1.0", "requestContext": {"condition": condition}, "DDBStreamBatchInfo": info})


@dataclass
class Report:
    applied: int = 0  # messages whose batch applied (deleted)
    failed: int = 0  # messages whose batch failed again (kept)
    expired: int = 0  # messages whose records the stream no longer has (kept)
    records: int = 0
    errors: list[str] = field(default_factory=list)


def fetch(batch: BatchInfo) -> Optional[list[dict[str, Any]]]:
    """The batch's records (start..end sequence numbers, in order); None when the stream no
    longer has them."""
    streams = client("dynamodbstreams")
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=batch.stream_arn,
            ShardId=batch.shard_id,
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=batch.start,
        )["ShardIterator"]
        out: list[dict[str, Any]] = []
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records = page.get("Records", [])
            out += [r for r in records if int(r["dynamodb"]["SequenceNumber"]) <= int(batch.end)]
            if not records or int(records[-1]["dynamodb"]["SequenceNumber"]) >= int(batch.end):
                break
            iterator = page.get("NextShardIterator")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE:
            return None
        raise
    first = out[0]["dynamodb"]["SequenceNumber"] if out else None
    return out if first == batch.start else None


def redrive_message(body: str, registry: Registry = REGISTRY) -> tuple[str, int]:
    """Run one DLQ message's batch through the engine: ("applied" | "expired", records).
    Raises what a projection raises (the message is kept)."""
    records = fetch(BatchInfo.of_message(body))
    if records is None:
        return "expired", 0
    for record in records:
        registry.apply(Change.of_event(record))
    return "applied", len(records)


def redrive(queue_url: str, registry: Registry = REGISTRY, visibility_s: int = 300) -> Report:
    """Every message of the stream DLQ, once each (a kept one is invisible for
    ``visibility_s``, and one seen again ends the run); deletes a message only when its
    batch applied."""
    sqs, report, seen = client("sqs"), Report(), set()
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=MAX_MESSAGES, VisibilityTimeout=visibility_s)
        messages = [m for m in got.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        seen |= {m["MessageId"] for m in messages}
        for message in messages:
            try:
                outcome, n = redrive_message(message["Body"], registry)
            except Exception as exc:  # noqa: BLE001 - kept on the queue for the next run
                logger.exception("stream DLQ batch failed again", extra={"message_id": message["MessageId"]})
                report.failed += 1
                report.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            if outcome == "expired":
                report.expired += 1
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            report.applied += 1
            report.records += n
    count("StreamDlqRedriven", report.applied)
    logger.info("stream DLQ re-drive", extra={k: v for k, v in vars(report).items() if k != "errors"})
    return report
