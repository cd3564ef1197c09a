"""In-process DynamoDB requests skip the HTTP round trip (``local.motoserver.in_process_calls``)
and answer exactly what moto's stubber answers.

- The same traffic, every kind of answer included (items of every type, pages, counts,
  projections, every ReturnValues, and the errors with their modeled fields: a failed
  condition's old item, a cancelled transaction's reasons, a validation error, a missing
  table, an item over the size limit), gives the same parsed answers and the same errors
  both ways, in two regions and in the account MOTO_ACCOUNT_ID names.
- Only DynamoDB requests that the stubber would answer take the short way: other services
  and a moto server over HTTP keep botocore's whole path.
- Each request is applied whole before the next one starts, whatever thread sends it.
- The moto server's short way (``local.motoserver.quick_dynamodb_requests``): the same
  traffic over HTTP gives the same answers, statuses, headers and bodies as moto's server
  app, each length and checksum that of its own body; tables land in the account and region
  moto's server would put them in; other services keep the server's whole path, and moto as
  shipped serves without it.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import threading
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import waitress
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import BotocoreStubber
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.sqs.models import sqs_backends
from waitress import wasyncore

import local.motoserver as motoserver
from local.motoserver import moto_patches
from tests.support import EVERY_ATTRIBUTE_TYPE

TABLE = "in-process-test"


def _table(client: Any) -> None:
    client.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("PK", "SK", "G")],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "GSI1",
                "KeySchema": [{"AttributeName": "G", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )


def _traffic(client: Any) -> list[Any]:
    """Every kind of answer, each as (operation, what came back): an answer without its
    request id, or an error's class, code, message, modeled fields and HTTP status."""
    out: list[Any] = []

    def call(operation: str, **kw: Any) -> None:
        try:
            answer = getattr(client, operation)(**kw)
        except ClientError as error:
            response = dict(error.response)
            meta = response.pop("ResponseMetadata")
            out.append((operation, type(error).__name__, response, meta["HTTPStatusCode"], meta["RetryAttempts"]))
            return
        meta = answer.pop("ResponseMetadata")
        out.append((operation, _timeless(answer), meta["HTTPStatusCode"], meta["RetryAttempts"]))

    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}
    _table(client)
    call("describe_table", TableName=TABLE)
    call("put_item", TableName=TABLE, Item={**key, **EVERY_ATTRIBUTE_TYPE, "G": {"S": "g"}})
    call("put_item", TableName=TABLE, Item={**key, "n": {"N": "1"}}, ReturnValues="ALL_OLD")
    call(
        "put_item",
        TableName=TABLE,
        Item={**key, **EVERY_ATTRIBUTE_TYPE, "G": {"S": "g"}},
        ReturnConsumedCapacity="TOTAL",
    )
    for n in range(7):
        call("put_item", TableName=TABLE, Item={"PK": {"S": "p"}, "SK": {"S": f"2{n}"}, "G": {"S": "g"}})
    call("get_item", TableName=TABLE, Key=key, ConsistentRead=True)
    call("get_item", TableName=TABLE, Key={"PK": {"S": "absent"}, "SK": {"S": "1"}})
    call(
        "get_item",
        TableName=TABLE,
        Key=key,
        ProjectionExpression="m.inner, b, #s",
        ExpressionAttributeNames={"#s": "s"},
    )
    for values in ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "UPDATED_NEW", "NONE"):
        call(
            "update_item",
            TableName=TABLE,
            Key=key,
            UpdateExpression="ADD n :one SET s = :s",
            ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": values}},
            ReturnValues=values,
        )
    page = {"TableName": TABLE, "KeyConditionExpression": "PK = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}}
    call("query", **page, Limit=3)
    call("query", **page, Limit=3, ExclusiveStartKey={"PK": {"S": "p"}, "SK": {"S": "21"}}, ScanIndexForward=False)
    call("query", **page, Select="COUNT")
    call(
        "query",
        TableName=TABLE,
        IndexName="GSI1",
        KeyConditionExpression="G = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
    )
    call("scan", TableName=TABLE, Limit=2)
    call("batch_get_item", RequestItems={TABLE: {"Keys": [key, {"PK": {"S": "absent"}, "SK": {"S": "2"}}]}})
    call("batch_write_item", RequestItems={TABLE: [{"PutRequest": {"Item": {"PK": {"S": "q"}, "SK": {"S": "1"}}}}]})
    call("transact_get_items", TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    call(
        "transact_write_items",
        TransactItems=[{"Put": {"TableName": TABLE, "Item": {"PK": {"S": "q"}, "SK": {"S": "2"}}}}],
    )
    # the errors, with the fields their shapes model
    call(
        "put_item",
        TableName=TABLE,
        Item={**key, "n": {"N": "9"}},
        ConditionExpression="attribute_not_exists(PK)",
        ReturnValuesOnConditionCheckFailure="ALL_OLD",
    )
    call(
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "q"}, "SK": {"S": "3"}}}},
            {
                "ConditionCheck": {
                    "TableName": TABLE,
                    "Key": key,
                    "ConditionExpression": "attribute_not_exists(PK)",
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                }
            },
        ],
    )
    call("get_item", TableName=TABLE, Key={"PK": {"S": ""}, "SK": {"S": "1"}})
    call("get_item", TableName="no-such-table", Key=key)
    call("put_item", TableName=TABLE, Item={"PK": {"S": "big"}, "SK": {"S": "1"}, "blob": {"S": "x" * 410_000}})
    call(
        "update_item",
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET a = :a, a = :a",
        ExpressionAttributeValues={":a": {"S": "1"}},
    )
    call("delete_item", TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    call("describe_table", TableName=TABLE)
    return out


def _timeless(value: Any) -> Any:
    """The answer with the moments in it (a table's creation, its stream's label) as their
    type: the two runs create their tables at different times."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_timeless(v) for v in value]
    if isinstance(value, datetime.datetime):
        return "a datetime"
    return MOMENT.sub("a moment", value) if isinstance(value, str) else value


MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+")


@pytest.fixture
def short_way_counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many DynamoDB requests took the short way, and how many went to moto's stubber."""
    counts = {"short": 0, "stubber": 0}
    answer, process = motoserver._answer_in_process, BotocoreStubber.process_request

    def short(*args: Any) -> Any:
        counts["short"] += 1
        return answer(*args)

    def stubber(self: Any, request: Any) -> Any:
        counts["stubber"] += "dynamodb." in request.url
        return process(self, request)

    monkeypatch.setattr(motoserver, "_answer_in_process", short)
    monkeypatch.setattr(BotocoreStubber, "process_request", stubber)
    return counts


def _both_ways(monkeypatch: pytest.MonkeyPatch, region: str) -> tuple[list[Any], list[Any]]:
    answers = []
    for short_way in (True, False):
        with moto_patches(True), mock_aws(), monkeypatch.context() as m:
            if not short_way:
                m.setattr(motoserver, "_in_process_region", lambda url: None)
            answers.append(_traffic(boto3.client("dynamodb", region_name=region)))
    return answers[0], answers[1]


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_short_way_answers_every_kind_of_request_and_error_as_the_stubber(
    monkeypatch: pytest.MonkeyPatch, short_way_counted: dict[str, int], region: str
) -> None:
    short, stubber = _both_ways(monkeypatch, region)

    assert short == stubber
    errors = {entry[1] for entry in short if isinstance(entry[1], str)}
    assert errors == {"ConditionalCheckFailedException", "TransactionCanceledException", "ClientError"} | {
        "ResourceNotFoundException"
    }
    cancelled = next(entry[2] for entry in short if entry[1] == "TransactionCanceledException")
    assert [r["Code"] for r in cancelled["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]
    assert cancelled["CancellationReasons"][1]["Item"]["PK"] == {"S": "p"}  # a modeled field, parsed
    assert short_way_counted["short"] == len(short) + 1 and short_way_counted["stubber"] == len(stubber) + 1


def _tables_by_place() -> set[tuple[str, str, str]]:
    """(account, region, table) of every table moto holds."""
    return {
        (account, region, table)
        for account, regions in dict.items(dynamodb_backends)
        for region, backend in dict.items(regions)
        for table in backend.tables
    }


def test_the_short_way_writes_into_the_account_and_region_moto_would(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    places = []
    for short_way in (True, False):
        with moto_patches(True), mock_aws(), monkeypatch.context() as m:
            if not short_way:
                m.setattr(motoserver, "_in_process_region", lambda url: None)
            _table(boto3.client("dynamodb", region_name="ap-southeast-1"))
            places.append(_tables_by_place())
    assert places[0] == places[1] == {("111122223333", "ap-southeast-1", TABLE)}


def test_other_services_and_a_server_over_http_keep_botocores_whole_path(short_way_counted: dict[str, int]) -> None:
    with moto_patches(True), mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        sqs.create_queue(QueueName="q")
        assert short_way_counted == {"short": 0, "stubber": 0}
        assert motoserver._in_process_region("http://127.0.0.1:5005/") is None
        assert motoserver._in_process_region("https://streams.dynamodb.us-east-1.amazonaws.com/") is None
        assert motoserver._in_process_region("https://dynamodb.us-east-1.amazonaws.com/") == "us-east-1"
    assert motoserver._in_process_region("https://dynamodb.us-east-1.amazonaws.com/") is None  # outside mock_aws


def test_each_request_is_applied_whole_before_the_next_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []
    put = DynamoDBBackend.put_item

    def slow_put(self: Any, *args: Any, **kw: Any) -> Any:
        inside.set()
        release.wait(5)
        order.append("put applied")
        return put(self, *args, **kw)

    with moto_patches(True), mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        _table(client)
        monkeypatch.setattr(DynamoDBBackend, "put_item", slow_put)
        writer = threading.Thread(
            target=client.put_item, kwargs={"TableName": TABLE, "Item": {"PK": {"S": "a"}, "SK": {"S": "1"}}}
        )
        writer.start()
        assert inside.wait(5)
        reader = threading.Thread(
            target=lambda: order.append(
                "read " + str(len(client.query(TableName=TABLE, KeyConditionExpression="PK = :p",
                                               ExpressionAttributeValues={":p": {"S": "a"}})["Items"]))
            )
        )  # fmt: skip
        reader.start()
        reader.join(0.3)
        assert reader.is_alive(), "the read waits for the write in progress"
        release.set()
        writer.join(5)
        reader.join(5)
    assert order == ["put applied", "read 1"]


def test_moto_as_shipped_takes_the_stubbers_way(short_way_counted: dict[str, int]) -> None:
    with moto_patches(False), mock_aws():
        _table(boto3.client("dynamodb", region_name="us-east-1"))
    assert short_way_counted == {"short": 0, "stubber": 1}


# ---------------------------------------------------------------- the moto server's short way
@contextlib.contextmanager
def _server(short_way: bool) -> Iterator[str]:
    """A fresh moto server as ``python -m local.motoserver`` serves it, in a thread (with or
    without its short way for DynamoDB requests): its URL. Not inside ``mock_aws``: its
    clients sign their requests, which the server routes by (as the local stack's do)."""
    with moto_patches(short_way):
        app = motoserver.serialised(motoserver.quick_dynamodb_requests(DomainDispatcherApplication(create_backend_app)))
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()

    def serve() -> None:  # closes what it served in its own thread, not under a running select
        while not stop.is_set():
            wasyncore.loop(timeout=0.05, map=server._map, count=1)
        server.task_dispatcher.shutdown()
        wasyncore.close_all(server._map)  # the server, its trigger and the clients' kept connections

    thread = threading.Thread(target=serve, daemon=True)
    for backends in (dynamodb_backends, sqs_backends):
        backends.reset()
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        stop.set()
        thread.join(5)
        for backends in (dynamodb_backends, sqs_backends):
            backends.reset()


def _over_http(short_way: bool, region: str, counted: dict[str, int]) -> tuple[list[Any], list[Any]]:
    """``_traffic`` against a fresh moto server: the parsed answers, and each answer's status
    and headers as sent (without the ones that differ between two runs)."""
    sent: list[Any] = []

    def record(http_response: Any, model: Any, **_: Any) -> None:
        headers = {k.lower(): v for k, v in http_response.headers.items()}
        body = http_response.content
        assert int(headers.pop("content-length")) == len(body), "the length of this body"
        assert int(headers.pop("x-amz-crc32")) == zlib.crc32(body), "the checksum of this body"
        kept = {k: v for k, v in headers.items() if k not in VARYING_HEADERS}
        sent.append((model.name, http_response.status_code, kept, _timeless(EPOCH.sub(r"\1 0", body.decode()))))

    with _server(short_way) as url:
        client = boto3.client(
            "dynamodb", endpoint_url=url, region_name=region, aws_access_key_id="AKIA00000000EXAMPLE1",
            aws_secret_access_key="x",
        )  # fmt: skip
        client.meta.events.register("after-call.dynamodb", record)
        answers = _traffic(client)
        before = counted["quick"]
        sqs = boto3.client(
            "sqs", endpoint_url=url, region_name=region, aws_access_key_id="a", aws_secret_access_key="b"
        )
        sqs.create_queue(QueueName="not-dynamodb")
        assert counted["quick"] == before, "only DynamoDB requests take the short way"
    return answers, sent


VARYING_HEADERS = {"date", "x-amzn-requestid"}
EPOCH = re.compile(r'("\w*DateTime":) [\d.]+')  # a table's creation, as the wire has it


@pytest.fixture
def quick_counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How many requests the server's short way answered."""
    counts = {"quick": 0}
    original = motoserver._InProcessDynamo.__init__

    def counted(self: Any, *args: Any, **kw: Any) -> None:
        counts["quick"] += 1
        original(self, *args, **kw)

    monkeypatch.setattr(motoserver._InProcessDynamo, "__init__", counted)
    return counts


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
def test_the_servers_short_way_answers_every_request_as_moto_server_does(
    quick_counted: dict[str, int], region: str
) -> None:
    quick_answers, quick_sent = _over_http(True, region, quick_counted)
    taken = quick_counted["quick"]
    full_answers, full_sent = _over_http(False, region, quick_counted)

    assert quick_answers == full_answers
    assert quick_sent == full_sent, "the same status and headers as sent"
    assert taken == len(quick_sent) and quick_counted["quick"] == taken, "every DynamoDB request, one way each"
    assert {status for _, status, _, _ in quick_sent} == {200, 400}
    assert {answer[1] for answer in quick_answers if isinstance(answer[1], str)} == {
        "ConditionalCheckFailedException", "TransactionCanceledException", "ClientError", "ResourceNotFoundException"
    }, "every kind of error"  # fmt: skip


def test_the_servers_short_way_writes_into_the_account_and_region_moto_would(quick_counted: dict[str, int]) -> None:
    places = []
    for short_way in (True, False):
        with _server(short_way) as url:
            for region, account in (("ap-southeast-1", None), ("eu-west-1", "111122223333")):
                client = boto3.client(
                    "dynamodb", endpoint_url=url, region_name=region, aws_access_key_id="AKIA00000000EXAMPLE1",
                    aws_secret_access_key="x",
                )  # fmt: skip
                if account:  # moto's header naming the account
                    client.meta.events.register("before-sign.dynamodb", _account_header(account))
                _table(client)
            places.append(_tables_by_place())
    assert quick_counted["quick"] == 2
    assert (
        places[0]
        == places[1]
        == {
            (DEFAULT_ACCOUNT_ID, "ap-southeast-1", TABLE),
            ("111122223333", "eu-west-1", TABLE),
        }
    )


def _account_header(account: str) -> Any:
    def add(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account

    return add


def test_moto_as_shipped_serves_without_the_short_way() -> None:
    app = DomainDispatcherApplication(create_backend_app)
    with moto_patches(False):
        assert motoserver.quick_dynamodb_requests(app) is app
    with moto_patches(True):
        assert motoserver.quick_dynamodb_requests(app) is not app
