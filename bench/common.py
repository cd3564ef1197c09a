"""Shared benchmark plumbing: the test environment, moto in-process, request counting."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

BENCH_ENV = {
    "TABLE_NAME": "fieldsales-bench",
    "BUCKET_NAME": "fieldsales-bench-uploads",
    "STAGE": "test",
    "AUTH_MODE": "local",
    "LOCAL_JWT_SECRET": "bench-secret-with-enough-length-0123456789",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_LOG_LEVEL": "ERROR",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "TENANT_RATE": "off",  # benchmarks drive one tenant far above a fair share on purpose
}


def use_bench_env() -> None:
    os.environ.update(BENCH_ENV)
    for var in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(var, None)


@contextmanager
def moto_stack() -> Iterator[dict[str, str]]:
    """moto in-process with every resource the app uses (as the tests' `aws` fixture)."""
    use_bench_env()
    from moto import mock_aws

    from local.motoserver import speed_ups

    speed_ups()  # as the local stack: moto's costs follow a request's items, not the table

    with mock_aws():
        from chalicelib import aws as aws_clients
        from chalicelib.config import settings

        aws_clients.reset_clients()
        settings.cache_clear()
        from local.resources import create_all

        urls = create_all(os.environ["BUCKET_NAME"])
        os.environ["WEBHOOK_QUEUE_URL"] = urls["webhooks"]
        settings.cache_clear()
        yield urls


def moto_table() -> Any:
    """moto's in-memory table (for writing a large tenant's filler straight into it)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_REGION"]].get_table(os.environ["TABLE_NAME"])


@contextmanager
def straight_into_moto() -> Iterator[Callable[[Any], None]]:
    """``put(item)``: a PynamoDB item stored in moto's table as it would be by a save, without
    a request and without a stream record (the stream is paused meanwhile: the filler is
    written with what the stream's consumers would have computed, and nothing re-counts it)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    from local.motoserver import table_changed

    backend = moto_table()

    def put(item: Any) -> None:
        # what moto's put_item stores, without its per-attribute re-measuring of the item's
        # size (quadratic: most of the filler's time); these items are far below 400 KB
        attrs = item.serialize()
        stored = Item.__new__(Item)
        stored.hash_key, stored.range_key = DynamoType(attrs["PK"]), DynamoType(attrs["SK"])
        stored.attrs = LimitedSizeDict({name: DynamoType(value) for name, value in attrs.items()})
        backend.items[stored.hash_key][stored.range_key] = stored
        table_changed()  # local.motoserver's GSI partition maps are out of date now

    shard, backend.stream_shard = backend.stream_shard, None
    try:
        yield put
    finally:
        backend.stream_shard = shard


class StreamDriver:
    """Delivers the table stream's new records to the app's consumer (``handle_record`` of
    ``chalicelib/handlers/streams.py``), as Lambda would, until no new record comes."""

    def __init__(self) -> None:
        import boto3

        from local.pumps import StreamReader

        table = boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
        self.reader = StreamReader(table["LatestStreamArn"])

    def _read(self) -> list[dict[str, Any]]:
        return self.reader.read()

    def skip(self) -> int:
        """Past records (the org seed) left unread; answers how many."""
        return len(self._read())

    def pump(self) -> int:
        """Answers how many records were delivered."""
        from chalice.app import DynamoDBEvent

        from chalicelib.handlers.streams import handle_record

        delivered = 0
        for _ in range(20):
            records = self._read()
            if not records:
                return delivered
            for record in DynamoDBEvent({"Records": records}, None):
                handle_record(record)
            delivered += len(records)
        raise RuntimeError("the table stream did not settle")


class DynamoCounter:
    """Counts DynamoDB requests (PynamoDB and boto3 alike) and items read."""

    def __init__(self) -> None:
        self.ops: Counter[str] = Counter()
        self.items_read = 0
        self.consumed_rcu = 0.0

    @property
    def total(self) -> int:
        return sum(self.ops.values())

    def reset(self) -> None:
        self.ops.clear()
        self.items_read = 0
        self.consumed_rcu = 0.0


@contextmanager
def count_dynamodb() -> Iterator[DynamoCounter]:
    from pynamodb.connection.base import Connection

    counter = DynamoCounter()
    original = Connection._make_api_call

    def counting(self: Any, operation_name: str, operation_kwargs: Any, *args: Any, **kwargs: Any) -> Any:
        counter.ops[operation_name] += 1
        result = original(self, operation_name, operation_kwargs, *args, **kwargs)
        if isinstance(result, dict):
            if "Items" in result:
                counter.items_read += len(result["Items"])
            elif "Item" in result:
                counter.items_read += 1
            elif "Responses" in result and isinstance(result["Responses"], dict):
                counter.items_read += sum(len(v) for v in result["Responses"].values())
        return result

    Connection._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield counter
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]


def _seconds_in_fresh_interpreter(code: str, env: dict[str, str]) -> float:
    script = f"import time\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)\n"
    out = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def median_seconds_of_each(codes: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Median wall time of each snippet in fresh interpreters, the snippets taking turns
    (a, b, a, b, ...) so a machine that speeds up or slows down meanwhile (other tenants,
    CPU frequency) moves every snippet alike and their ratio stays honest."""
    full_env = {**os.environ, **BENCH_ENV, **(env or {})}
    # Untimed warm-up: fills the file cache and writes the bytecode of every module each
    # snippet imports (libraries and app alike: pip installs without compiling, see the
    # Makefile), so no timed run compiles source, whatever PYTHONDONTWRITEBYTECODE says.
    warm_env = {k: v for k, v in full_env.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for code in codes:
        _seconds_in_fresh_interpreter(code, warm_env)
    samples: list[list[float]] = [[] for _ in codes]
    for _ in range(runs):
        for i, code in enumerate(codes):
            samples[i].append(_seconds_in_fresh_interpreter(code, full_env))
    return [statistics.median(s) for s in samples]


def table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(ok: bool, text: str) -> str:
    return f"**{'PASS' if ok else 'FAIL'}**: {text}"
