"""A log of DynamoDB writes per partition key, for tests and benchmarks: every item a
request puts, deletes or updates (BatchWriteItem and TransactWriteItems item by item), with
the number of the request that wrote it, so a caller can count writes per key and per
(modelled) second. Hooks PynamoDB's connection, through which the app makes every request."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

WRITE_KINDS = {"PutItem": "put", "DeleteItem": "delete", "UpdateItem": "update"}
BATCH_KINDS = {"PutRequest": ("put", "Item"), "DeleteRequest": ("delete", "Key")}
TX_KINDS = {"Put": ("put", "Item"), "Delete": ("delete", "Key"), "Update": ("update", "Key")}


@dataclass(frozen=True)
class Write:
    request: int  # the number of the request (from 1) that wrote it
    kind: str  # put | delete | update
    pk: str


@dataclass
class WriteLog:
    requests: int = 0
    writes: list[Write] = field(default_factory=list)

    def reset(self) -> None:
        self.requests, self.writes = 0, []

    def items(self, kinds: tuple[str, ...] = ("put", "delete")) -> int:
        """Items written (by default puts and deletes: what PutItem, DeleteItem and
        BatchWriteItem count)."""
        return sum(1 for w in self.writes if w.kind in kinds)

    def per_key(self, kinds: tuple[str, ...] = ("put", "delete", "update")) -> Counter[str]:
        return Counter(w.pk for w in self.writes if w.kind in kinds)

    def record(self, operation: str, kwargs: dict[str, Any]) -> None:
        self.requests += 1
        for kind, key in _written(operation, kwargs):
            pk = (key.get("PK") or {}).get("S")
            if pk:
                self.writes.append(Write(self.requests, kind, pk))


def _written(operation: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if operation in WRITE_KINDS:
        yield WRITE_KINDS[operation], kwargs.get("Item") or kwargs.get("Key") or {}
    elif operation == "BatchWriteItem":
        for requests in (kwargs.get("RequestItems") or {}).values():
            for request in requests:
                for name, (kind, part) in BATCH_KINDS.items():
                    if name in request:
                        yield kind, request[name][part]
    elif operation == "TransactWriteItems":
        for action in kwargs.get("TransactItems") or []:
            for name, (kind, part) in TX_KINDS.items():
                if name in action:
                    yield kind, action[name][part]


@contextmanager
def logging_writes() -> Iterator[WriteLog]:
    """Every DynamoDB request made through PynamoDB meanwhile, its writes logged."""
    from pynamodb.connection.base import Connection

    log = WriteLog()
    original = Connection._make_api_call

    def logged(self: Any, operation_name: str, operation_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        log.record(operation_name, operation_kwargs or {})
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    Connection._make_api_call = logged  # type: ignore[method-assign]
    try:
        yield log
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]
