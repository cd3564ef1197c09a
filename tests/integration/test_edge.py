"""The HTTP edge itself: unknown routes and methods, the headers on every answer, and body
limits, through the same gateway layer the local server uses (local/gateway.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

SECURITY = {"x-content-type-options": "nosniff", "cache-control": "no-store"}


def raw_call(api: Any, method: str, path: str, body: bytes = b"", user: str | None = "rep_a") -> Any:
    return getattr(api.client.http, method.lower())(path, body=body, headers=api.headers(user))


def assert_contract_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.body
    error = json.loads(response.body)["error"]
    assert error["code"] == code
    assert set(error) >= {"code", "message", "request_id"} and error["request_id"]
    return error


@pytest.mark.parametrize("path", ["/v1/nope", "/", "/v1/accounts/a/b/c/d", "/v1/../etc/passwd", "/v1/me%2F..%2Fx"])
def test_unknown_path_is_404_in_contract_shape_without_echoing_the_token(api, path):
    response = raw_call(api, "GET", path)
    assert_contract_error(response, 404, "not_found")
    token = api.headers("rep_a")["Authorization"].removeprefix("Bearer ")
    assert token not in response.body.decode()
    assert all(token not in str(v) for v in response.headers.values())
    assert {k.lower(): v for k, v in response.headers.items()}.items() >= SECURITY.items()


def test_unknown_path_without_a_token_is_the_same_404(api):
    assert_contract_error(raw_call(api, "POST", "/v1/nope", b"{}", user=None), 404, "not_found")


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
def test_known_path_with_another_method_is_405_in_contract_shape(api, method):
    response = raw_call(api, method, "/v1/me", b"{}")
    error = assert_contract_error(response, 405, "method_not_allowed")
    assert "Bearer" not in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "user", "status"),
    [
        ("GET", "/v1/health", None, 200),
        ("GET", "/v1/me", "rep_a", 200),
        ("GET", "/v1/me", None, 401),
        ("GET", "/v1/accounts/acc_missing", "rep_a", 404),
        ("DELETE", "/v1/me", "rep_a", 405),
        ("GET", "/v1/nope", "rep_a", 404),
        ("POST", "/v1/accounts", "rep_a", 400),
    ],
)
def test_every_answer_carries_nosniff_and_no_store(api, method, path, user, status):
    response = raw_call(api, method, path, b"{not json" if method == "POST" else b"", user=user)
    assert response.status_code == status
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers.items() >= SECURITY.items(), headers
    if status >= 400:
        assert json.loads(response.body)["error"]["request_id"] == headers["x-request-id"]


def test_body_over_256_kib_is_413_on_every_route_before_authentication(api):
    big = b'{"name": "' + b"x" * (256 * 1024) + b'"}'
    response = raw_call(api, "POST", "/v1/accounts", big, user=None)  # no token: size first
    assert_contract_error(response, 413, "payload_too_large")


@pytest.mark.parametrize("name", ["a\u0000b", "\u202egnp.exe", "\u200b\u200b", "   ", "tab\there", "\u2066x\u2069"])
def test_name_with_control_bidi_or_only_invisible_characters_is_400_and_not_stored(api, name):
    status, body = api.post("/v1/accounts", {"name": name})
    assert status == 400 and body["error"]["code"] == "invalid_body"


@pytest.mark.parametrize("name", ["张敏的客户", "O'Brien & Co.", " Padded ", "Café 🎉"])
def test_ordinary_unicode_names_are_accepted(api, name):
    status, body = api.post("/v1/accounts", {"name": name})
    assert status == 201 and body["name"] == name
