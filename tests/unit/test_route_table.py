"""The route table as API Gateway will see it, and the OpenAPI document generated from it."""

from __future__ import annotations

import app
from chalicelib.openapi import document
from chalicelib.web import REGISTRY


def test_sibling_path_variables_share_one_name_as_api_gateway_requires():
    # API Gateway refuses `/a/{x}` next to `/a/{y}/b`: one variable name per position.
    seen: dict[tuple[str, ...], str] = {}
    conflicts = []
    for op in REGISTRY:
        parts = op.path.strip("/").split("/")
        for i, part in enumerate(parts):
            if part.startswith("{"):
                parent = tuple(parts[:i])
                if seen.setdefault(parent, part) != part:
                    conflicts.append(f"{'/'.join(parent)}: {seen[parent]} vs {part}")
    assert not conflicts, conflicts


def test_every_chalice_route_is_in_the_registry_and_the_document():
    chalice_routes = {(path, method) for path, methods in app.app.routes.items() for method in methods}
    registered = {(op.path, op.method) for op in REGISTRY}
    assert chalice_routes == registered
    doc = document()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    assert documented == registered


def test_operation_ids_are_unique():
    ids = [op["operationId"] for ops in document()["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_every_error_response_uses_the_contract_error_schema():
    for path, ops in document()["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, status)


def test_only_health_docs_webhooks_and_the_calendar_feed_go_without_a_bearer_token():
    open_routes = {(op.method, op.path) for op in REGISTRY if not op.auth}
    assert open_routes == {
        ("GET", "/v1/health"),
        ("GET", "/v1/openapi.json"),
        ("GET", "/v1/docs"),
        ("GET", "/v1/docs/{asset}"),
        ("POST", "/v1/webhooks/finance/{tenant_id}"),
        ("GET", "/v1/calendar-feed/{token}"),  # the secret token in the URL is the credential
    }
    doc = document()
    for method, path in open_routes:
        assert doc["paths"][path][method.lower()]["security"] == []
