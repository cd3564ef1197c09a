"""The real local stack (`make run`'s code path) in a subprocess, driven over HTTP."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.harness import LocalStack, running_stack
from local.switches import time_scale
from tests.response_contract import Contract

SECRET = "e2e-secret-of-sufficient-length-0123456789"


@pytest.fixture(scope="session", autouse=True)
def waits_scaled_like_the_stack() -> Iterator[None]:
    """Every HTTP wait of these tests (theirs and the harness's) is scaled as the stack's own
    time is (local.switches.time_scale: 8 on moto as shipped, else 1)."""
    scale = time_scale()
    if scale == 1:
        yield
        return
    original = requests.Session.request

    def scaled(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        if isinstance(kwargs.get("timeout"), (int, float)):
            kwargs["timeout"] *= scale
        return original(self, method, url, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "request", scaled)
        yield


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """``stack.call(method, path, body, as_=user)``, ``stack.fire(schedule)``, ``stack.drain()``."""
    os.environ["LOCAL_JWT_SECRET"] = SECRET
    with running_stack(SECRET) as running:
        yield running


@pytest.fixture(scope="session")
def served_contract(stack: LocalStack) -> Contract:
    return Contract(requests.get(stack.base_url + "/v1/openapi.json", timeout=30).json())


@pytest.fixture(autouse=True)
def stack_responses_match_their_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer of the shared local stack must match its operation's declared model, with
    no field beyond it (tests/response_contract.py), for the tests that use that stack."""
    if "stack" not in request.fixturenames:
        return
    stack: LocalStack = request.getfixturevalue("stack")
    contract: Contract = request.getfixturevalue("served_contract")
    original = requests.Session.request

    def checked(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        response = original(self, method, url, *args, **kwargs)
        if url.startswith(stack.base_url + "/"):
            content_type = response.headers.get("Content-Type", "")
            problems = contract.problems(method, url, response.status_code, content_type, response.content)
            assert not problems, f"{method} {url} answered outside its declared model: {problems}"
        return response

    monkeypatch.setattr(requests.Session, "request", checked)
