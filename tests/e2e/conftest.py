"""The real local stack (`make run`'s code path) in a subprocess, driven over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.harness import LocalStack, running_stack

SECRET = "e2e-secret-of-sufficient-length-0123456789"


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """``stack.call(method, path, body, as_=user)``, ``stack.fire(schedule)``, ``stack.drain()``."""
    os.environ["LOCAL_JWT_SECRET"] = SECRET
    with running_stack(SECRET) as running:
        yield running
