"""Shared benchmark plumbing: the test environment, moto in-process, request counting."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
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

    from local.motoserver import journal_transactions, partition_queries, quick_update_expressions

    journal_transactions()  # as the local stack does: a transaction costs its items, not the table
    partition_queries()  # a Query its partition
    quick_update_expressions()  # and an update its actions

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
