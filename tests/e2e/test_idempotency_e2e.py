"""Idempotency storms over real HTTP against the local stack."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
import requests
from boto3.dynamodb.conditions import Attr

pytestmark = pytest.mark.e2e


def stored_accounts_named(stack, name: str) -> int:
    table = boto3.resource(
        "dynamodb",
        endpoint_url=stack.moto_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    ).Table("fieldsales-local")
    scan = table.scan(FilterExpression=Attr("entity").eq("Account") & Attr("name").eq(name))
    return len(scan["Items"])


def test_fifty_concurrent_identical_creates_with_one_key_have_one_effect(stack):
    name = f"Storm {uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())

    def create(_: int) -> tuple[int, str]:
        with requests.Session() as session:
            r = stack.call("POST", "/v1/accounts", {"name": name}, headers={"Idempotency-Key": key}, session=session)
            return r.status_code, r.json().get("id", "")

    with ThreadPoolExecutor(max_workers=25) as pool:
        results = list(pool.map(create, range(50)))
    statuses = {status for status, _ in results}
    ids = {account_id for _, account_id in results}
    assert statuses == {201}, results
    assert len(ids) == 1
    assert stored_accounts_named(stack, name) == 1


def test_changed_body_under_a_used_key_is_422(stack):
    key = str(uuid.uuid4())
    assert stack.call("POST", "/v1/accounts", {"name": "First"}, headers={"Idempotency-Key": key}).status_code == 201
    again = stack.call("POST", "/v1/accounts", {"name": "Second"}, headers={"Idempotency-Key": key})
    assert again.status_code == 422
    assert again.json()["error"]["code"] == "idempotency_key_reused"
