"""The local stand-in's speed-ups of moto answer exactly what moto answers.

- The partition-first Query (``local.motoserver.partition_queries``): same items, order,
  pages, counts and LastEvaluatedKey as moto's full-table Query, on the base table and on a
  GSI, after every kind of write (an update that moves an item to another index partition
  included).
- The root-only checks and the shared parse of UpdateExpressions
  (``local.motoserver.quick_update_expressions``): the same items after long updates, and
  the same refusals of two clauses of a kind and of overlapping paths.
- The JSON answers of item operations (``local.motoserver.quick_results``): the same status,
  headers and JSON as moto's serialiser for every item operation, every attribute type, the
  options that shape an answer, and all the traffic of the demo seed.
- The remembered pure functions (``local.motoserver.remembered_pure_functions``): the same
  answers as the functions they remember.
- The one-sum item size check (``local.motoserver.quick_item_sizes``): the same items, and
  the same refusal of an item over the limit.
"""

from __future__ import annotations

import copy
import json
import os
import random
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.useragent
import moto.core.responses
import moto.core.utils
import pytest
from botocore.endpoint import Endpoint
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing import validators
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

import local.motoserver as motoserver
from local.motoserver import UncheckedMoto, apply_speed_ups, moto_patches, speed_ups
from local.pumps import StreamReader
from tests.support import EVERY_ATTRIBUTE_TYPE

TABLE = "partition-test"
KEYS = [("PK", "HASH"), ("SK", "RANGE")]
GSI = [("GSI1PK", "HASH"), ("GSI1SK", "RANGE")]


@pytest.fixture
def ddb() -> Iterator[Any]:
    with moto_patches(True), mock_aws():  # whatever MOTO_PATCHES says: these test the patches
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": a, "KeyType": t} for a, t in KEYS],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a, _ in KEYS + GSI],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "GSI1",
                    "KeySchema": [{"AttributeName": a, "KeyType": t} for a, t in GSI],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _item(rng: random.Random) -> dict[str, Any]:
    item = {"PK": {"S": f"p{rng.randrange(6)}"}, "SK": {"S": f"s{rng.randrange(40):02d}"}, "n": {"N": "1"}}
    if rng.random() < 0.8:  # some items are not in the index
        item["GSI1PK"] = {"S": f"g{rng.randrange(4)}"}
        if rng.random() < 0.9:
            item["GSI1SK"] = {"S": f"t{rng.randrange(10)}"}  # ties on the index sort key too
    return item


def _write(client: Any, rng: random.Random) -> None:
    roll = rng.random()
    if roll < 0.6:
        client.put_item(TableName=TABLE, Item=_item(rng))
    elif roll < 0.85:  # moves the item to another index partition, or creates it
        key = {"PK": {"S": f"p{rng.randrange(6)}"}, "SK": {"S": f"s{rng.randrange(40):02d}"}}
        client.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="SET GSI1PK = :g, GSI1SK = :t",
            ExpressionAttributeValues={":g": {"S": f"g{rng.randrange(4)}"}, ":t": {"S": f"t{rng.randrange(10)}"}},
        )
    else:
        key = {"PK": {"S": f"p{rng.randrange(6)}"}, "SK": {"S": f"s{rng.randrange(40):02d}"}}
        client.delete_item(TableName=TABLE, Key=key)


def _query(rng: random.Random) -> dict[str, Any]:
    on_index = rng.random() < 0.5
    pk, sk = ("GSI1PK", "GSI1SK") if on_index else ("PK", "SK")
    value = f"g{rng.randrange(5)}" if on_index else f"p{rng.randrange(7)}"  # g4 / p6: empty partitions
    condition, values = f"{pk} = :h", {":h": {"S": value}}
    kind = rng.randrange(4)
    if kind == 1:
        condition, values[":lo"] = condition + f" AND begins_with({sk}, :lo)", {"S": ("t" if on_index else "s0")}
    elif kind == 2:
        lo, hi = sorted(rng.sample(range(10), 2))
        condition += f" AND {sk} BETWEEN :lo AND :hi"
        values[":lo"], values[":hi"] = (
            ({"S": f"t{lo}"}, {"S": f"t{hi}"}) if on_index else ({"S": f"s{lo}"}, {"S": f"s{hi}9"})
        )
    elif kind == 3:
        condition, values[":lo"] = condition + f" AND {sk} > :lo", {"S": ("t4" if on_index else "s20")}
    query = {"TableName": TABLE, "KeyConditionExpression": condition, "ExpressionAttributeValues": values}
    query["ScanIndexForward"] = rng.random() < 0.5
    query["Limit"] = rng.choice([2, 5, 100])
    if on_index:
        query["IndexName"] = "GSI1"
    return query


