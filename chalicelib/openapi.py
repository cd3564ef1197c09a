"""The OpenAPI 3.1 document, generated from the route registry and its pydantic models."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from chalicelib.schemas import Error
from chalicelib.web import JSON, PATH_PARAM_RE, REGISTRY, Operation

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "No content",
    400: "Malformed request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "State conflict",
    410: "Gone",
    413: "Too large",
    422: "Semantically invalid",
    429: "Throttled",
    503: "Busy, retry",
}


def _models() -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {"Error": Error}
    for op in REGISTRY:
        for model in (op.body, op.response):
            if isinstance(model, type) and issubclass(model, BaseModel):
                seen.setdefault(model.__name__, model)
    return list(seen.values())


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF)
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        prop.pop("title", None)
        if "anyOf" in prop:  # Optional[X] -> X (absence is how a query says None)
            options = [o for o in prop.pop("anyOf") if o.get("type") != "null"]
            if len(options) == 1:
                prop.update(options[0])
            else:
                prop["anyOf"] = options
        prop.pop("default", None) if prop.get("default") is None else None
        params.append({"name": name, "in": "query", "required": name in required, "schema": prop})
    return params


def _path_parameters(op: Operation) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": op.path_patterns.get(name, PATH_PARAM_RE.pattern)},
        }
        for name in re.findall(r"{([^}]+)}", op.path)
    ]


def _response_schema(response: Any) -> dict[str, Any]:
    if response is None:
        return {"type": "object"}
    if isinstance(response, type) and issubclass(response, BaseModel):
        return {"$ref": REF.format(model=response.__name__)}
    return TypeAdapter(response).json_schema(ref_template=REF)


def operation_id(op: Operation) -> str:
    """The action the route names (``create_sign_in`` -> ``createSignIn``): what a
    generated client calls its method. The route table test keeps them unique."""
    first, *rest = op.name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def _operation(op: Operation) -> dict[str, Any]:
    errors = {400, 422, 429, 503, *op.errors}
    if op.auth:
        errors |= {401, 403, 404}
    if op.body is not None:
        errors |= {413}
    if op.idempotent:
        errors |= {409, 422}
    schema = _response_schema(op.response) if op.media_types == (JSON,) else {"type": "string"}
    success: dict[str, Any] = {"description": STATUS_TEXT.get(op.status, "OK")}
    if op.media_types:  # none: an empty answer (204)
        success["content"] = {media_type: {"schema": schema} for media_type in op.media_types}
    responses: dict[str, Any] = {str(op.status): success}
    for code in sorted(errors):
        responses[str(code)] = {
            "description": STATUS_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
        }
    doc: dict[str, Any] = {
        "operationId": operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _path_parameters(op) + (_query_parameters(op.query) if op.query else []),
        "responses": responses,
    }
    if op.idempotent:
        doc["parameters"].append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
            }
        )
    if op.body is not None:
        media: dict[str, Any] = {"schema": {"$ref": REF.format(model=op.body.__name__)}}
        extra: Any = op.body.model_config.get("json_schema_extra") or {}
        examples = extra.get("examples") if isinstance(extra, dict) else None
        if examples:
            media["example"] = examples[0]
        doc["requestBody"] = {"required": True, "content": {"application/json": media}}
    doc["security"] = [{"bearerAuth": []}] if op.auth else []
    return doc


def _add_links(paths: dict[str, dict[str, Any]]) -> None:
    """OpenAPI links from each create to the operations on what it created (``{id}`` taken
    from the 201 body), so stateful testing can follow them."""
    for op in REGISTRY:
        if op.method != "POST" or op.status != 201:
            continue
        links = {}
        prefix = op.path.rstrip("/") + "/{"
        for other in REGISTRY:
            if not other.path.startswith(prefix):
                continue
            rest = other.path[len(prefix) :]
            name, _, tail = rest.partition("}")
            if "{" in tail:
                continue  # a second path variable the create cannot supply
            links[operation_id(other)] = {
                "operationId": operation_id(other),
                "parameters": {f"path.{name}": "$response.body#/id"},
            }
        if links:
            paths[op.path]["post"]["responses"]["201"]["links"] = links


def _refuses_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else (kinds or [])
    return bool(kinds) and "null" not in kinds


def _drop_impossible_defaults(schemas: dict[str, Any]) -> None:
    """A field that may be left out but not sent as null (``PlanPatch.status``) has the
    default None in Python; as ``default: null`` in a schema that refuses null, it would
    make the document invalid. Absence is how such a field says "unchanged"."""
    for schema in schemas.values():
        for prop in schema.get("properties", {}).values():
            if "default" in prop and prop["default"] is None and _refuses_null(prop):
                del prop["default"]


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in REGISTRY:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op)
    _add_links(paths)
    _, defs = models_json_schema([(m, "validation") for m in _models()], ref_template=REF)
    schemas = defs.get("$defs", {})
    _drop_impossible_defaults(schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fieldsales API",
            "version": "1.0.0",
            "description": "Backend of the Fieldsales mobile CRM. See shared/API.md for the contract.",
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
