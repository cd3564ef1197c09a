"""The AWS stand-in for `make run`: a moto server in its own process (its own GIL, so the
API and the pumps do not queue behind it), with requests applied one at a time.

moto's in-memory backends are not thread-safe: concurrent TransactWriteItems calls were
seen failing inside moto ("dictionary changed size during iteration"). Real DynamoDB has
no such limit, so the stand-in serialises requests rather than let the app see errors
AWS would never send. Transactions are rolled back from a journal of the items they name
rather than from moto's copy of the whole table (``journal_transactions``), and a Query
reads the partition it names rather than the whole table (``partition_queries``). In the
tests' in-process moto, a DynamoDB request goes straight to moto's handler rather than
through an HTTP round trip (``in_process_calls``); in this server, rather than through moto's
domain dispatcher and Flask app (``quick_dynamodb_requests``).

The patches reach into moto's internals: they load only on a moto version they were checked
against (``CHECKED_MOTO``; any other is refused with ``UncheckedMoto``), and
``MOTO_PATCHES=off`` runs moto as shipped (``make test MOTO_PATCHES=off``).

    python -m local.motoserver --port 5005
"""

from __future__ import annotations

import argparse
import base64
import calendar
import contextlib
import copy
import dataclasses
import datetime
import functools
import json
import logging
import pickle
import re
import signal
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable, Iterator
from http import HTTPStatus
from types import SimpleNamespace
from typing import Any, Callable

import moto
import waitress
from botocore.awsrequest import AWSResponse
from moto.core.botocore_stubber import MockRawResponse
from moto.core.model_instances import reset_model_data
from moto.core.models import botocore_stubber
from moto.core.parse import PROTOCOL_PARSERS
from moto.core.responses import get_service_model
from moto.dynamodb.parsing.ast_nodes import Node
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.utilities.utils import get_partition
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from local.gc_tuning import quiet_gc
from local.orphans import exit_with_parent
from local.switches import patches_wanted

# The moto versions these patches were checked against (tests/unit/test_moto_speedups.py,
# tests/unit/test_moto_journal.py, and the suite with and without them): on any other,
# speed_ups() refuses to load them rather than risk answers moto would not give.
CHECKED_MOTO = ("5.2.5",)
_ABSENT = object()
_PATCHED: list[tuple[Any, str, Any]] = []  # (owner, attribute, what it was), in the order patched
_APPLIED: set[str] = set()
_FORCED: list[bool | None] = [None]  # set by moto_patches(): overrides MOTO_PATCHES inside its block


class UncheckedMoto(RuntimeError):
    """moto is not a version the patches were checked against."""


_IN_TRANSACTION = threading.local()
_QUERY = threading.local()
_WRITES = [0]  # bumped by every write moto applies: a GSI partition map older than that is stale


