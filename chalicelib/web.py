"""The HTTP edge: one decorator registers a route, validates its input with pydantic,
authenticates, applies Idempotency-Key, and maps every error to the contract's body.

The same registry feeds ``/v1/openapi.json``: the document is generated from the models
that validate requests, so the two cannot drift.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional, TypedDict, Unpack

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError
from chalice import Blueprint, Response
from pydantic import BaseModel, ValidationError

from chalicelib import cursor as cursors
from chalicelib.auth import Principal, authenticate
from chalicelib.errors import AppError, BadRequest, PayloadTooLarge, ServiceUnavailable
from chalicelib.ids import new_id
from chalicelib.jsonsafe import check_depth
from chalicelib.observability import count, logger
from chalicelib.schemas import take_shape_problems
from chalicelib.services.access import context
from chalicelib.services.org import org
from chalicelib.services.platform import idempotency, ratelimit

MAX_BODY_BYTES = 256 * 1024
PATH_PARAM_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
JSON = "application/json"
# On every API answer (app.py's middleware) and every gateway answer (infra, local/gateway.py)
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
RETRYABLE_AWS_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "SlowDown",
    }
)
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Callable[..., Any]
    summary: str
    tag: str
    body: Optional[type[BaseModel]] = None
    query: Optional[type[BaseModel]] = None
    response: Any = None
    status: int = 200
    auth: bool = True
    idempotent: bool = False
    errors: tuple[int, ...] = ()
    path_patterns: dict[str, str] = field(default_factory=dict)
    name: str = ""  # the action, in snake case: the OpenAPI operationId is its camelCase
    media_types: tuple[str, ...] = (JSON,)  # of the success body; not JSON: the handler answers a Response


REGISTRY: list[Operation] = []


@dataclass
class Req:
    """What a handler sees: who is calling and the validated input."""

    principal: Principal
    path: dict[str, str]
    body: Any
    query: Any
    request_id: str
    headers: dict[str, str]
    raw_body: bytes = b""

    @property
    def tenant_id(self) -> str:
        return self.principal.tenant_id

    @property
    def user_id(self) -> str:
        return self.principal.user_id


def request_id_of(request: Any) -> str:
    ctx = getattr(request, "context", None) or {}
    return str(ctx.get("requestId") or new_id("req"))


def error_response(exc: AppError, request_id: str, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": exc.code, "message": exc.message, "request_id": request_id}
    if exc.details is not None:
        body["details"] = exc.details
    out: dict[str, str | list[str]] = {"Content-Type": JSON, "X-Request-Id": request_id, **(headers or {})}
    if exc.status == 401:
        out["WWW-Authenticate"] = "Bearer"
    if exc.status in (429, 503):
        out["Retry-After"] = "1"
    return Response(body={"error": body}, status_code=exc.status, headers=out)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then each cause or context it was raised from, each once."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _aws_error_code(exc: BaseException) -> str | None:
    for current in _chain(exc):
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return code
        code = getattr(current, "cause_response_code", None)
        if code:
            return code
    return None


def _aws_http_status(exc: BaseException) -> int:
    for current in _chain(exc):
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return 0


def _transient_cancellation(exc: BaseException) -> bool:
    """A transaction cancelled only by conflicts or throttling (no condition said no)."""
    for current in _chain(exc):
        reasons = [r for r in (getattr(current, "cancellation_reasons", None) or []) if r is not None]
        if reasons:
            return all(getattr(r, "code", None) in TRANSIENT_CANCELLATIONS for r in reasons)
    return False


def _transport_failure(exc: BaseException) -> bool:
    """No answer from AWS at all: a connection refused or closed, or a read that timed out
    (``AWS_READ_TIMEOUT_S``) after botocore's own retries."""
    return any(isinstance(current, (BotoConnectionError, HTTPClientError)) for current in _chain(exc))


