"""Cursors: opaque, signed, bound to one user and query; the key comes from Secrets Manager."""

from __future__ import annotations

import pytest

from chalicelib import cursor
from chalicelib.errors import Unprocessable


@pytest.fixture(autouse=True)
def fresh_secret():
    cursor._secret.cache_clear()
    yield
    cursor._secret.cache_clear()


def test_cursor_roundtrips_for_the_same_scope():
    token = cursor.encode({"PK": "T#acme#FEED#rep_a", "SK": "2026"}, "rep_a|feed|all")
    assert cursor.decode(token, "rep_a|feed|all") == {"PK": "T#acme#FEED#rep_a", "SK": "2026"}


@pytest.mark.parametrize("scope", ["rep_b|feed|all", "rep_a|feed|my_accounts", ""])
def test_cursor_from_another_user_or_query_is_refused(scope):
    token = cursor.encode({"SK": "1"}, "rep_a|feed|all")
    with pytest.raises(Unprocessable):
        cursor.decode(token, scope)


@pytest.mark.parametrize("token", ["0", "!!!", "a" * 40, "eyJTSyI6IjEifQ"])
def test_garbage_or_unsigned_cursor_is_refused(token):
    with pytest.raises(Unprocessable):
        cursor.decode(token, "rep_a|feed|all")


def test_cursor_key_is_read_from_secrets_manager_when_configured(monkeypatch, aws):
    from chalicelib.aws import client

    arn = client("secretsmanager").create_secret(Name="cursor-key", SecretString="k" * 48)["ARN"]
    token = cursor.encode({"SK": "1"}, "scope")  # signed with the development default
    monkeypatch.setenv("CURSOR_SECRET_ARN", arn)
    cursor._secret.cache_clear()
    with pytest.raises(Unprocessable):
        cursor.decode(token, "scope")
    assert cursor.decode(cursor.encode({"SK": "1"}, "scope"), "scope") == {"SK": "1"}


def test_deployed_stage_without_a_cursor_key_refuses_to_start(monkeypatch):
    from chalicelib.config import ConfigError

    monkeypatch.setenv("STAGE", "prod")
    monkeypatch.delenv("CURSOR_SECRET_ARN", raising=False)
    monkeypatch.delenv("CURSOR_SECRET", raising=False)
    cursor._secret.cache_clear()
    try:
        with pytest.raises(ConfigError, match="CURSOR_SECRET_ARN"):
            cursor.encode({"SK": "1"}, "scope")
    finally:
        cursor._secret.cache_clear()
