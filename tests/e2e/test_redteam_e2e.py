"""The red-team pass as a test: a second local stack of its own (other ports, loopback),
a few hundred hostile requests (tests/e2e/redteam.py), and the invariants every answer
keeps. What it found is in SECURITY.md ("Red-team pass")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks import Webhook

from local.harness import running_stack
from tests.e2e import redteam

pytestmark = pytest.mark.e2e

SECRET = "redteam-secret-of-sufficient-length-0123456"


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
    found = redteam.violations(results)
    assert found == [], "\n".join(found)


def test_after_the_attack_nothing_was_stored_and_normal_requests_work(attacked):
    stack, _ = attacked
    assert stack.call("GET", "/v1/me").status_code == 200
    budget = stack.call("GET", "/v1/budgets/person/rep_a/2026-11", as_="fin").json()
    assert budget["amount"] == "10.00"  # the replayed webhook-id with another amount changed nothing


def _hook(stack: Any, secret: str, webhook_id: str, type_: str, data: dict[str, Any], at: datetime) -> dict[str, Any]:
    body = json.dumps({"type": type_, "timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "data": data})
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
    }
    answer = stack.http.post(stack.base_url + "/v1/webhooks/finance/acme", data=body, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_round_3_stateful_probes_hold_over_http(attacked):
    # issue 24's closing pass, the parts that need state: webhooks delivered out of order,
    # an Idempotency-Key reused by another user, another user's phone, a department head
    stack, _ = attacked
    secret = stack.call("PUT", "/v1/admin/integrations/finance", {"url": "http://127.0.0.1:9/hook"}, as_="admin")
    secret = secret.json()["secret"]
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    body = {"amount": "12.00", "category": "meals", "occurred_on": today, "unit": {"type": "person", "id": "rep_a"}}
    expense = stack.call("POST", "/v1/expenses", body).json()
    approver = stack.call("POST", f"/v1/expenses/{expense['id']}/submit").json()["approver_ids"][0]
    assert stack.call("POST", f"/v1/expenses/{expense['id']}/approve", {}, as_=approver).status_code == 200
    now = datetime.now(UTC)
    paid = {"expense_id": expense["id"], "status": "paid", "reference": "PAY-2"}
    assert _hook(stack, secret, "rt3_paid", "expense.payment_updated", paid, now)["status"] == "applied"
    failed = {**paid, "status": "failed", "reference": "PAY-1"}
    late = now - timedelta(seconds=120)
    assert _hook(stack, secret, "rt3_failed", "expense.payment_updated", failed, late)["status"] == "stale"
    assert stack.call("GET", f"/v1/expenses/{expense['id']}").json()["payment_status"] == "paid"
    assert stack.call("POST", f"/v1/expenses/{expense['id']}/approve", {}, as_=approver).status_code == 409
    budget = {"unit_type": "person", "unit_id": "rep_c", "period": today[:7], "amount": "900.00", "currency": "CNY"}
    assert _hook(stack, secret, "rt3_budget_new", "budget.updated", budget, now)["status"] == "applied"
    old = {**budget, "amount": "100.00"}
    assert _hook(stack, secret, "rt3_budget_old", "budget.updated", old, late)["status"] == "stale"
    assert stack.call("GET", f"/v1/budgets/person/rep_c/{today[:7]}", as_="fin").json()["amount"] == "900.00"
    key = {"Idempotency-Key": "rt3-shared-key"}
    mine = stack.call("POST", "/v1/leads", {"name": "Lead"}, headers=key).json()
    theirs = stack.call("POST", "/v1/leads", {"name": "Lead"}, as_="rep_b", headers=key).json()
    assert mine["owner_id"] == "rep_a" and theirs["owner_id"] == "rep_b" and mine["id"] != theirs["id"]
    assert stack.call("POST", "/v1/accounts", {"name": "Lead"}, headers=key).status_code == 422
    device = {"platform": "fcm", "token": "rt3-token-a"}
    assert stack.call("PUT", "/v1/me/devices/rt3-phone-01", device).status_code == 200
    assert stack.call("DELETE", "/v1/me/devices/rt3-phone-01", as_="rep_b").status_code == 204
    mine = stack.call("GET", "/v1/me/devices").json()["items"]
    assert "rt3-phone-01" in {d["installation_id"] for d in mine}  # another user's DELETE removed only theirs
