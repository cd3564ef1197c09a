"""Shared fixtures: moto in-process AWS, the table and bucket as `make run` creates them,
the demo org, tokens, and a JSON client over chalice.test.Client."""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import botocore
import pytest
from botocore.handlers import BUILTIN_HANDLERS

os.environ.update(
    {
        "TABLE_NAME": "fieldsales-test",
        "BUCKET_NAME": "fieldsales-test-uploads",
        "STAGE": "test",
        "AUTH_MODE": "local",
        "LOCAL_JWT_SECRET": "test-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_NAMESPACE": "FieldsalesTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TENANT_RATE": "off",  # the per-tenant limiter: tests/integration/test_tenant_limits.py turns it on
    }
)


def _unsigned_in_process(**_: Any) -> Any:
    """In-process moto (``mock_aws``) checks no signature: DynamoDB requests go unsigned
    (botocore's SigV4 signing was 5-8% of a test's CPU). A request to a moto server over
    HTTP (the end-to-end tests) is signed: the server routes it by its Authorization header."""
    from moto.core.models import botocore_stubber

    return botocore.UNSIGNED if botocore_stubber.enabled else None


# Every botocore session made from here on, the app's and PynamoDB's, starts with this
# handler, as with moto's own stubber.
BUILTIN_HANDLERS.append(("choose-signer.dynamodb", _unsigned_in_process))
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
    os.environ.pop(_var, None)


def pytest_configure(config: pytest.Config) -> None:
    """Each test process holds moto's backends and its snapshot worlds: the collector is
    tuned for that (local/gc_tuning.py)."""
    from local.gc_tuning import quiet_gc
    from local.switches import patches_wanted

    quiet_gc(patches_wanted())


@pytest.fixture(autouse=True)
def responses_match_their_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every response of chalice's test client must match its operation's declared model,
    with no field beyond it (tests/response_contract.py): the test fails at the call."""
    from chalice.test import TestHTTPClient

    from tests.response_contract import local_contract

    original = TestHTTPClient.request

    def checked(self: Any, method: str, path: str, headers: Any = None, body: bytes = b"") -> Any:
        response = original(self, method, path, headers=headers, body=body)
        content_type = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
        problems = local_contract().problems(method, path, response.status_code, content_type, response.body)
        assert not problems, f"{method} {path} answered outside its declared model: {problems}"
        return response

    monkeypatch.setattr(TestHTTPClient, "request", checked)


@pytest.fixture
def now_at_start(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The module's ``NOW`` is the moment each of its tests starts, not the moment the suite
    collected the module (``pytestmark = pytest.mark.usefixtures("now_at_start")``): the two
    are minutes apart in a long run, and a tenant's midnight in between made a test's
    "today" another day than the app's (the mileage claims at 16:22 UTC on 2026-12-07, the
    first minutes of the day in Shanghai)."""
    monkeypatch.setattr(request.module, "NOW", datetime.now(UTC).replace(microsecond=0))


# The worlds this process built once: "resources" (what `make run` creates), "demo" (plus
# the demo org) and each module's own (``kept_world``), kept as copies of moto's backends and
# put back for each test that asks for them (local.motoserver.snapshot_backends), rather than
# built again by a hundred AWS calls per test. TEST_WORLD_SNAPSHOTS=off builds every world afresh.
_WORLDS: dict[str, tuple[Any, Any]] = {}
_RESTORED = [""]  # the world the current test's aws fixture restored
World = TypeVar("World")


