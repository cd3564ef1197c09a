"""Every response the tests see, checked against its operation's declared response model.

The check uses the published OpenAPI document (generated from the models) made strict:
every object schema that lists its properties gets ``additionalProperties: false``, so a
field the route returns but its model does not declare is a mismatch (the runtime models
allow extra fields; the tests do not). Used by tests/conftest.py around chalice's test
client and by tests/e2e/conftest.py around the local stack's HTTP client.
"""

from __future__ import annotations

import copy
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator

VALUES = ("default", "examples", "example", "const", "enum")  # data, not schemas


def strict(schema: Any) -> Any:
    """A copy of ``schema`` in which no object takes properties it does not declare."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: v if k in VALUES else strict(v) for k, v in schema.items()}
    if "properties" in out:  # pydantic writes additionalProperties: true for extra="allow"
        out["additionalProperties"] = False
    return out


class Contract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.components = {"schemas": strict(copy.deepcopy(document["components"]["schemas"]))}
        self.routes: list[tuple[str, re.Pattern[str], dict[str, Any]]] = []
        for path, ops in document["paths"].items():
            regex = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
            for method, op in ops.items():
                self.routes.append((method.upper(), regex, op))
        self.routes.sort(key=lambda r: r[1].pattern.count("[^/]+"))  # literal segments first
        self._validators: dict[str, Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for m, regex, op in self.routes:
            if m == method.upper() and regex.match(path):
                return op
        return None

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = json.dumps(schema, sort_keys=True)
        if key not in self._validators:
            self._validators[key] = Draft202012Validator({**strict(schema), "components": self.components})
        return self._validators[key]

    def problems(self, method: str, url: str, status: int, content_type: str, body: bytes | str) -> list[str]:
        """What is wrong with this response, by its operation's declared responses."""
        op = self.operation(method, urlsplit(url).path)
        if op is None:
            return []  # no such route: the gateway's own answer
        declared = op["responses"].get(str(status))
        if declared is None:
            if status < 400:
                return [f"{op['operationId']}: status {status} is not declared"]
            declared = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        if "content" not in declared:  # an empty answer (204)
            return [] if not body else [f"{op['operationId']} {status}: a body where none is declared"]
        media = content_type.split(";")[0].strip()
        content = declared.get("content", {})
        if media not in content:
            return [f"{op['operationId']} {status}: content type {media!r} is not declared ({sorted(content)})"]
        if media != "application/json":
            return []
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return [f"{op['operationId']} {status}: the body is not JSON"]
        errors = self._validator(content[media]["schema"]).iter_errors(payload)
        return [
            f"{op['operationId']} {status}: at /{'/'.join(str(p) for p in e.absolute_path)}: {e.message[:300]}"
            for e in errors
        ]


@lru_cache(maxsize=1)
def local_contract() -> Contract:
    """The contract of the code under test (the routes register on importing the app)."""
    import app  # noqa: F401 - registers every route
    from chalicelib.openapi import document

    return Contract(document())
