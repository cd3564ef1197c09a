"""The OpenAPI document as client teams read it: accepted by two independent strict
validators, clean component names (one per shape), operationIds that name the action, and
an example on every request body that the API itself accepts."""

from __future__ import annotations

import json
import os
import re
import subprocess
import typing
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError
from pydantic import BaseModel

import app  # noqa: F401 - registers every route
from chalicelib.openapi import document
from chalicelib.schemas import Page
from chalicelib.web import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "contract"
VERBS = (
    "create|get|list|update|set|remove|add|submit|approve|reject|mark|receive"
    "|archive|restore|deactivate|reactivate|decide"
    "|complete|reopen|acknowledge|withdraw"
)


DOC = document()


def _operation_ids() -> dict[tuple[str, str], str]:
    return {(m.upper(), path): op["operationId"] for path, ops in DOC["paths"].items() for m, op in ops.items()}


def test_openapi_spec_validator_accepts_the_document():
    validate(DOC)  # raises on any violation of the OpenAPI 3.1 schema
    broken = json.loads(json.dumps(DOC))
    next(iter(next(iter(broken["paths"].values())).values()))["responses"] = "none"
    with pytest.raises(OpenAPIValidationError):  # and it is a validator that refuses a broken one
        validate(broken)


def test_redocly_strict_ruleset_accepts_the_document(tmp_path: Path):
    redocly = TOOLS / "node_modules" / ".bin" / "redocly"
    assert redocly.exists(), "the npm tools are missing: make installs them (tools/contract)"
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(DOC))
    env = {**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true", "NO_COLOR": "1"}
    command = [str(redocly), "lint", str(path), "--config", str(TOOLS / "redocly.yaml"), "--format", "stylish"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _reachable_models() -> set[type[BaseModel]]:
    todo = [m for op in REGISTRY for shape in (op.body, op.query, op.response) for m in _models_in(shape)]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model not in seen:
            seen.add(model)
            todo += [m for f in model.model_fields.values() for m in _models_in(f.annotation)]
    return seen


def test_component_names_have_no_module_paths_and_each_names_one_shape():
    names = list(DOC["components"]["schemas"])
    assert [n for n in names if "__" in n or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    assert len(names) == len(set(names))
    by_name: dict[str, set[type[BaseModel]]] = defaultdict(set)
    for model in _reachable_models():
        by_name[model.__name__].add(model)
    assert {name: models for name, models in by_name.items() if len(models) > 1} == {}
    # the sign-in location (with accuracy) is its own shape, not a second LocationOut
    assert {"LocationOut", "SignInLocationOut", "PhotoOut", "SignInPage"} <= set(names)


def test_operation_ids_name_the_action():
    ids = _operation_ids()
    assert len(set(ids.values())) == len(ids)
    expected = {
        ("POST", "/v1/signins"): "createSignIn",
        ("GET", "/v1/signins"): "listSignIns",
        ("GET", "/v1/feed"): "listFeed",
        ("POST", "/v1/expenses/{expense_id}/approve"): "approveExpense",
        ("GET", "/v1/accounts/{object_id}"): "getAccount",
        ("POST", "/v1/accounts"): "createAccount",
        ("PATCH", "/v1/plans/{plan_id}"): "updatePlan",
        ("POST", "/v1/messages/read-all"): "markAllMessagesRead",
        ("GET", "/v1/docs"): "getDocsPage",
    }
    assert {key: ids[key] for key in expected} == expected
    assert [i for i in ids.values() if not re.fullmatch(rf"({VERBS})([A-Z][a-z0-9]*)+", i)] == []


def test_every_paged_result_is_a_page_and_its_operation_lists():
    ids = _operation_ids()
    for op in REGISTRY:
        paged = isinstance(op.response, type) and "items" in getattr(op.response, "model_fields", {})
        if paged:
            assert issubclass(op.response, Page), op.path
        name = ids[(op.method, op.path)]
        assert name.startswith("list") == paged, (name, op.path)


def test_every_request_body_has_an_example_the_api_accepts():
    for op in REGISTRY:
        if op.body is None:
            continue
        content = DOC["paths"][op.path][op.method.lower()]["requestBody"]["content"]["application/json"]
        assert "example" in content, (op.method, op.path)
        op.body.model_validate_json(json.dumps(content["example"]))  # strict, as the API parses it


def test_dates_publish_four_digit_years_and_the_service_refuses_the_range_with_422():
    """The contract: years outside 1970..2200 are 422 out_of_range (the service decides, one
    time module), so the published pattern admits every 4-digit year and nothing shorter."""
    pattern = DOC["components"]["schemas"]["LogIn"]["properties"]["date"]["pattern"]
    assert re.match(pattern, "0001-01-31") and re.match(pattern, "9999-12-31")
    assert not re.match(pattern, "1-01-31") and not re.match(pattern, "20260-01-31")
    start = DOC["components"]["schemas"]["PlanIn"]["properties"]["start_time"]["anyOf"][0]["pattern"]
    assert re.match(start, "1970-01-01T00:00:00Z") and not re.match(start, "1-01-01T00:00:00Z")


def test_a_plan_needs_a_date_or_a_start_as_its_schema_says():
    schema = {"$ref": "#/components/schemas/PlanIn", "components": DOC["components"]}
    assert not Draft202012Validator(schema).is_valid({"title": "Visit"})
    assert Draft202012Validator(schema).is_valid({"title": "Visit", "date": "2026-12-02"})
    assert Draft202012Validator(schema).is_valid({"title": "Visit", "start_time": "2026-12-02T09:00:00Z"})