def _world(name: str, build: Callable[[], World]) -> World:
    """The named world: restored from this process's snapshot, or built and snapshotted;
    answers what its build answered (a copy: a test may change it)."""
    from local.gc_tuning import quiet_gc
    from local.motoserver import restore_backends, snapshot_backends
    from local.switches import patches_wanted

    if os.environ.get("TEST_WORLD_SNAPSHOTS", "on") == "off":
        return build()
    if name in _WORLDS:
        snapshot, answer = _WORLDS[name]
        restore_backends(snapshot)
        return copy.deepcopy(answer)
    answer = build()
    _WORLDS[name] = (snapshot_backends(), copy.deepcopy(answer))
    quiet_gc(patches_wanted())  # the snapshot lives as long as the process: out of the collector's sight
    return answer


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked ``both_motos`` runs twice: on moto with the local stand-in's patches
    (local/motoserver.py) and on moto as shipped; the same assertions hold for both."""
    if metafunc.definition.get_closest_marker("both_motos") and "moto_variant" in metafunc.fixturenames:
        metafunc.parametrize("moto_variant", ["moto-patched", "moto-as-shipped"], indirect=True)


@pytest.fixture
def moto_variant(request: pytest.FixtureRequest) -> Iterator[str]:
    """moto as MOTO_PATCHES says ("env"), or as a ``both_motos`` test's parameter says."""
    from local.motoserver import moto_patches

    variant = getattr(request, "param", "env")
    if variant == "env":
        yield variant
        return
    with moto_patches(variant == "moto-patched"):
        yield variant