def journal_transactions() -> None:
    """Make moto's TransactWriteItems cost what its items cost, not what the table holds.

    moto deep-copies every table a transaction names before applying it, to roll back a
    cancelled one: each transaction took time proportional to the whole table (a 100-way
    concurrent submit took two minutes once the stack held a few thousand items). Here the
    table copy is skipped and a cancelled transaction is rolled back from a journal of the
    items it names, deep-copied one by one. The stream records the cancelled writes added
    are withdrawn too, as on AWS, where a cancelled transaction emits nothing. Requests are
    applied one at a time (``serialised``), so nothing else runs between write and rollback.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if not _begin("journal_transactions"):
        return
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        journal = _journal(self, transact_items)
        _IN_TRANSACTION.active = True
        try:
            original(self, transact_items)
        except Exception:
            _roll_back(journal)
            raise
        finally:
            _IN_TRANSACTION.active = False

    _patch(DynamoDBBackend, "transact_write_items", transact_write_items)
    _patch(Table, "__deepcopy__", _table_copy)


def _table_copy(self: Any, memo: dict[int, Any]) -> Any:
    """Inside a journaled transaction the "backup" is the table itself (the journal rolls
    back); anywhere else a real deep copy."""
    if getattr(_IN_TRANSACTION, "active", False):
        return self
    clone = type(self).__new__(type(self))
    memo[id(self)] = clone
    for name, value in self.__dict__.items():
        if name != "_partition_maps":  # partition_queries' map of the original's items
            setattr(clone, name, copy.deepcopy(value, memo))
    return clone


def _journal(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(table, hash, range, the item as it was or None, stream length) per item named."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    journal: list[tuple[Any, ...]] = []
    for entry in transact_items:
        try:
            _, op = next(iter(entry.items()))
            table = backend.get_table(op["TableName"])
            key = op["Item"] if "Item" in op else op["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
            before = table.get_item(hash_value, range_value)
        except Exception:  # noqa: BLE001 - moto itself refuses this entry; nothing to journal
            continue
        shard = table.stream_shard
        journal.append((table, hash_value, range_value, copy.deepcopy(before), len(shard.items) if shard else 0))
    return journal


def _roll_back(journal: list[tuple[Any, ...]]) -> None:
    for table, hash_value, range_value, before, stream_length in reversed(journal):
        if range_value is None:
            if before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        else:
            bucket = table.items[hash_value]
            if before is None:
                bucket.pop(range_value, None)
                if not bucket:
                    table.items.pop(hash_value, None)
            else:
                bucket[range_value] = before
        shard = table.stream_shard
        if shard is not None and len(shard.items) >= stream_length:
            del shard.items[stream_length:]


def partition_queries() -> None:
    """Make moto's Query cost what its partition holds, not what the table holds.

    moto 5.2 answers every Query by sorting every item of the table and then comparing each
    one's key with the one asked for (on a GSI, each item's index key attribute): a query's
    cost grew with the table, and on the local stack it was a third of moto's CPU. Here a
    Query starts from the candidates of its partition: the table's own dict of the partition
    for the base table; for a GSI, a map from the index's partition key value to its items,
    rebuilt at most once per write. moto's own query then sorts, pages, compares and filters
    those candidates as before, so every answer is what moto gave (tests/unit/test_moto_speedups.py).
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if not _begin("partition_queries"):
        return
    original_query, original_all_items = Table.query, Table.all_items

    def all_items(self: Any) -> Any:
        narrowed = getattr(_QUERY, "candidates", None)
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return original_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto's signature: range_comparison, range_objs, limit, exclusive_start_key,
        # scan_index_forward, projection_expressions, index_name, ... (DynamoDBBackend.query)
        index_name = kwargs["index_name"] if "index_name" in kwargs else (args[6] if len(args) > 6 else None)
        candidates = _candidates(self, hash_key, index_name, kwargs.get("hash_key_conditions"))
        _QUERY.candidates = None if candidates is None else (self, candidates)
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            _QUERY.candidates = None

    query.unpatched = original_query  # type: ignore[attr-defined] - moto's own, for the equivalence test
    _patch(Table, "query", query)
    _patch(Table, "all_items", all_items)
    for owner, names in (
        (DynamoDBBackend, ("put_item", "update_item", "delete_item", "transact_write_items", "execute_statement")),
        (DynamoDBBackend, ("execute_transaction", "batch_execute_statement", "restore_table_from_backup")),
        (Table, ("put_item", "delete_item")),
    ):
        for name in names:
            if hasattr(owner, name):
                _patch(owner, name, _counting_writes(getattr(owner, name)))


