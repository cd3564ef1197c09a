"""`make run`'s stack over real HTTP: a newcomer's first requests, identity, tenancy."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.e2e


def test_health_answers_without_a_token(stack):
    response = stack.http.get(stack.base_url + "/v1/health", timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_me_with_a_demo_token_returns_the_seeded_profile(stack):
    response = stack.call("GET", "/v1/me", as_="rep_a")
    assert response.status_code == 200
    body = response.json()
    assert body["department"]["id"] == "east"
    assert body["manager"]["id"] == "mgr_east"


def test_requests_without_or_with_forged_tokens_are_401_with_the_contract_error(stack):
    response = stack.http.get(stack.base_url + "/v1/me", timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_token"
    forged = stack.token("rep_a")[:-4] + "AAAA"
    response = stack.http.get(stack.base_url + "/v1/me", headers={"Authorization": f"Bearer {forged}"}, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"]["request_id"]


def test_other_tenant_admin_cannot_touch_this_tenants_org(stack):
    # globex's boss, even as an admin of globex, writes only into globex.
    headers = {
        "Authorization": f"Bearer {stack.token('boss', 'globex', ['admin'])}",
        "Content-Type": "application/json",
    }
    response = stack.http.put(
        stack.base_url + "/v1/admin/users/rep_a",
        json={"name": "Hijacked", "department_id": "east"},
        headers=headers,
        timeout=10,
    )
    assert response.status_code == 422  # globex has no department "east": acme is out of reach
    me = stack.call("GET", "/v1/me", as_="rep_a").json()
    assert me["name"] == "Zhang Min (rep)"


def test_malformed_json_is_400_and_unknown_method_405_in_contract_shape(stack):
    response = stack.call("PUT", "/v1/admin/settings", body="{not json", as_="admin")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    response = stack.call("DELETE", "/v1/me")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_scheduled_jobs_fire_on_demand_through_the_control_endpoint(stack):
    status = stack.fire("plan_reminders")
    assert status["schedules"]["deliveries"] >= 1
    assert status["schedules"]["errors"] == 0


def test_a_write_wakes_the_stack_pumps_and_a_read_does_not(stack):
    """The pumps back off while idle; a write through the API wakes them at once."""
    before = stack.status()["stream"]["wakes"]
    assert stack.call("GET", "/v1/me").status_code == 200
    assert stack.status()["stream"]["wakes"] == before
    assert stack.call("POST", "/v1/plans", {"date": "2026-03-01", "title": "Visit"}).status_code == 201
    deadline = time.monotonic() + 10  # the wake follows the response
    while stack.status()["stream"]["wakes"] == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.status()["stream"]["wakes"] == before + 1
