"""The red-team pass as a test: a second local stack of its own (other ports, loopback),
a few hundred hostile requests (tests/e2e/redteam.py), and the invariants every answer
keeps. What it found is in SECURITY.md ("Red-team pass")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.harness import running_stack
from tests.e2e import redteam

pytestmark = pytest.mark.e2e

SECRET = "redteam-secret-of-sufficient-length-0123456"
OTHER_FIXES = ("json_depth:", "time:")  # issue 12 items 1-2, fixed on another branch


@pytest.fixture(scope="module")
def attacked() -> Iterator[tuple[Any, list[redteam.Result]]]:
    with running_stack(SECRET) as stack:
        answer = stack.call("PUT", "/v1/admin/integrations/finance", {"url": "http://127.0.0.1:9/hook"}, as_="admin")
        assert answer.status_code == 200, answer.text
        yield stack, redteam.run(stack, answer.json()["secret"])


def test_red_team_pass_is_bounded_and_stays_on_loopback(attacked):
    stack, results = attacked
    assert 200 <= len(results) <= redteam.MAX_REQUESTS
    assert stack.base_url.startswith("http://127.0.0.1:")


def test_red_team_finds_no_5xx_no_echoed_credential_and_every_answer_in_the_contract_shape(attacked):
    _, results = attacked
    found = [v for v in redteam.violations(results) if not v.startswith(OTHER_FIXES)]
    assert found == [], "\n".join(found)


@pytest.mark.xfail(strict=True, reason="JSON depth and extreme times (issue 12 items 1-2) are fixed on another branch")
def test_red_team_probes_of_the_other_fixes_answer_4xx(attacked):
    _, results = attacked
    assert [v for v in redteam.violations(results) if v.startswith(OTHER_FIXES)] == []


def test_after_the_attack_nothing_was_stored_and_normal_requests_work(attacked):
    stack, _ = attacked
    assert stack.call("GET", "/v1/me").status_code == 200
    budget = stack.call("GET", "/v1/budgets/person/rep_a/2026-11", as_="fin").json()
    assert budget["amount"] == "10.00"  # the replayed webhook-id with another amount changed nothing
