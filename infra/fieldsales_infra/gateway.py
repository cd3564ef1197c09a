"""API Gateway's own answers, for requests that never reach the app, in the contract's
error shape ``{"error": {"code", "message", "request_id"}}``, and method routing.

By default API Gateway answers an unknown path with a 403 ``MISSING_AUTHENTICATION_TOKEN``
whose message echoes the ``Authorization`` header (the caller's token). Every Gateway
Response here has a fixed message (never ``$context.error.messageString``, which is where
that echo lives) and the request id API Gateway also passes to the app
(``$context.requestId``), and carries the headers every app answer has.

A path the API does not declare: ``MISSING_AUTHENTICATION_TOKEN`` re-mapped to 404
``not_found``. A declared path with a method it does not declare: each path also gets an
``ANY`` method into the same Lambda (API Gateway prefers the explicit methods), so the app
answers 405 ``method_not_allowed`` as it does locally; without it API Gateway could only say
``MISSING_AUTHENTICATION_TOKEN`` for that too.

The local stack answers the same rows (local/gateway.py; tests/infra/test_drift.py).
Infra never imports chalicelib, so the headers are restated here.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Optional

# = chalicelib.web.SECURITY_HEADERS (the drift test holds them equal)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}

# type -> (status, or None to keep API Gateway's own; code; message; extra headers)
GATEWAY_RESPONSES: dict[str, tuple[Optional[int], str, str, dict[str, str]]] = {
    "DEFAULT_4XX": (None, "bad_request", "the request was refused", {}),
    "DEFAULT_5XX": (None, "internal_error", "internal error", {}),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "no such route", {}),
    "RESOURCE_NOT_FOUND": (404, "not_found", "no such route", {}),
    "UNAUTHORIZED": (401, "unauthorized", "a valid bearer token is required", {"WWW-Authenticate": "Bearer"}),
    "EXPIRED_TOKEN": (401, "invalid_token", "the token has expired", {"WWW-Authenticate": "Bearer"}),
    "INVALID_SIGNATURE": (401, "invalid_token", "the token is not valid", {"WWW-Authenticate": "Bearer"}),
    "ACCESS_DENIED": (403, "forbidden", "not allowed", {}),
    "INVALID_API_KEY": (403, "forbidden", "not allowed", {}),
    "WAF_FILTERED": (403, "forbidden", "not allowed", {}),
    "BAD_REQUEST_BODY": (400, "bad_request", "the request is malformed", {}),
    "BAD_REQUEST_PARAMETERS": (400, "bad_request", "the request is malformed", {}),
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "request body too large", {}),
    "UNSUPPORTED_MEDIA_TYPE": (415, "unsupported_media_type", "unsupported media type", {}),
    "THROTTLED": (429, "throttled", "too many requests, retry shortly", {"Retry-After": "1"}),
    "QUOTA_EXCEEDED": (429, "throttled", "too many requests, retry shortly", {"Retry-After": "1"}),
    # The function could not be invoked (throttled, crashed): nothing was decided, retry.
    "INTEGRATION_FAILURE": (503, "retry_later", "the service is busy, retry shortly", {"Retry-After": "1"}),
    "INTEGRATION_TIMEOUT": (504, "timeout", "the request took too long, retry shortly", {"Retry-After": "1"}),
}
REQUEST_ID = "$context.requestId"


def error_template(code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message, "request_id": REQUEST_ID}}, separators=(",", ":"))


def gateway_responses() -> dict[str, dict[str, Any]]:
    """SAM ``GatewayResponses``: SAM writes them into the API's definition, so a change
    redeploys the stage (a separate ``AWS::ApiGateway::GatewayResponse`` would not)."""
    out: dict[str, dict[str, Any]] = {}
    for response_type, (status, code, message, extra) in GATEWAY_RESPONSES.items():
        headers = {name: f"'{value}'" for name, value in {**SECURITY_HEADERS, **extra}.items()}
        out[response_type] = {
            "ResponseParameters": {"Headers": headers},
            "ResponseTemplates": {"application/json": error_template(code, message)},
            **({"StatusCode": str(status)} if status is not None else {}),
        }
    return out


def with_any_method(paths: dict[str, Any]) -> dict[str, Any]:
    """Each declared path plus ``x-amazon-apigateway-any-method`` into its own Lambda
    integration: an undeclared method then reaches the app, which answers 405."""
    out = copy.deepcopy(paths)
    for methods in out.values():
        declared = next(m for m in methods.values() if isinstance(m, dict) and "x-amazon-apigateway-integration" in m)
        methods["x-amazon-apigateway-any-method"] = copy.deepcopy(declared)  # same parameters, same function
    return out


def read_paths(sam_template_path: Path) -> dict[str, Any]:
    template = json.loads(sam_template_path.read_text())
    return template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]["paths"]