@pytest.fixture
def aws(moto_variant: str, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """A fresh moto account with every resource the app uses (and the demo org, at once, for
    a test that asks for it once this process has its snapshot: one restore, not two)."""
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from chalicelib.config import settings
    from local.motoserver import speed_ups
    from local.resources import create_all
    from tests.support import shared_loader_default_session

    speed_ups()  # as the local stack: moto's costs follow a request's items, not the table
    with mock_aws():
        aws_clients.reset_clients()
        shared_loader_default_session()
        settings.cache_clear()
        ready = "demo" if "demo_org" in request.fixturenames and "demo" in _WORLDS else "resources"
        urls = _world(ready, lambda: create_all(os.environ["BUCKET_NAME"]))
        _RESTORED[0] = ready
        os.environ["WEBHOOK_QUEUE_URL"] = urls["webhooks"]
        settings.cache_clear()
        yield urls
        aws_clients.reset_clients()


@pytest.fixture
def demo_org(aws: dict[str, str]) -> None:
    """The demo org (local.seed.seed_org) in the test's fresh moto account. Its stream
    records are dropped, as a test's stream reader skips them anyway (the seed is history, not
    a change): the world is restored for each test, and copying them was 80% of a restore."""
    from local.motoserver import drop_stream_records
    from local.seed import seed_org

    def build() -> dict[str, str]:
        seed_org()
        drop_stream_records()
        return aws

    if _RESTORED[0] != "demo":  # else the aws fixture restored this world already
        _world("demo", build)


@pytest.fixture
def kept_world(request: pytest.FixtureRequest, demo_org: None) -> Callable[[Callable[[], World]], World]:
    """``kept_world(build)``: the calling module's own world, the demo org plus what
    ``build`` writes (through the app, as a test would), built by the module's first test in
    this process and put back for each later one, as the demo world is. Answers what
    ``build`` answered: the same ids in every test. For a world each test reads or changes
    from the same start; the module's tests must not depend on one another's changes. As
    in the demo world, the build's stream records are history: dropped, not kept."""
    from local.motoserver import drop_stream_records

    name = f"module:{request.module.__name__}"

    def keep(build: Callable[[], World]) -> World:
        def built() -> World:
            answer = build()
            drop_stream_records()
            return answer

        return _world(name, built)

    return keep


class Api:
    """JSON in, (status, json) out, with a local token per demo user."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def headers(
        self, user: str | None, tenant: str | None = None, extra: dict[str, str] | None = None
    ) -> dict[str, str]:
        from local.seed import TENANT, token

        headers = {"Content-Type": "application/json"}
        if user:
            headers["Authorization"] = f"Bearer {token(user, tenant or TENANT)}"
        headers.update(extra or {})
        return headers

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        as_: str | None = "rep_a",
        tenant: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, (str, bytes)) or body is None else json.dumps(body)
        response = getattr(self.client.http, method.lower())(path, body=raw, headers=self.headers(as_, tenant, headers))
        try:
            payload = json.loads(response.body) if response.body else None
        except ValueError:
            payload = response.body
        return response.status_code, payload

    def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("POST", path, body if body is not None else {}, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PUT", path, body if body is not None else {}, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return self.call("PATCH", path, body if body is not None else {}, **kw)

    def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return self.call("DELETE", path, **kw)


@pytest.fixture
def chalice_client(aws: dict[str, str]) -> Iterator[Any]:
    from app import app
    from local.gateway import ContractClient as Client

    with Client(app, stage_name="test") as client:
        yield client


@pytest.fixture
def api(chalice_client: Any, demo_org: None) -> Api:
    return Api(chalice_client)


class RequestCounter:
    """Counts DynamoDB requests by operation (PynamoDB and boto3 both go through botocore),
    and what each read asked for: ``reads`` holds one ``(operation, key)`` per item a
    GetItem or BatchGetItem names (``PK|SK``) and per Query (its partition key value)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.reads: list[tuple[str, str]] = []

    def __call__(self, operation: str, kwargs: Any = None) -> None:
        self.calls.append(operation)
        self.reads += read_keys(operation, kwargs or {})

    def read_counts(self) -> dict[str, int]:
        """How many times each item or Query partition was read."""
        counts: dict[str, int] = {}
        for _, key in self.reads:
            counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def total(self) -> int:
        return len(self.calls)

    def reset(self) -> None:
        self.calls.clear()
        self.reads.clear()


def read_keys(operation: str, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    def key(item: dict[str, Any]) -> str:
        return "|".join(str(next(iter(v.values()))) for v in item.values())

    if operation == "GetItem":
        return [(operation, key(kwargs["Key"]))]
    if operation == "BatchGetItem":
        return [(operation, key(k)) for table in kwargs["RequestItems"].values() for k in table["Keys"]]
    if operation == "Query":
        values = kwargs.get("ExpressionAttributeValues", {})
        names = kwargs.get("ExpressionAttributeNames", {})
        condition = kwargs.get("KeyConditionExpression", "")
        # the partition key's value: the first ``#name = :value`` of the key condition
        first = condition.split(" AND ")[0].strip("() ").split(" = ")
        value = values.get(first[1], {}) if len(first) == 2 else {}
        index = kwargs.get("IndexName") or "table"
        return [(operation, f"{index}:{names.get(first[0], first[0])}={next(iter(value.values()), '?')}")]
    return []


@pytest.fixture
def ddb_requests(monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    from pynamodb.connection.base import Connection

    counter = RequestCounter()
    original = Connection._make_api_call

    def counting(self: Any, operation_name: str, operation_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        counter(operation_name, operation_kwargs)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return counter


@pytest.fixture
def stream(api: Api, chalice_client: Any) -> Any:
    """The table stream after the demo seed, delivered to ``table_stream`` as Lambda would
    (tests/support.py's ``Stream``). Cancelled transactions (the re-drive's deduplicated
    sends) leave the stream shard in place (``local.motoserver.journal_transactions``), so
    the reader stays on a live shard."""
    from tests.support import Stream

    return Stream(chalice_client)


@pytest.fixture
def atomic_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    """One AWS request at a time, as each DynamoDB request is atomic on AWS (in-process
    moto restores a whole-table snapshot when a transaction fails, erasing other threads'
    writes). Requests from the threads still interleave freely. With the patches, in-process
    DynamoDB requests are applied one at a time already (``local.motoserver.in_process_calls``);
    this makes moto as shipped do the same."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()
    original = BotocoreStubber.process_request

    def process(self: Any, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", process)


@pytest.fixture
def secret(api: Api) -> str:
    """The demo tenant's finance integration, and the secret its webhooks are signed with."""
    from chalicelib.services.org import org

    return org.put_finance_integration("acme", "http://127.0.0.1:9/hook").secret


@pytest.fixture
def drain_work(aws: dict[str, str]) -> Any:
    """``drain()``: the schedules' fan-out work queue delivered to its worker as the event
    source mapping would (local/pumps.py's SqsPump, batchItemFailures honoured) until it is
    empty; answers how many batches were delivered."""
    from app import app
    from chalicelib.config import work_queue_name
    from local.pumps import SqsPump

    pump = SqsPump(app, print, queues={work_queue_name()})

    def drain(max_batches: int = 1000) -> int:
        before = pump.deliveries
        while pump.tick() and pump.deliveries - before < max_batches:
            pass
        return pump.deliveries - before

    return drain
