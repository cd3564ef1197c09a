"""The stream DLQ's re-drive (``make redrive``: chalicelib/services/flows/streamdlq.py): a
projection that fails on a record until it is fixed sends the record's batch to the DLQ
(as the mapping does after its retries: a ``DDBStreamBatchInfo`` message); the re-drive
fetches the records from the stream and applies them once through the same engine, deletes
the message only then, and keeps a message whose batch fails again or is past the stream."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib.services.flows import streamdlq
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.flows.streamdlq import BatchInfo
from chalicelib.services.org import org
from chalicelib.services.platform.projections import Change
from chalicelib.timeutil import utcnow
from local.resources import STREAM_DLQ
from tests.support import Stream, replace_projection, sign
from tools import redrive as redrive_tool


@pytest.fixture
def stream(api: Any, chalice_client: Any) -> Stream:
    """The table stream, its records kept in the shard: the re-drive reads a failed batch's
    records there again (as on AWS, within the stream's 24 hours)."""
    return Stream(chalice_client, keep_records=True)


@pytest.fixture
def dlq(aws: dict[str, str]) -> str:
    return aws["stream_dlq"]


def dead_letter(stream: Any, chalice_client: Any, records: list[dict[str, Any]], dlq: str) -> list[str]:
    """What the mapping does with records that kept failing: invoked (and failing), then
    each failed record's batch named on the on-failure destination. Answers their sequence numbers."""
    result = chalice_client.lambda_.invoke("table_stream", {"Records": records})
    failed = [f["itemIdentifier"] for f in result.payload["batchItemFailures"]]
    streams = boto3.client("dynamodbstreams")
    (shard,) = streams.describe_stream(StreamArn=stream.reader.stream_arn)["StreamDescription"]["Shards"]
    for seq in failed:
        body = BatchInfo(stream.reader.stream_arn, shard["ShardId"], seq, seq).message(1)
        boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody=body)
    return failed


def visits(api: Any) -> int:
    """rep_a's visits this month, as their goal's actuals answer."""
    period = utcnow().astimezone(org.tenant_zone("acme")).strftime("%Y-%m")
    status, body = api.get(f"/v1/goals/user/rep_a/{period}", as_="mgr_east")
    assert status == 200, body
    return int(body["actuals"].get("visits") or 0)


def messages_on(url: str) -> int:
    attrs = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_a_batch_that_failed_until_fixed_is_redriven_from_the_dlq_and_applies_once(
    api, stream, chalice_client, dlq, monkeypatch
):
    real = REGISTRY.by_name["actuals"].apply
    assert real is not None
    fixed = {"yes": False}

    def until_fixed(change: Change) -> Any:
        if not fixed["yes"]:
            raise KeyError("visits")  # a bug: retried, then the DLQ
        return real(change)

    replace_projection(monkeypatch, "actuals", until_fixed)
    assert sign(api)[0] == 201
    records = stream.read()
    failed = dead_letter(stream, chalice_client, records, dlq)
    assert len(failed) == 1 and visits(api) == 0

    report = streamdlq.redrive(dlq, visibility_s=0)  # still broken: kept (visible again at once here)
    assert (report.applied, report.failed) == (0, 1) and messages_on(dlq) == 1

    fixed["yes"] = True
    report = streamdlq.redrive(dlq)

    assert (report.applied, report.failed, report.expired, report.records) == (1, 0, 0, 1)
    assert messages_on(dlq) == 0
    assert visits(api) == 1
    stream.deliver(records)  # the record once more (a late redelivery): still counted once
    assert visits(api) == 1


def test_a_batch_the_stream_no_longer_has_is_kept_and_counted_expired(api, stream, dlq, capsys, monkeypatch):
    # Past 24 h the stream answers TrimmedDataAccessException (moto keeps every record, so
    # that one answer is AWS's, put in its place here).
    real_client = streamdlq.client

    class Trimmed:
        def get_shard_iterator(self, **kwargs: Any) -> Any:
            raise ClientError(
                {"Error": {"Code": "TrimmedDataAccessException", "Message": "trimmed"}}, "GetShardIterator"
            )

    monkeypatch.setattr(streamdlq, "client", lambda s: Trimmed() if s == "dynamodbstreams" else real_client(s))
    (shard,) = boto3.client("dynamodbstreams").describe_stream(StreamArn=stream.reader.stream_arn)["StreamDescription"][
        "Shards"
    ]
    gone = BatchInfo(stream.reader.stream_arn, shard["ShardId"], "1".zfill(21), "1".zfill(21)).message(1)
    boto3.client("sqs").send_message(QueueUrl=dlq, MessageBody=gone)

    assert redrive_tool.main(["--queue-url", dlq]) == 1

    out = json.loads(capsys.readouterr().out)
    assert (out["applied"], out["expired"]) == (0, 1) and messages_on(dlq) == 1


def test_the_local_stack_queue_is_the_stream_dlq(aws):
    assert aws["stream_dlq"].endswith(STREAM_DLQ)
