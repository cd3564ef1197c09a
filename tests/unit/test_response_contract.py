"""The test hook that binds every response to its declared model (tests/response_contract.py)."""

from __future__ import annotations

import json

from tests.response_contract import local_contract

JSON = "application/json"


def _problems(method: str, url: str, status: int, body: object, content_type: str = JSON) -> list[str]:
    return local_contract().problems(method, url, status, content_type, json.dumps(body))


def test_a_body_that_matches_its_model_passes():
    assert _problems("GET", "/v1/health", 200, {"status": "ok"}) == []
    assert _problems("GET", "/v1/signins?limit=5", 200, {"items": [], "next_cursor": None}) == []


def test_a_field_the_model_does_not_declare_fails_even_nested():
    assert _problems("GET", "/v1/health", 200, {"status": "ok", "uptime": 3}) != []
    page = {"items": [{"upload_id": "u1", "status": "ready", "secret_key": "x"}]}
    assert _problems("GET", "/v1/uploads/u1", 200, page["items"][0]) != []


def test_a_wrong_type_a_missing_field_or_an_undeclared_status_fails():
    assert _problems("GET", "/v1/health", 200, {"status": 1}) != []
    assert _problems("GET", "/v1/health", 200, {}) != []
    assert _problems("GET", "/v1/health", 201, {"status": "ok"}) != []


def test_errors_are_checked_against_the_error_shape():
    error = {"error": {"code": "not_found", "message": "no", "request_id": "r1"}}
    assert _problems("GET", "/v1/accounts/a1", 404, error) == []
    assert _problems("GET", "/v1/accounts/a1", 404, {"message": "no"}) != []


def test_literal_paths_win_over_templates_and_non_json_media_types_are_checked():
    assert _problems("POST", "/v1/messages/read-all", 200, {"marked_read": 1, "unread_count": 0}) == []
    assert local_contract().problems("GET", "/v1/docs", 200, "text/html; charset=utf-8", "<html>") == []
    assert local_contract().problems("GET", "/v1/docs", 200, JSON, "{}") != []
