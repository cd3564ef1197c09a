"""The local stand-in's journaled TransactWriteItems: a cancelled transaction leaves the
table, its items and its stream exactly as they were, without copying the table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.motoserver import moto_patches

TABLE = "journal-test"
EXISTS = "attribute_exists(PK)"


@pytest.fixture
def ddb() -> Iterator[Any]:
    with moto_patches(True), mock_aws():  # whatever MOTO_PATCHES says: these test the patch
        client = streamed_table()
        for sk, n in (("a", "1"), ("b", "2")):
            client.put_item(TableName=TABLE, Item={"PK": {"S": "p"}, "SK": {"S": sk}, "n": {"N": n}})
        yield client


def streamed_table() -> Any:
    """The test table, its stream on, in moto; answers a DynamoDB client."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "PK", "AttributeType": "S"},
            {"AttributeName": "SK", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return client


def items(client: Any) -> dict[str, Any]:
    got = client.query(TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "p"}})[
        "Items"
    ]
    return {i["SK"]["S"]: i for i in got}


def stream_events(client: Any) -> list[str]:
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [r["eventName"] for r in records]


def backend_table() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[TABLE]


def key(sk: str) -> dict[str, Any]:
    return {"PK": {"S": "p"}, "SK": {"S": sk}}


def test_a_cancelled_transaction_changes_no_item_and_emits_no_stream_record(ddb):
    before_items, before_stream, table = items(ddb), stream_events(ddb), backend_table()
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("c"), "n": {"N": "3"}}}},
                {
                    "Update": {
                        "TableName": TABLE,
                        "Key": key("a"),
                        "UpdateExpression": "SET n = n + :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": key("b")}},
                {"ConditionCheck": {"TableName": TABLE, "Key": key("zz"), "ConditionExpression": EXISTS}},
            ]
        )
    assert items(ddb) == before_items
    assert stream_events(ddb) == before_stream == ["INSERT", "INSERT"]
    assert backend_table() is table  # rolled back in place: a stream reader's shard stays live


def test_a_transaction_refused_midway_by_moto_is_rolled_back_too(ddb):
    before = items(ddb)
    with pytest.raises(ddb.exceptions.ClientError):  # two operations on one item
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**key("a"), "n": {"N": "9"}}}},
                {"Delete": {"TableName": TABLE, "Key": key("a")}},
            ]
        )
    assert items(ddb) == before


def test_a_committed_transaction_applies_every_write_and_streams_each(ddb):
    ddb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**key("c"), "n": {"N": "3"}}}},
            {"Delete": {"TableName": TABLE, "Key": key("b")}},
            {"ConditionCheck": {"TableName": TABLE, "Key": key("a"), "ConditionExpression": EXISTS}},
        ]
    )
    assert sorted(items(ddb)) == ["a", "c"]
    assert stream_events(ddb) == ["INSERT", "INSERT", "INSERT", "REMOVE"]


def test_only_the_named_items_are_copied_whatever_the_table_holds(ddb, monkeypatch):
    import copy

    from moto.dynamodb.models.dynamo_type import Item

    for n in range(50):
        ddb.put_item(TableName=TABLE, Item={"PK": {"S": "q"}, "SK": {"S": f"{n:03d}"}})
    copied: list[Any] = []
    real = copy.deepcopy

    def counting(value: Any, memo: Any = None) -> Any:
        copied.append(value)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    with pytest.raises(ddb.exceptions.TransactionCanceledException):
        check = {"TableName": TABLE, "Key": key("a"), "ConditionExpression": "n = :x"}
        ddb.transact_write_items(
            TransactItems=[
                {"ConditionCheck": {**check, "ExpressionAttributeValues": {":x": {"N": "5"}}}},
                {"Put": {"TableName": TABLE, "Item": {**key("c"), "n": {"N": "3"}}}},
            ]
        )
    assert len([v for v in copied if isinstance(v, Item)]) == 1  # "a" (and "c", which did not exist)


@pytest.mark.parametrize("patched", [True, False], ids=["moto-patched", "moto-as-shipped"])
def test_dropped_stream_records_leave_a_reader_at_the_end_reading_on_from_there(patched: bool) -> None:
    from local.motoserver import drop_stream_records
    from local.pumps import StreamReader

    with moto_patches(patched), mock_aws():
        client = streamed_table()
        reader = StreamReader(client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"])
        for sk in "abc":
            client.put_item(TableName=TABLE, Item=key(sk))
        first = reader.read()
        drop_stream_records()
        assert backend_table().stream_shard.items == []  # what a transaction copies on moto as shipped
        client.put_item(TableName=TABLE, Item={**key("a"), "n": {"N": "1"}})
        client.delete_item(TableName=TABLE, Key=key("b"))
        then = reader.read()
        assert [(r["eventName"], r["dynamodb"]["Keys"]["SK"]["S"]) for r in first + then] == [
            ("INSERT", "a"),
            ("INSERT", "b"),
            ("INSERT", "c"),
            ("MODIFY", "a"),
            ("REMOVE", "b"),
        ]
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in first + then]
        assert numbers == sorted(set(numbers))  # numbering goes on: no number is given twice
