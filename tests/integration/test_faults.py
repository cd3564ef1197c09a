"""Storage faults on the first attempt: a clean 503 (or success), never a partial write."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from chalicelib.models.crm import Account
from chalicelib.models.idempotency import IdempotencyRecord

WRITES = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


class Injector:
    """Fails the n-th DynamoDB call of the given operations with an AWS error code."""

    def __init__(self) -> None:
        self.plan: list[tuple[set[str], str, int]] = []
        self.seen: dict[str, int] = {}
        self.fired: list[str] = []

    def fail(self, operations: set[str], code: str, nth: int = 1) -> None:
        self.plan.append((operations, code, nth))

    def __call__(self, operation: str) -> None:
        self.seen[operation] = self.seen.get(operation, 0) + 1
        count = sum(self.seen.get(op, 0) for ops, _, _ in self.plan for op in ops if op == operation)
        for ops, code, nth in self.plan:
            if operation in ops and count == nth:
                self.fired.append(f"{operation}:{code}")
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
