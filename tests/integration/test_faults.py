"""Storage faults on the first attempt: a clean 503 (or success), never a partial write."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

from chalicelib.models.crm import Account
from chalicelib.models.idempotency import IdempotencyRecord

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class Injector:
    """Fails the n-th DynamoDB call of the given operations with an AWS error code, or with
    an exception of botocore's own (no answer from AWS at all)."""

    def __init__(self) -> None:
        self.plan: list[tuple[set[str], str | Exception, int]] = []
        self.seen: dict[str, int] = {}
        self.fired: list[str] = []

    def fail(self, operations: set[str], code: str | Exception, nth: int = 1) -> None:
        self.plan.append((operations, code, nth))

    def __call__(self, operation: str) -> None:
        self.seen[operation] = self.seen.get(operation, 0) + 1
        count = sum(self.seen.get(op, 0) for ops, _, _ in self.plan for op in ops if op == operation)
        for ops, code, nth in self.plan:
            if operation in ops and count == nth:
                self.fired.append(f"{operation}:{code}")
                if isinstance(code, Exception):
                    raise code
                raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> Injector:
    from pynamodb.connection.base import Connection

    injector = Injector()
    original = Connection._make_api_call

    def faulty(self: Any, operation_name: str, operation_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        injector(operation_name)
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", faulty)
    return injector


def accounts_named(name: str) -> int:
    return sum(1 for _ in Account.scan(Account.name == name))


def idempotency_records() -> int:
    return sum(1 for _ in IdempotencyRecord.scan())


@pytest.mark.parametrize(
    "code", ["ProvisionedThroughputExceededException", "ThrottlingException", "TransactionConflictException"]
)
@pytest.mark.parametrize("nth", [1, 2])
def test_create_with_a_storage_fault_is_503_and_writes_nothing(api, faults, code, nth):
    faults.fail(WRITES, code, nth=nth)
    status, body = api.post("/v1/accounts", {"name": "Faulty"}, headers={"Idempotency-Key": f"f-{code}-{nth}"})
    assert faults.fired, "the fault was never injected"
    if status == 201:  # the fault hit a step that is retried or not needed for the effect
        assert accounts_named("Faulty") == 1
    else:
        assert status == 503
        assert body["error"]["code"] == "retry_later"
        assert accounts_named("Faulty") == 0
        assert idempotency_records() == 0


def test_retry_after_a_503_succeeds_once(api, faults):
    faults.fail({"PutItem", "TransactWriteItems"}, "ProvisionedThroughputExceededException", nth=2)
    first, _ = api.post("/v1/accounts", {"name": "Retry Me"}, headers={"Idempotency-Key": "retry"})
    second, body = api.post("/v1/accounts", {"name": "Retry Me"}, headers={"Idempotency-Key": "retry"})
    third, again = api.post("/v1/accounts", {"name": "Retry Me"}, headers={"Idempotency-Key": "retry"})
    assert first == 503
    assert second == third == 201
    assert body == again
    assert accounts_named("Retry Me") == 1


def test_reads_under_throttling_are_503_not_500(api, faults):
    faults.fail({"GetItem", "Query"}, "ProvisionedThroughputExceededException")
    status, body = api.get("/v1/me")
    assert status == 503
    assert body["error"]["request_id"]


NO_ANSWER = [
    ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"),
    EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"),
    ConnectionClosedError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com/"),
]


@pytest.mark.parametrize("error", NO_ANSWER, ids=lambda e: type(e).__name__)
def test_no_answer_from_storage_is_503_not_500(api, faults, error):
    """A read that timed out after botocore's retries, or a connection refused or closed, is
    as transient as throttling: a clean 503 the app may retry, not an internal error."""
    faults.fail({"GetItem", "Query", "BatchGetItem"}, error)
    status, body = api.get("/v1/me")
    assert faults.fired and status == 503, body
    assert body["error"]["code"] == "retry_later"
    faults.plan.clear()
    faults.fail(WRITES, error)
    status, body = api.post("/v1/accounts", {"name": "No answer"}, headers={"Idempotency-Key": type(error).__name__})
    assert status == 503 and body["error"]["code"] == "retry_later", body
    assert accounts_named("No answer") == 0
