"""Shared fixtures: moto in-process AWS, the table and bucket as `make run` creates them,
the demo org, tokens, and a JSON client over chalice.test.Client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

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
for _var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
    os.environ.pop(_var, None)


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
def aws() -> Iterator[dict[str, str]]:
    """A fresh moto account with every resource the app uses."""
    from moto import mock_aws

    from chalicelib import aws as aws_clients
    from chalicelib.config import settings
    from local.motoserver import speed_ups

    speed_ups()  # as the local stack: moto's costs follow a request's items, not the table
    with mock_aws():
        aws_clients.reset_clients()
        settings.cache_clear()
        from local.resources import create_all

        urls = create_all(os.environ["BUCKET_NAME"])
        os.environ["WEBHOOK_QUEUE_URL"] = urls["webhooks"]
        settings.cache_clear()
        yield urls
        aws_clients.reset_clients()


@pytest.fixture
def demo_org(aws: dict[str, str]) -> None:
    from local.seed import seed_org

    seed_org()


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
    """Counts DynamoDB requests by operation (PynamoDB and boto3 both go through botocore)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, operation: str) -> None:
        self.calls.append(operation)

    @property
    def total(self) -> int:
        return len(self.calls)

    def reset(self) -> None:
        self.calls.clear()


@pytest.fixture
def ddb_requests(monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    from pynamodb.connection.base import Connection

    counter = RequestCounter()
    original = Connection._make_api_call

    def counting(self: Any, operation_name: str, operation_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        counter(operation_name)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    return counter


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