def _pages(client: Any, query: dict[str, Any]) -> list[dict[str, Any]]:
    pages, start = [], None
    while True:
        answer = client.query(**query, **({"ExclusiveStartKey": start} if start else {}))
        answer.pop("ResponseMetadata")
        pages.append(answer)
        start = answer.get("LastEvaluatedKey")
        if not start or len(pages) > 60:
            return pages


def test_partition_first_query_answers_exactly_what_moto_answers(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(7)
    for _ in range(100):
        ddb.put_item(TableName=TABLE, Item=_item(rng))
    compared = nonempty = 0
    for _ in range(150):
        for _ in range(rng.randrange(3)):
            _write(ddb, rng)
        query = _query(rng)
        fast = _pages(ddb, query)
        with monkeypatch.context() as m:
            m.setattr(Table, "query", Table.query.unpatched)
            reference = _pages(ddb, query)
        assert fast == reference, query
        compared += 1
        nonempty += any(p["Items"] for p in fast)
    assert compared == 150 and nonempty > 75  # the comparison saw real answers, not only empty pages


def test_long_updates_apply_every_action_once(ddb: Any) -> None:
    key = {"PK": {"S": "u"}, "SK": {"S": "1"}}
    names = {f"#a{i}": f"a{i}" for i in range(30)}
    adds = ", ".join(f"#a{i} :one" for i in range(20))
    sets = ", ".join(f"#a{i} = :s" for i in range(20, 30))
    for _ in range(3):  # the same expression string each time: its parse is shared
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression=f"ADD {adds} SET {sets}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": "x"}},
        )
    item = ddb.get_item(TableName=TABLE, Key=key)["Item"]
    assert {k: v for k, v in item.items() if k.startswith("a")} == {
        **{f"a{i}": {"N": "3"} for i in range(20)},
        **{f"a{i}": {"S": "x"} for i in range(20, 30)},
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("ADD #a0 :one SET #a1 = :s ADD #a2 :one", 'The "ADD" section can only be used once'),
        ("SET #a1 = :s, #a2 = :s, #a3 = :s, #a1 = :s", "Two document paths overlap"),
        ("SET m.x = :s, #a2 = :s, m.x.y = :s", "Two document paths overlap"),
    ],
)
def test_refused_updates_are_still_refused_and_change_nothing(ddb: Any, expression: str, message: str) -> None:
    key = {"PK": {"S": "u"}, "SK": {"S": "2"}}
    ddb.put_item(TableName=TABLE, Item={**key, "m": {"M": {}}})
    names = {f"#a{i}": f"a{i}" for i in range(4)}
    with pytest.raises(ddb.exceptions.ClientError) as refused:
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames={k: v for k, v in names.items() if k in expression},
            ExpressionAttributeValues={
                k: v for k, v in {":one": {"N": "1"}, ":s": {"S": "x"}}.items() if k in expression
            },
        )
    assert message in str(refused.value)
    assert ddb.get_item(TableName=TABLE, Key=key)["Item"] == {**key, "m": {"M": {}}}