def quick_update_expressions() -> None:
    """Parse an UpdateExpression once, and check its clauses once, at its root.

    moto's AST nests one UpdateExpression node per action, and its ActionCountValidator and
    OverlappingPathsValidator searched the whole subtree again at every level: an update of
    n actions cost n^2 (a 20-action ADD took about 100 ms). Every level's clauses are a
    subset of the root's, so what a level refuses the root refuses too. The app sends the
    same few expression strings over and over; moto parses each one afresh, and its
    validator works on a deep copy of the tree, so the parsed tree can be shared (the copy
    is made from its pickled form, ``_copy_of_parse``). Each of the validator's passes looks
    up its processors once, not at every node.
    """
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, UpdateExpression
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import ActionCountValidator, OverlappingPathsValidator

    if not _begin("quick_update_expressions"):
        return
    parse = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=2048)
    def parse_once(cls: Any, expression: str) -> Any:
        tree = parse(cls, expression)
        _PARSED_TREES[tree] = pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
        return tree

    _patch(UpdateExpressionParser, "make", classmethod(parse_once))
    _patch(validators, "deepcopy", _copy_of_parse)

    for validator, check in (
        (ActionCountValidator, ActionCountValidator.verify_action_counts),
        (OverlappingPathsValidator, OverlappingPathsValidator.check_for_overlapping_paths),
    ):
        original = validator.traverse

        def traverse(self: Any, node: Any, _check: Any = check, _original: Any = original) -> Any:
            return _check(self, node) if isinstance(node, UpdateExpression) else _original(self, node)

        _patch(validator, "traverse", traverse)

    _patch(DepthFirstTraverser, "traverse_node_recursively", _traverse_once_mapped)


# A shared parse's pickled form: unpickling it makes the validator's private copy about 8x
# faster than the deep copy moto makes of it for every UpdateItem (the same objects, the same
# links, nothing shared with the parse).
_PARSED_TREES: weakref.WeakKeyDictionary[Any, bytes] = weakref.WeakKeyDictionary()