def translate_unexpected(exc: BaseException) -> AppError | None:
    """Storage throttling, a transaction cancelled by a conflict, a transient AWS failure
    (any AWS 5xx) or no answer from AWS at all becomes a clean 503."""
    code = _aws_error_code(exc)
    transient = code in RETRYABLE_AWS_CODES or (code == "TransactionCanceledException" and _transient_cancellation(exc))
    if transient or _aws_http_status(exc) >= 500 or _transport_failure(exc):
        return ServiceUnavailable("the service is busy, retry shortly", code="retry_later")
    return None


def _validation_details(err: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or None, "problem": e["msg"], "type": e["type"]}
        for e in err.errors(include_url=False, include_input=False, include_context=False)
    ]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _integral_floats_as_ints(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral_floats_as_ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(v) for v in value]
    return value


def _parse_body(op: Operation, raw: bytes | None) -> Any:
    if op.body is None:
        return None
    raw = raw or b""
    if not raw.strip():
        raise BadRequest("a JSON body is required", code="invalid_json")
    check_depth(raw)  # before any parser recurses into it
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    try:
        # JSON semantics in strict mode: strings for dates, ints for floats, and (as JSON
        # Schema says) 5.0 is the integer 5.
        return op.body.model_validate_json(json.dumps(_integral_floats_as_ints(data)))
    except ValidationError as err:
        raise BadRequest("the body is not valid", code="invalid_body", details=_validation_details(err)) from None


def _parse_query(op: Operation, request: Any) -> Any:
    if op.query is None:
        return None
    params = request.query_params or {}
    values: dict[str, str] = {}
    for name in params:
        got = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
        if len(got) > 1:
            raise BadRequest(f"query parameter {name!r} given more than once", code="invalid_query")
        values[name] = got[0]
    try:
        return op.query.model_validate(values)
    except ValidationError as err:
        raise BadRequest("the query is not valid", code="invalid_query", details=_validation_details(err)) from None


def _check_path(op: Operation, params: dict[str, str]) -> dict[str, str]:
    for name, value in params.items():
        pattern = op.path_patterns.get(name)
        regex = re.compile(pattern) if pattern else PATH_PARAM_RE
        if not isinstance(value, str) or not regex.match(value):
            raise BadRequest(f"path parameter {name!r} is not valid", code="invalid_path")
    return params