@pytest.fixture
def both_serialisers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every item operation's answer made twice, by the quick path and by moto's serialiser:
    the list of operations compared (a difference fails at the call)."""
    quick = ActionResult.execute_result
    compared: list[str] = []

    def execute_result(self: Any, context: Any) -> Any:
        status, headers, body = quick(self, context)
        ref_status, ref_headers, ref_body = quick.unpatched(self, context)  # type: ignore[attr-defined]
        name = context.operation_model.name
        assert (status, headers.get("Content-Type")) == (ref_status, ref_headers.get("Content-Type")), name
        assert json.loads(body) == json.loads(ref_body), name
        compared.append(name)
        return status, headers, body

    monkeypatch.setattr(ActionResult, "execute_result", execute_result)
    return compared


def test_item_answers_are_what_moto_serialises(ddb: Any, both_serialisers: list[str]) -> None:
    key = {"PK": {"S": "p"}, "SK": {"S": "1"}}
    ddb.put_item(TableName=TABLE, Item={**key, **EVERY_ATTRIBUTE_TYPE, "GSI1PK": {"S": "g"}, "GSI1SK": {"S": "t"}})
    ddb.put_item(TableName=TABLE, Item={**key, "n": {"N": "1"}}, ReturnValues="ALL_OLD", ReturnConsumedCapacity="TOTAL")
    ddb.put_item(TableName=TABLE, Item={**key, **EVERY_ATTRIBUTE_TYPE, "GSI1PK": {"S": "g"}, "GSI1SK": {"S": "t"}})
    ddb.get_item(TableName=TABLE, Key=key, ConsistentRead=True)
    ddb.get_item(TableName=TABLE, Key={"PK": {"S": "absent"}, "SK": {"S": "1"}})
    ddb.get_item(TableName=TABLE, Key=key, ProjectionExpression="m.inner, b, #s", ExpressionAttributeNames={"#s": "s"})
    for values in ("ALL_NEW", "UPDATED_OLD", "ALL_OLD", "UPDATED_NEW", "NONE"):
        ddb.update_item(
            TableName=TABLE,
            Key=key,
            UpdateExpression="ADD n :one SET s = :s",
            ExpressionAttributeValues={":one": {"N": "1"}, ":s": {"S": values}},
            ReturnValues=values,
            ReturnConsumedCapacity="INDEXES",
        )
    ddb.query(
        TableName=TABLE,
        KeyConditionExpression="PK = :p",
        ExpressionAttributeValues={":p": {"S": "p"}},
        ReturnConsumedCapacity="TOTAL",
    )
    ddb.query(
        TableName=TABLE,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :g",
        ExpressionAttributeValues={":g": {"S": "g"}},
        Limit=1,
    )
    ddb.query(
        TableName=TABLE, KeyConditionExpression="PK = :p", ExpressionAttributeValues={":p": {"S": "p"}}, Select="COUNT"
    )
    ddb.scan(TableName=TABLE, Limit=1)
    ddb.batch_get_item(RequestItems={TABLE: {"Keys": [key, {"PK": {"S": "absent"}, "SK": {"S": "2"}}]}})
    ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": {"PK": {"S": "q"}, "SK": {"S": "1"}}}}]})
    ddb.transact_get_items(TransactItems=[{"Get": {"TableName": TABLE, "Key": key}}])
    ddb.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": {"PK": {"S": "q"}, "SK": {"S": "2"}}}}],
        ReturnConsumedCapacity="TOTAL",
    )
    ddb.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    with pytest.raises(ddb.exceptions.ConditionalCheckFailedException):  # an error: moto's serialiser answers it
        ddb.delete_item(TableName=TABLE, Key=key, ConditionExpression="attribute_exists(PK)")
    assert set(both_serialisers) == {
        "PutItem", "GetItem", "UpdateItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
        "TransactGetItems", "TransactWriteItems", "DeleteItem",
    }  # fmt: skip


@pytest.mark.parametrize("moto_variant", ["moto-patched"], indirect=True)  # whatever MOTO_PATCHES says
def test_the_demo_seeds_traffic_is_answered_as_moto_serialises_it(aws: Any, both_serialisers: list[str]) -> None:
    from local.seed import seed_org

    seed_org()
    table = boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
    records = StreamReader(table["LatestStreamArn"]).read()  # its stream, images and times included
    assert len(records) > 50
    assert len(both_serialisers) > 50 and {"PutItem", "GetItem", "GetRecords"} <= set(both_serialisers)


PATCHED = [
    (Table, "query"),
    (Table, "all_items"),
    (Table, "__deepcopy__"),
    (ActionResult, "execute_result"),
    (DynamoDBBackend, "transact_write_items"),
    (DynamoDBBackend, "put_item"),
    (moto.core.responses, "method_names_from_class"),
    (botocore.useragent, "sanitize_user_agent_string_component"),
    (DepthFirstTraverser, "traverse_node_recursively"),
    (Item, "__init__"),
    (Endpoint, "make_request"),
    (UpdateExpressionParser, "make"),
    (validators, "deepcopy"),
]


def _attributes() -> list[Any]:
    return [owner.__dict__.get(name) for owner, name in PATCHED]


def test_moto_patches_off_runs_moto_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_patches(False):
        shipped = _attributes()
    assert shipped[2] is None  # moto's Table has no __deepcopy__ of its own
    with moto_patches(None), monkeypatch.context() as m:  # speed_ups() as the environment says
        m.setenv("MOTO_PATCHES", "on")
        speed_ups()
        assert all(a is not s for a, s in zip(_attributes(), shipped, strict=True))
        m.setenv("MOTO_PATCHES", "off")
        m.setattr(motoserver.moto, "__version__", "9.9.9")  # off: no version to check
        speed_ups()
        assert all(a is s for a, s in zip(_attributes(), shipped, strict=True))


def test_an_unchecked_moto_version_is_refused_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    with moto_patches(False):
        shipped = _attributes()
    with moto_patches(False), monkeypatch.context() as m:
        m.setattr(motoserver, "_FORCED", [None])  # speed_ups() as the environment says
        m.setattr(motoserver.moto, "__version__", "9.9.9")
        m.setenv("MOTO_PATCHES", "on")
        with pytest.raises(UncheckedMoto) as refused:
            speed_ups()
        assert "checked against moto 5.2.5, not 9.9.9" in str(refused.value)
        assert "MOTO_PATCHES=off" in str(refused.value)
        with pytest.raises(UncheckedMoto):
            apply_speed_ups()
        assert _attributes() == shipped  # nothing was patched


def test_remembered_functions_answer_what_the_originals_answer() -> None:
    from moto.core.responses import BaseResponse
    from moto.dynamodb.responses import DynamoHandler
    from moto.sqs.responses import SQSResponse

    with moto_patches(False):
        methods, sanitize = (
            moto.core.responses.method_names_from_class,
            botocore.useragent.sanitize_user_agent_string_component,
        )
    assert methods is moto.core.utils.method_names_from_class
    texts = ["Botocore", "md/arch#x86_64", "os/linux#6.1 x", "lang/python#3.13.0", "a b/c#d!$%&'*+-.^_`|~,", ""]
    with moto_patches(True):
        apply_speed_ups()
        remembered = moto.core.responses.method_names_from_class
        assert remembered is not methods
        for cls in (BaseResponse, DynamoHandler, SQSResponse, DynamoHandler):
            assert remembered(cls) == methods(cls) and "query" in methods(DynamoHandler)
        for text in texts * 2:
            for allow_hash in (True, False):
                assert botocore.useragent.sanitize_user_agent_string_component(text, allow_hash) == sanitize(
                    text, allow_hash
                )
        assert sanitize("os/linux#6.1 x", False) == "os-linux-6.1-x"


def _built(attrs: dict[str, Any]) -> Any:
    try:
        item = Item(DynamoType({"S": "pk"}), DynamoType({"S": "sk"}), attrs)
    except ItemSizeTooLarge:
        return "too large"
    return (type(item.attrs).__name__, list(item.attrs.items()))


def _attrs(size: int) -> dict[str, Any]:
    return {
        "PK": {"S": "pk"},
        "n": {"N": "12.5"},
        "tags": {"SS": ["a", "b"]},
        "m": {"M": {"k": {"L": [{"S": "x"}, {"BOOL": True}, {"NULL": True}]}}},
        "big": {"S": "x" * size},
        "after": {"S": "the attribute after the big one"},
    }


def test_items_are_built_and_refused_as_moto_builds_and_refuses_them() -> None:
    with moto_patches(False):
        low, high = 10, 500_000  # moto's largest "big" it accepts, by bisection
        assert _built(_attrs(low)) != "too large" and _built(_attrs(high)) == "too large"
        while high - low > 1:
            mid = (low + high) // 2
            low, high = (mid, high) if _built(_attrs(mid)) != "too large" else (low, mid)
        sizes = [10, low - 1, low, high, high + 1, 500_000]
        shipped = [_built(_attrs(size)) for size in sizes]
    with moto_patches(True):
        apply_speed_ups()
        quick = [_built(_attrs(size)) for size in sizes]
    assert quick == shipped
    assert [s == "too large" for s in quick] == [False, False, False, True, True, True]


UPDATES = [
    "SET #a = :a, #b = if_not_exists(#b, :zero) + :one REMOVE #r",
    "SET #c = list_append(if_not_exists(#c, :empty), :l), m.x[2].y = :a ADD #n :one, #s :set",
    "DELETE #s :set SET #a = #b - :one",
]


@pytest.mark.parametrize("expression", UPDATES)
def test_a_validators_copy_of_a_shared_parse_is_the_deep_copy_moto_makes(expression: str) -> None:
    with moto_patches(True):
        shared = UpdateExpressionParser.make(expression)
        assert UpdateExpressionParser.make(expression) is shared  # parsed once
        quick = validators.deepcopy(shared)
        moto_copy = copy.deepcopy(shared)
        assert _graph(quick) == _graph(moto_copy) == _graph(shared)  # the same nodes, values and links
        assert len(_graph(shared)) > 8
        assert not {id(n) for n in _nodes(quick)} & {id(n) for n in _nodes(shared)}  # none shared
        operand = DynamoType({"L": [{"S": "x"}]})  # a list_append operand is deep-copied as before
        assert validators.deepcopy(operand) == operand and validators.deepcopy(operand) is not operand
    with moto_patches(False):
        assert validators.deepcopy is copy.deepcopy


def _graph(root: Any) -> list[Any]:
    """A parse as a list of its nodes in visiting order: each node's class and attributes,
    a link to another node (a child, a parent) as that node's place in the list."""
    places: dict[int, int] = {}
    order: list[Any] = []

    def place(value: Any) -> Any:
        if isinstance(value, Node):
            if id(value) not in places:
                places[id(value)] = len(order)
                order.append(value)
            return ("node", places[id(value)])
        if isinstance(value, (list, tuple)):
            return [place(v) for v in value]
        return value

    place(root)
    shape = []
    for node in order:  # grows as links are found
        shape.append((type(node).__name__, {k: place(v) for k, v in vars(node).items()}))
    return shape


def _nodes(node: Any) -> list[Any]:
    return [node, *(n for child in node.children or [] if isinstance(child, Node) for n in _nodes(child))]