def _copy_of_parse(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``deepcopy`` for moto's update validators: a shared parse is copied from its pickled
    form, anything else (a list_append's operand) deep-copied as before."""
    blob = _PARSED_TREES.get(value) if isinstance(value, Node) else None
    return pickle.loads(blob) if blob is not None else copy.deepcopy(value, memo)


def _traverse_once_mapped(self: Any, node: Any, child_id: int = -1) -> Any:
    """moto's ``DepthFirstTraverser.traverse_node_recursively``, with the traverser's map of
    node classes to processors built once per traversal instead of twice per node (about
    half of an update's validation: each of its eight passes visits every node)."""
    processors = self._processing_map()
    kinds = tuple(processors)

    def walk(node: Any, child_id: int) -> Any:
        if isinstance(node, Node):
            parent = node.parent
            if node.children is not None:
                for i, child in enumerate(node.children):
                    self.pre_processing_of_child(node, i)
                    walk(child, i)
            if isinstance(node, kinds):
                node = next(process for kind, process in processors.items() if isinstance(node, kind))(node)
                node.parent = parent
                if parent:
                    parent.children[child_id] = node
        return node

    return walk(node, child_id)


def quick_item_sizes() -> None:
    """Build a moto item with one sum of its size, not one per attribute.

    moto checks the 400 KB item limit as it builds an item attribute by attribute, summing
    every attribute so far each time: n^2/2 size computations for an item of n attributes
    (up to 16% of an update-heavy test's time). The sum over the whole item is at least
    every partial sum, so when it is within the limit no step would have refused; when it
    is not, moto's own build runs and refuses at the same attribute as before."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    if not _begin("quick_item_sizes"):
        return
    original = Item.__init__

    def build(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        values = {key: DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in values.items()) > ITEM_SIZE_LIMIT:
            original(self, hash_key, range_key, attrs)  # refuses where moto refuses
            return
        self.hash_key, self.range_key = hash_key, range_key
        self.attrs = LimitedSizeDict()
        dict.update(self.attrs, values)

    _patch(Item, "__init__", build)


ITEM_SIZE_LIMIT = 405_000  # moto's LimitedSizeDict: between DynamoDB's measured 409 and 410 KB


def remembered_pure_functions() -> None:
    """Remember two pure functions every request calls with the same few arguments: moto's
    list of a response class's methods (``inspect.getmembers`` on each request, to find the
    action's handler) and botocore's clean-up of each user-agent component (a character-by-
    character pass over the same strings, a dozen times per request). Together they were
    about 7% of a test's time. Each answer depends on its arguments only, so remembering it
    changes no answer."""
    import botocore.useragent
    import moto.core.responses

    if not _begin("remembered_pure_functions"):
        return
    for owner, name in (
        (moto.core.responses, "method_names_from_class"),
        (botocore.useragent, "sanitize_user_agent_string_component"),
    ):
        _patch(owner, name, functools.lru_cache(maxsize=1024)(getattr(owner, name)))


# The operations whose answers are items, their keys and stream records: wire-format dicts
# whose shape adds nothing but the choice of top-level members.
_JSON_ANSWERS = frozenset(
    {("dynamodb", name) for name in ("BatchGetItem", "BatchWriteItem", "DeleteItem", "GetItem", "PutItem")}
    | {("dynamodb", name) for name in ("Query", "Scan", "TransactGetItems", "TransactWriteItems", "UpdateItem")}
    | {("dynamodbstreams", "GetRecords")}
)


def quick_results() -> None:
    """Answer DynamoDB's item operations and the stream's GetRecords with ``json.dumps``.

    moto 5.2 serialises every answer by walking the operation's output shape in the botocore
    model, member by member, looking up each value under several candidate key spellings: it
    was 40% of the time of an integration test (90 of 218 s in test_lists.py's profile), and
    a GetRecords of a busy stream took 110 ms. These results are already what the JSON
    protocol sends (attribute values as ``{"S": ...}`` dicts, ``Items``, ``LastEvaluatedKey``,
    ``ConsumedCapacity``, ``Records``: the names of the output shape), so they are dumped as
    they are: binary values in base64 and times in epoch seconds to the millisecond, as the
    protocol has them, and only the output shape's top-level members (moto adds a few keys of
    its own, such as ConsumedCapacityUnits). Errors and every other operation keep moto's
    serialiser; tests/unit/test_moto_speedups.py checks that both give the same answer.
    """
    from moto.core.responses import ActionResult
    from moto.core.serialize import JSONSerializer

    if not _begin("quick_results"):
        return
    original = ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        operation = context.operation_model
        service = operation.service_model
        if (
            service.service_name,
            operation.name,
        ) not in _JSON_ANSWERS or context.serializer_class is not JSONSerializer:
            return original(self, context)
        members = operation.output_shape.members
        answer = {k: v for k, v in self.result.items() if k in members and v is not None}
        content_type = f"application/x-amz-json-{service.metadata.get('jsonVersion', '1.0')}"
        return 200, {"Content-Type": content_type}, json.dumps(answer, default=_wire_value)

    execute_result.unpatched = original  # type: ignore[attr-defined] - moto's own, for the equivalence test
    _patch(ActionResult, "execute_result", execute_result)


def _wire_value(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, datetime.datetime):  # moto's are naive UTC; milliseconds truncated as moto does
        aware = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        seconds = calendar.timegm(aware.utctimetuple())
        return seconds + (value.microsecond // 1000) / 1000.0 if value.microsecond else seconds
    raise TypeError(f"no DynamoDB wire form for {type(value).__name__}")


def in_process_calls() -> None:
    """Hand an in-process DynamoDB request straight to moto's DynamoDB handler.

    Inside ``mock_aws`` a DynamoDB request went through botocore's HTTP machinery (a
    prepared request, its user agent, the retry loop, the send events) to moto's stubber,
    which rebuilt it as a werkzeug request, parsed its body as a query string and then as
    JSON, and answered it for botocore to parse again: about two thirds of a GetItem's time
    (1.8 ms, against 0.6 ms here). Here the request botocore serialised goes to the same
    handler class moto would pick (``DynamoHandler``) with the same body, target, region and
    account, and its answer to the same botocore parser, modeled error fields included: what
    the app and the tests see is what moto answered. Only requests the stubber would answer
    take this way (inside ``mock_aws``, to DynamoDB's AWS endpoint); a moto server over HTTP,
    other services and the streams keep botocore's whole path.

    Each request is applied whole before the next one starts, as a DynamoDB request is
    atomic on AWS (in-process moto is not thread-safe: a thread's cancelled transaction
    restored items other threads had written meanwhile).
    """
    from botocore.endpoint import Endpoint

    if not _begin("in_process_calls"):
        return
    original = Endpoint.make_request

    def make_request(self: Any, operation_model: Any, request_dict: dict[str, Any]) -> Any:
        region = _in_process_region(request_dict["url"])
        if region is None:
            return original(self, operation_model, request_dict)
        return _answer_in_process(self, operation_model, request_dict, region)

    _patch(Endpoint, "make_request", make_request)


_DYNAMODB_URL = re.compile(r"https?://dynamodb\.([a-z0-9-]+)\.amazonaws\.com/?$")
_IN_PROCESS_LOCK = threading.RLock()


def _in_process_region(url: str) -> str | None:
    """The region of a request moto's in-process stubber would answer as DynamoDB, or None."""
    match = _DYNAMODB_URL.match(url)
    return match.group(1) if match and botocore_stubber.enabled else None


def _answer_in_process(endpoint: Any, operation_model: Any, request_dict: dict[str, Any], region: str) -> Any:
    body = request_dict["body"]
    handler = _InProcessDynamo(operation_model.name, body if isinstance(body, bytes) else body.encode(), region)
    with _IN_PROCESS_LOCK:
        status, headers, raw = _answered(handler)
    headers = {key: str(value) for key, value in headers.items() if key != "status"}
    http = AWSResponse(request_dict["url"], int(status), headers, MockRawResponse(raw))
    response = {"status_code": http.status_code, "headers": http.headers, "body": raw}
    parser = endpoint._response_parser_factory.create_parser(operation_model.service_model.resolved_protocol)
    parsed = parser.parse(response, operation_model.output_shape)
    if http.status_code >= 300:
        endpoint._add_modeled_error_fields(response, parsed, operation_model, parser)
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    return http, parsed


def _answered(handler: Any) -> tuple[int, dict[str, Any], bytes]:
    """moto's answer to a request set up in ``handler``: status, headers and body, an error
    moto raises answered as moto's server and stubber answer it."""
    try:
        status, headers, answer = handler.call_action()
    except HTTPException as error:
        status, headers, answer = error.code, dict(error.get_headers()), error.get_body()
    return int(status), headers, answer.encode("utf-8") if isinstance(answer, str) else answer


class _InProcessDynamo(DynamoHandler):
    """moto's DynamoDB handler, set up from a serialised request as
    ``BaseResponse.setup_class`` sets it up from the werkzeug request it rebuilds: the body,
    the target, the region and the account (moto's own rule: MOTO_ACCOUNT_ID, else the
    ``x-moto-account-id`` header or the access key of a signed request, else the default
    account), and the parameters parsed from the body by moto's parser for the operation."""

    def __init__(self, operation: str, body: bytes, region: str, signed: Headers | None = None) -> None:
        super().__init__()
        self.raw_body, self.body = body, body.decode("utf-8")
        self.method, self.region, self.partition = "POST", region, get_partition(region)
        self.uri_match, self.querystring = {}, {}
        self.data = self.querystring
        self.headers = Headers(signed)
        self.headers["Content-Type"] = "application/x-amz-json-1.0"
        self.headers["X-Amz-Target"] = f"{DYNAMODB_TARGET}{operation}"
        self.response_headers = {"server": "amazon.com"}
        self.current_account = self.get_current_account()
        model = get_service_model(self.boto3_service_name).operation_model(operation)
        parser = PROTOCOL_PARSERS["json"](model, map_type=self.PROTOCOL_PARSER_MAP_TYPE)
        self.params = parser.parse(
            {"method": "POST", "values": {}, "headers": self.headers, "body": body, "url_path": "/", "url_params": {}}
        )


DYNAMODB_TARGET = "DynamoDB_20120810."
# moto's server app answers every request with this header (flask-cors); so does the short way
_SERVER_CORS = ("Access-Control-Allow-Origin", "*")


def quick_dynamodb_requests(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """The moto server's WSGI app, with a DynamoDB request handed straight to moto's
    DynamoDB handler.

    moto's server sends every request through its domain dispatcher (which finds the
    service from the headers), a Flask app and moto's request set-up (the body parsed as a
    query string, then as JSON): about half of the server's time in the end-to-end tests and
    schemathesis, against a quarter for moto's DynamoDB work. Here a DynamoDB request (JSON,
    its operation named in ``X-Amz-Target``) goes to the same handler class with the same
    body, region and account (``_InProcessDynamo``, as in-process requests do), and its
    answer goes back with the status, headers and body moto's server would send. Any other
    request (the streams, SQS, S3, an operation DynamoDB does not have) goes to ``app``.
    Only with the patches (``speed_ups``); ``serialised`` still applies the requests one at a
    time."""
    if not _patches_on():
        return app
    require_checked_moto()  # sets up moto's handler itself
    operations = frozenset(get_service_model("dynamodb").operation_names)

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target.removeprefix(DYNAMODB_TARGET)
        if environ.get("REQUEST_METHOD") != "POST" or operation == target or operation not in operations:
            return app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        signed = Headers(
            (name, environ[key])
            for name, key in (
                ("Authorization", "HTTP_AUTHORIZATION"),
                ("User-Agent", "HTTP_USER_AGENT"),
                ("x-moto-account-id", "HTTP_X_MOTO_ACCOUNT_ID"),
            )
            if key in environ
        )
        full_url = f"{environ['wsgi.url_scheme']}://{environ.get('HTTP_HOST', '')}{environ.get('PATH_INFO', '/')}"
        region = DynamoHandler().get_region_from_url(SimpleNamespace(headers=signed), full_url)
        status, headers, raw = _answered(_InProcessDynamo(operation, body, region, signed))
        listed = [(key, str(value)) for key, value in headers.items()]
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [*listed, _SERVER_CORS, ("Content-Length", str(len(raw)))],
        )
        return [raw]

    return wsgi


def speed_ups() -> None:
    """Every speed-up of moto above, as the local stack, the tests and the benchmarks use
    them; none with ``MOTO_PATCHES=off`` (``make test MOTO_PATCHES=off``: moto as shipped,
    to tell a difference of the patches from one of the app)."""
    if not _patches_on():
        remove_speed_ups()
        return
    apply_speed_ups()


def _patches_on() -> bool:
    """What ``moto_patches`` forces, else what MOTO_PATCHES says."""
    return _FORCED[0] if _FORCED[0] is not None else patches_wanted()


def apply_speed_ups() -> None:
    """Every speed-up, whatever ``MOTO_PATCHES`` says (the equivalence tests compare them)."""
    journal_transactions()  # a transaction costs its items, not the table
    partition_queries()  # a Query its partition
    quick_update_expressions()  # an update its actions
    quick_results()  # and an answer its JSON
    remembered_pure_functions()  # and no request recomputes what never changes
    quick_item_sizes()  # an item's size is summed once, not once per attribute
    in_process_calls()  # and an in-process request skips the HTTP round trip


def require_checked_moto() -> None:
    """Refuse to patch a moto these patches were not checked against: three of the four
    would give wrong answers, not errors, if moto's internals moved."""
    if moto.__version__ not in CHECKED_MOTO:
        raise UncheckedMoto(
            f"local/motoserver.py patches moto's internals and was checked against moto "
            f"{', '.join(CHECKED_MOTO)}, not {moto.__version__}. Run without the patches "
            "(MOTO_PATCHES=off, e.g. `make test MOTO_PATCHES=off`), or check them against this "
            "version (tests/unit/test_moto_speedups.py, test_moto_journal.py, and the suite both "
            "ways) and add it to CHECKED_MOTO."
        )


def remove_speed_ups() -> None:
    """moto as shipped again: every patched attribute back as it was, latest first."""
    while _PATCHED:
        owner, name, original = _PATCHED.pop()
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)
    _APPLIED.clear()
    _WRITES[0] += 1


@contextlib.contextmanager
def moto_patches(on: bool | None) -> Iterator[None]:
    """Within the block moto runs with (``on``) or without every speed-up, ``speed_ups()``
    included (the tests that run both ways), or as MOTO_PATCHES says (None); after it, as
    before."""
    before, forced = set(_APPLIED), _FORCED[0]
    remove_speed_ups()
    _FORCED[0] = on
    try:
        if on or (on is None and patches_wanted()):
            apply_speed_ups()
        yield
    finally:
        _FORCED[0] = forced
        remove_speed_ups()
        if before:
            apply_speed_ups()


def _begin(patch: str) -> bool:
    """True when ``patch`` is to be applied now (not yet applied; moto's version checked)."""
    if patch in _APPLIED:
        return False
    require_checked_moto()
    _APPLIED.add(patch)
    return True


def _patch(owner: Any, name: str, value: Any) -> None:
    _PATCHED.append((owner, name, owner.__dict__.get(name, _ABSENT)))
    setattr(owner, name, value)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Copies of moto's backends: (the service's BackendDict, account, region, backend)."""

    backends: tuple[tuple[Any, str, str, Any], ...]


def snapshot_backends() -> Snapshot:
    """A copy of every moto backend in use (inside ``mock_aws``): what a test world holds
    once built, to be put back by ``restore_backends`` instead of being built again."""
    require_checked_moto()  # reads moto's BackendDict registry and its SQS queues' locks
    from moto.core.base_backend import BackendDict

    return Snapshot(
        tuple(
            (service, account, region, _copy_backend(backend))
            for service in BackendDict._instances
            for account, regions in dict.items(service)
            for region, backend in dict.items(regions)
        )
    )


def restore_backends(snapshot: Snapshot) -> None:
    """Every backend as in ``snapshot`` (inside a fresh ``mock_aws``), each a new copy: the
    snapshot stays as taken whatever the test then writes."""
    for service, account, region, backend in snapshot.backends:
        dict.__setitem__(service[account], region, _copy_backend(backend))
    table_changed()


def _copy_backend(backend: Any) -> Any:
    from moto.sqs.models import SQSBackend

    memo: dict[int, Any] = {}
    if isinstance(backend, SQSBackend):  # each queue waits on a Condition: the copy gets its own
        memo.update({id(q._messages_lock): threading.Condition() for q in backend.queues.values()})
    return copy.deepcopy(backend, memo)


def table_changed() -> None:
    """For code that writes into moto's tables directly (the benchmarks' fillers): the GSI
    partition maps of ``partition_queries`` are rebuilt on their next Query."""
    _WRITES[0] += 1


def _counting_writes(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def write(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        finally:
            _WRITES[0] += 1  # after the write (and after a cancelled one's roll-back)

    return write


def _candidates(table: Any, hash_key: Any, index_name: str | None, hash_conditions: Any) -> list[Any] | None:
    """The items a Query can return, or None where moto's full pass must decide."""
    if index_name is None:
        if not table.range_key_attr or hash_key is None:
            return None
        partition = table.items.get(hash_key)  # a defaultdict: .get creates nothing
        return list(partition.values()) if partition else []
    index = next((i for i in table.all_indexes() if i.name == index_name), None)
    hash_attrs = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"] if index else []
    wanted = dict(hash_conditions or [])
    if len(hash_attrs) != 1 or hash_attrs[0] not in wanted:
        return None  # moto answers its own validation error, or a case this map does not cover
    return list(_index_partitions(table, index_name, hash_attrs[0]).get(wanted[hash_attrs[0]], ()))