def _serialize(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    if isinstance(result, list):
        return [_serialize(r) for r in result]
    return result


def _count_shape_problems(op: Operation) -> None:
    """A response its own model refused (chalicelib/schemas.py::Response kept the data and
    answered it): counted as ``ResponseShapeInvalid`` (alarmed) and logged with the route."""
    problems = take_shape_problems()
    if problems:
        count("ResponseShapeInvalid")
        route = f"{op.method} {op.path}"
        logger.error("response does not match its model", extra={"route": route, "problems": problems})


def _run(op: Operation, request: Any, path_params: dict[str, str], request_id: str) -> Response:
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:  # every route, before anything reads or verifies it
        raise PayloadTooLarge(f"request body exceeds {MAX_BODY_BYTES} bytes")
    principal = authenticate(headers.get("authorization")) if op.auth else None
    if principal:
        logger.append_keys(tenant_id=principal.tenant_id, user_id=principal.user_id)
        ratelimit.check(principal.tenant_id)  # before any DynamoDB request
        # the request's context (services/access/context.py): the caller read once here,
        # settings, zone and visibility read on first use, all passed down with the principal
        principal = context.of(org.require_active_caller(principal, op.path))
    bound = cursors.bind_caller(principal.tenant_id, principal.user_id) if principal else None
    try:
        return _answer(op, request, path_params, request_id, principal, headers)
    finally:
        if bound is not None:
            cursors.unbind(bound)


def _answer(
    op: Operation,
    request: Any,
    path_params: dict[str, str],
    request_id: str,
    principal: Optional[Principal],
    headers: dict[str, str],
) -> Response:
    raw = request.raw_body or b""
    path = _check_path(op, path_params)
    query = _parse_query(op, request)
    body = _parse_body(op, raw)
    req = Req(principal, path, body, query, request_id, headers, raw)  # type: ignore[arg-type]

    def call() -> tuple[int, Any]:
        take_shape_problems()  # what this request's models refuse, from here
        result = op.handler(req)
        if isinstance(result, Response):  # a page or a file, not JSON (never idempotent)
            return result.status_code, result
        if isinstance(result, tuple):
            status, payload = result
        else:
            status, payload = op.status, result
        body = _serialize(payload)
        _count_shape_problems(op)
        return status, body

    key = headers.get("idempotency-key")
    if op.idempotent and key is not None and principal is not None:
        # Chalice's request.path is the route template: the key must cover the concrete
        # target too, or one key would replay expense A's answer for expense B
        target = op.path.format(**path) if path else op.path
        status, payload = idempotency.run(principal, key, op.method, target, raw, call)
    else:
        status, payload = call()
    if isinstance(payload, Response):
        payload.headers = {**payload.headers, "X-Request-Id": request_id}
        return payload
    return Response(body=payload, status_code=status, headers={"Content-Type": JSON, "X-Request-Id": request_id})


def dispatch(op: Operation, request: Any, path_params: dict[str, str]) -> Response:
    request_id = request_id_of(request)
    logger.append_keys(request_id=request_id, route=f"{op.method} {op.path}")
    try:
        return _run(op, request, path_params, request_id)
    except AppError as exc:
        if exc.status >= 500:
            logger.warning("request failed", extra={"code": exc.code})
        return error_response(exc, request_id)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a raw 500
        mapped = translate_unexpected(exc)
        if mapped is not None:
            logger.warning("transient AWS failure", extra={"aws_code": _aws_error_code(exc)})
            return error_response(mapped, request_id)
        logger.exception("unhandled error")
        return error_response(AppError("internal error", code="internal_error"), request_id)
    finally:
        logger.remove_keys(["tenant_id", "user_id", "route"])


class RouteOptions(TypedDict, total=False):
    """What ``route`` takes beside the blueprint and the path (each an ``Operation`` field;
    ``summary`` and ``tag`` are required, checked when the route is registered)."""

    method: str
    summary: str
    tag: str
    body: Optional[type[BaseModel]]
    query: Optional[type[BaseModel]]
    response: Any
    status: int
    auth: bool
    idempotent: Optional[bool]  # default: a POST answering 201
    errors: tuple[int, ...]
    path_patterns: Optional[dict[str, str]]
    name: Optional[str]  # default: the handler's own name
    media_types: tuple[str, ...]


def route(
    bp: Blueprint, path: str, **options: Unpack[RouteOptions]
) -> Callable[[Callable[[Req], Any]], Callable[[Req], Any]]:
    """Register ``fn(req) -> payload | (status, payload)`` as a validated route.

    The options are the route's ``Operation`` (a frozen dataclass, the route's spec);
    ``name`` names the action (``list_feed``), when the handler's own name does not."""

    def decorate(fn: Callable[[Req], Any]) -> Callable[[Req], Any]:
        op = operation(path, fn, options)
        REGISTRY.append(op)

        @functools.wraps(fn)
        def view(**path_params: str) -> Response:
            return dispatch(op, bp.current_request, path_params)

        bp.route(path, methods=[op.method], content_types=[JSON])(view)
        return fn

    return decorate


def operation(path: str, fn: Callable[[Req], Any], options: RouteOptions) -> Operation:
    """The route's spec from ``route``'s options, their defaults filled in."""
    spec: dict[str, Any] = {k: v for k, v in options.items() if v is not None or k in ("body", "query", "response")}
    method = spec.setdefault("method", "GET")
    spec.setdefault("idempotent", method == "POST" and spec.get("status", 200) == 201)
    spec.setdefault("name", fn.__name__)
    return Operation(path=path, handler=fn, **spec)
