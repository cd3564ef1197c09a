"""Fieldsales API: registers the capability blueprints and attaches observability once.

No routes and no AWS clients here: see chalicelib/handlers/.
"""

from __future__ import annotations

import gc

# Cold start: module init builds only long-lived objects (libraries, routes, models), yet
# the collector kept re-scanning all of them as they grew: about 60 ms of full collections
# per cold start. Paused while the module initialises; at the end, what it built is frozen
# out of every later collection (request-time collections stay small too).
gc.disable()

import json
from collections.abc import Callable
from typing import Any

from chalice import Chalice, Response

from chalicelib import aws, web
from chalicelib.config import prime_on_init
from chalicelib.handlers import (
    collab,
    crm,
    expenses,
    fanout,
    feed,
    fx,
    goals,
    jobs,
    maintenance,
    messages,
    org,
    overview,
    push,
    reports,
    schedule,
    signins,
    streams,
    sync,
    system,
    uploads,
    webhooks,
)
from chalicelib.ids import new_id
from chalicelib.observability import logger, metrics
from chalicelib.web import SECURITY_HEADERS

app = Chalice(app_name="fieldsales", configure_logs=False)
app.experimental_feature_flags.update({"BLUEPRINTS"})
app.api.binary_types = []

for blueprint in (
    system,
    org,
    crm,
    feed,
    overview,
    signins,
    uploads,
    schedule,
    messages,
    expenses,
    fx,
    goals,
    webhooks,
    streams,
    maintenance,
    jobs,
    fanout,
    push,
    collab,
    reports,
    sync,
):
    app.register_blueprint(blueprint.bp)

CHALICE_ERROR_CODES = {
    "MethodNotAllowedError": "method_not_allowed",
    "UnsupportedMediaType": "unsupported_media_type",
    "BadRequest": "bad_request",
    "InternalServerError": "internal_error",
}


def _contract_error(response: Response, request_id: str) -> Response:
    """Chalice's own errors (405, 415, ...) in the contract's error shape."""
    body = response.body
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return response
    if not isinstance(body, dict) or "Code" not in body:
        return response
    code = CHALICE_ERROR_CODES.get(body["Code"], "error")
    response.body = {"error": {"code": code, "message": str(body.get("Message", "")), "request_id": request_id}}
    response.headers = {**response.headers, "Content-Type": "application/json"}
    return response


@app.middleware("http")
def observe_http(event: Any, get_response: Callable[[Any], Response]) -> Response:
    request_id = str((event.context or {}).get("requestId") or new_id("req"))
    logger.set_correlation_id(request_id)
    try:
        response = get_response(event)
    finally:
        metrics.flush_metrics(raise_on_empty_metrics=False)
    if response.status_code >= 400:
        response = _contract_error(response, request_id)
    # Every answer, errors included: never sniffed into HTML, never kept by a shared cache.
    response.headers = {"X-Request-Id": request_id, **(response.headers or {}), **SECURITY_HEADERS}
    return response


def observe_events(event: Any, get_response: Callable[[Any], Any]) -> Any:
    logger.set_correlation_id(new_id("evt"))
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics(raise_on_empty_metrics=False)


for _event_type in ("cloudwatch", "scheduled", "sqs", "dynamodb", "pure_lambda"):
    app.register_middleware(observe_events, _event_type)

# The clients the API's routes use (presigned uploads, domain events, webhook enqueue, the
# cursor secret).
API_CLIENTS = ("s3", "events", "sqs", "secretsmanager")


def prime_for_snapshot() -> None:
    """SnapStart's init runs once per published version and is kept in the snapshot: build
    there what every request would otherwise build on first use. Nothing here is random or
    per-environment (chalicelib/aws.py re-makes the clients after each restore)."""
    for op in web.REGISTRY:
        for shape in (op.body, op.query):
            if shape is not None:
                shape.model_rebuild(force=True)  # the validator `defer_build` left for first use
    aws.prime(API_CLIENTS)


if prime_on_init():
    prime_for_snapshot()

gc.freeze()
gc.enable()