def _index_partitions(table: Any, index_name: str, attr: str) -> dict[Any, list[Any]]:
    cache = table.__dict__.setdefault("_partition_maps", {})
    built = cache.get(index_name)
    if built is not None and built[0] == _WRITES[0]:
        return built[1]
    partitions: dict[Any, list[Any]] = defaultdict(list)
    for bucket in table.items.values():
        for item in bucket.values() if table.range_key_attr else (bucket,):
            value = item.attrs.get(attr)
            if value is not None:
                partitions[value].append(item)
    cache[index_name] = (_WRITES[0], partitions)
    return partitions


def serialised(app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
    """One request at a time, each forgetting moto's record of the instances it made."""
    lock = threading.Lock()

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with lock:
            try:
                return list(app(environ, start_response))
            finally:
                forget_tracked_instances()

    return wsgi


def forget_tracked_instances() -> None:
    """moto keeps every model instance it ever made (each item, table, stream record) in a
    list on its class, for its dashboard, until ``mock_aws`` ends: a long-lived stand-in (the
    local stack's server, a test module's world) kept every item version, and every table a
    transaction copied (moto as shipped copies each table a transaction names: a test worker
    of the whole suite grew to 18 GB). The live data is in the backends; the lists go."""
    reset_model_data()


def drop_stream_records() -> None:
    """Drop the records of every in-process table's stream, its sequence numbers going on.

    moto keeps a stream's records for good (AWS drops them after 24 hours), and moto as
    shipped copies them with the table in every transaction: in a module's world, which
    lives for hundreds of tests, the copies grew with every test (an authorization cell took
    12 s, nearly all of it copying the records of the cells before). The next record gets
    the next number, so a reader that has read to the end reads on from there (its next
    iterator starts after the last record it read, where the shard now starts). For when
    nothing is left to read: a world between two tests, a test's stream reader after a read,
    a seed that is history to the tests."""
    require_checked_moto()  # moves a StreamShard's numbering
    from moto.dynamodb.models import dynamodb_backends

    for regions in dict.values(dynamodb_backends):
        for backend in dict.values(regions):
            for table in backend.tables.values():
                shard = table.stream_shard
                if shard is not None and shard.items:
                    shard.starting_sequence_number += len(shard.items)
                    shard.items = []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto server, one request at a time")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--ignore-interrupt",
        action="store_true",
        help="leave Ctrl-C to the parent: `make run` stops its pumps first, then terminates this server",
    )
    parser.add_argument("--exit-with-parent", action="store_true", help="end when the process that started it ends")
    args = parser.parse_args(argv)
    if args.ignore_interrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    if args.exit_with_parent:
        exit_with_parent()
    logging.getLogger("waitress").setLevel(logging.ERROR)
    speed_ups()
    quiet_gc(patches_wanted())
    app = serialised(quick_dynamodb_requests(DomainDispatcherApplication(create_backend_app)))
    # waitress, not moto's werkzeug server: werkzeug answers every request with
    # "Connection: close", so each AWS call the app made opened a new TCP connection and
    # a new server thread (a fifth of the stack's CPU and a sixth of moto's). waitress keeps
    # HTTP/1.1 connections alive, serves them from a fixed pool of threads and sets
    # TCP_NODELAY (without it, a response's body waited 40 ms for the client's delayed ACK).
    waitress.serve(
        app,
        host=args.host,
        port=args.port,
        threads=8,
        connection_limit=1000,  # every app thread, pump and test client keeps its own pool
        backlog=1024,
        channel_timeout=600,
        asyncore_use_poll=True,
        ident="moto",
    )


if __name__ == "__main__":
    main()
