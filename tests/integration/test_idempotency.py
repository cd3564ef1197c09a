"""Idempotency-Key on creates: replay, reuse refused, per-user keys, no stuck locks."""

from __future__ import annotations

import time

import pytest

from chalicelib.models.crm import Account
from chalicelib.models.idempotency import IdempotencyRecord
from chalicelib.services.crm import crm

ACCOUNT = {"name": "Idempotent Trading Co", "address": "1 Bund Rd"}


def key(k: str) -> dict[str, str]:
    return {"Idempotency-Key": k}


def account_count(name: str) -> int:
    return sum(1 for _ in Account.scan(Account.name == name))


def test_create_with_same_key_and_body_replays_the_first_response(api):
    first = api.post("/v1/accounts", ACCOUNT, headers=key("k-1"))
    second = api.post("/v1/accounts", ACCOUNT, headers=key("k-1"))
    assert first[0] == second[0] == 201
    assert first[1] == second[1]
    assert account_count(ACCOUNT["name"]) == 1


def test_create_with_same_key_and_different_body_is_422_and_writes_nothing(api):
    api.post("/v1/accounts", ACCOUNT, headers=key("k-2"))
    status, body = api.post("/v1/accounts", {**ACCOUNT, "name": "Something Else"}, headers=key("k-2"))
    assert status == 422
    assert body["error"]["code"] == "idempotency_key_reused"
    assert account_count("Something Else") == 0


def test_same_key_and_body_on_another_object_is_422_and_changes_nothing(api):
    """The key covers the concrete target, not the route: submitting expense B under the
    key that submitted expense A must not replay A's answer (and leave B a draft)."""
    unit = {"type": "department", "id": "east"}
    drafts = [
        api.post("/v1/expenses", {"amount": "10.00", "category": "taxi", "occurred_on": "2026-11-03", "unit": unit})[1]
        for _ in range(2)
    ]
    first = api.post(f"/v1/expenses/{drafts[0]['id']}/submit", {}, headers=key("k-target"))
    assert first[0] == 200 and first[1]["id"] == drafts[0]["id"]
    status, body = api.post(f"/v1/expenses/{drafts[1]['id']}/submit", {}, headers=key("k-target"))
    assert status == 422 and body["error"]["code"] == "idempotency_key_reused"
    assert api.get(f"/v1/expenses/{drafts[1]['id']}")[1]["status"] == "draft"
    assert api.post(f"/v1/expenses/{drafts[0]['id']}/submit", {}, headers=key("k-target")) == first


def test_same_key_from_two_users_creates_two_objects(api):
    a = api.post("/v1/accounts", ACCOUNT, headers=key("shared"), as_="rep_a")
    b = api.post("/v1/accounts", ACCOUNT, headers=key("shared"), as_="rep_b")
    assert a[0] == b[0] == 201
    assert a[1]["id"] != b[1]["id"]
    assert account_count(ACCOUNT["name"]) == 2


def test_same_key_in_two_tenants_is_isolated(api):
    api.put("/v1/admin/users/rep_x", {"name": "X", "department_id": "hq"}, as_="boss", tenant="globex")
    a = api.post("/v1/accounts", ACCOUNT, headers=key("tenant-key"), as_="rep_a")
    x = api.post("/v1/accounts", ACCOUNT, headers=key("tenant-key"), as_="rep_x", tenant="globex")
    assert a[0] == x[0] == 201
    assert a[1]["id"] != x[1]["id"]


@pytest.mark.parametrize("bad", ["", "x" * 256])
def test_idempotency_key_outside_1_to_255_chars_is_400(api, bad):
    status, body = api.post("/v1/accounts", ACCOUNT, headers=key(bad))
    assert status == 400
    assert account_count(ACCOUNT["name"]) == 0


def test_a_crash_mid_handler_leaves_no_stuck_key(api, monkeypatch):
    original = crm.create_object

    def crash(*args, **kwargs):
        raise RuntimeError("injected crash")

    monkeypatch.setattr(crm, "create_object", crash)
    status, body = api.post("/v1/accounts", ACCOUNT, headers=key("k-crash"))
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    monkeypatch.setattr(crm, "create_object", original)
    status, body = api.post("/v1/accounts", ACCOUNT, headers=key("k-crash"))
    assert status == 201
    assert account_count(ACCOUNT["name"]) == 1


def test_a_lock_left_by_a_dead_invocation_expires_and_the_retry_proceeds(api):
    # A Lambda that timed out mid-request leaves an in-progress record behind.
    dead = IdempotencyRecord(
        tenant_id="acme",
        user_id="rep_a",
        key_hash=IdempotencyRecord.hash_key("k-dead"),
        fingerprint="whatever",
        status="in_progress",
        locked_until=int(time.time()) - 1,
    )
    dead.save()
    status, body = api.post("/v1/accounts", ACCOUNT, headers=key("k-dead"))
    assert status == 201
    assert account_count(ACCOUNT["name"]) == 1


def test_validation_errors_are_not_remembered_under_the_key(api):
    status, _ = api.post("/v1/accounts", {"name": ""}, headers=key("k-fix"))
    assert status == 400
    status, _ = api.post("/v1/accounts", ACCOUNT, headers=key("k-fix"))
    assert status == 201
