"""The per-process test world (tests/conftest.py's ``aws`` and ``demo_org``): built once,
then restored from a copy of moto's backends for each test. A restored world is the world
a fresh build makes (table items, table and stream, queues, bucket, event rules), each test
gets its own copy (what one test writes the next never sees), and it works the same with
and without the moto patches."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from chalicelib import aws as aws_clients
from chalicelib.config import settings
from local.motoserver import moto_patches, restore_backends, snapshot_backends
from local.pumps import StreamReader
from local.resources import create_all
from local.seed import seed_org

TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
VARYING = {"CreationDateTime", "LatestStreamArn", "LatestStreamLabel", "CreatedTimestamp", "LastModifiedTimestamp"}


def _same_over_time(value: Any) -> Any:
    """``value`` with what differs between two builds by their time alone taken out."""
    if isinstance(value, dict):
        return {k: _same_over_time(v) for k, v in value.items() if k not in VARYING}
    if isinstance(value, list):
        return [_same_over_time(v) for v in value]
    return TIME.sub("<time>", value) if isinstance(value, str) else value


def world_state() -> dict[str, Any]:
    """Everything a test can see of the stand-in's AWS."""
    ddb, sqs, events, s3 = (boto3.client(s) for s in ("dynamodb", "sqs", "events", "s3"))
    table = ddb.describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
    items = [i for page in ddb.get_paginator("scan").paginate(TableName=table["TableName"]) for i in page["Items"]]
    records = StreamReader(table["LatestStreamArn"]).read()
    urls = sorted(sqs.list_queues().get("QueueUrls", []))
    rules = events.list_rules()["Rules"]
    return _same_over_time(
        {
            "table": table,
            "items": sorted(items, key=lambda i: (i["PK"]["S"], i["SK"]["S"])),
            "stream": [(r["eventName"], r["dynamodb"].get("Keys"), r["dynamodb"].get("NewImage")) for r in records],
            "queues": {u: sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in urls},
            "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
            "rules": {r["Name"]: (r, events.list_targets_by_rule(Rule=r["Name"])["Targets"]) for r in rules},
        }
    )


@pytest.fixture
def fresh_account() -> Iterator[None]:
    with mock_aws():
        aws_clients.reset_clients()
        settings.cache_clear()
        yield
        aws_clients.reset_clients()


def build() -> None:
    create_all(os.environ["BUCKET_NAME"])
    seed_org()


@pytest.mark.parametrize("patched", [True, False], ids=["moto-patched", "moto-as-shipped"])
def test_a_restored_world_is_the_world_a_build_makes_and_each_test_gets_its_own(patched: bool) -> None:
    with moto_patches(patched):
        with mock_aws():
            aws_clients.reset_clients()
            build()
            built = world_state()
            snapshot = snapshot_backends()
        assert (
            len(built["items"]) > 10 and len(built["stream"]) > 10 and len(built["queues"]) == 8
        )  # webhooks, jobs, work, their DLQs, the stream DLQ, the events tap
        for _ in range(2):
            with mock_aws():
                aws_clients.reset_clients()
                restore_backends(snapshot)
                assert world_state() == built
                ddb = boto3.client("dynamodb")  # a test's writes: gone from the next test's world
                ddb.put_item(TableName=os.environ["TABLE_NAME"], Item={"PK": {"S": "X"}, "SK": {"S": "Y"}})
                boto3.client("sqs").send_message(QueueUrl=sorted(built["queues"])[0], MessageBody="m")
                assert world_state() != built
        aws_clients.reset_clients()


@pytest.fixture
def snapshots_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_WORLD_SNAPSHOTS", "on")  # also in a run that has them off


def test_the_fixtures_hand_each_test_the_demo_world_as_snapshotted(snapshots_on: None, demo_org: None) -> None:
    """Built by this test or restored for it: the demo world is the process's snapshot
    (which the test above shows equal to a fresh build)."""
    from tests.conftest import _WORLDS

    handed = world_state()
    assert {"T#acme#USER#rep_a", "T#globex#USER#rep_x"} <= {i["PK"]["S"] for i in handed["items"]}
    restore_backends(_WORLDS["demo"][0])
    assert world_state() == handed
