"""Issue 24 item 0's class: every enumeration a response model lists (a value a service
stores and the route answers) is one of chalicelib/vocabulary.py's, so a service and the
model answering its values cannot drift apart (a ``team_digest`` message once made every
later GET /v1/messages of its recipient a 500)."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from chalicelib import vocabulary


def _literals(annotation: Any, where: str, seen: set[type], out: list[tuple[str, tuple[Any, ...]]]) -> None:
    if typing.get_origin(annotation) is typing.Literal:
        out.append((where, typing.get_args(annotation)))
        return
    for arg in typing.get_args(annotation):
        _literals(arg, where, seen, out)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
        seen.add(annotation)
        for name, field in annotation.model_fields.items():
            _literals(field.annotation, f"{annotation.__name__}.{name}", seen, out)


def test_every_enumeration_of_a_response_model_comes_from_the_vocabulary():
    import app  # noqa: F401 - registering the blueprints fills REGISTRY
    from chalicelib.web import REGISTRY

    known = {
        typing.get_args(value) for value in vars(vocabulary).values() if typing.get_origin(value) is typing.Literal
    }
    found: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[type] = set()
    for op in REGISTRY:
        if op.response is not None:
            _literals(op.response, op.path, seen, found)
    assert found, "no enumeration found: the walk is broken"
    strays = [(where, values) for where, values in found if len(values) > 1 and values not in known]
    assert strays == [], f"define these in chalicelib/vocabulary.py and use them from there: {strays}"


def test_the_services_lists_are_the_vocabularys():
    from chalicelib.models import expenses, schedule, uploads
    from chalicelib.services.fieldwork import signins
    from chalicelib.services.org import pipeline

    assert signins.FLAGS == vocabulary.SIGNIN_FLAGS and signins.KINDS == vocabulary.SIGNIN_KINDS
    assert pipeline.OUTCOMES == vocabulary.STAGE_OUTCOMES
    assert schedule.PLAN_STATUSES == vocabulary.PLAN_STATUSES and uploads.STATUSES == vocabulary.UPLOAD_STATUSES
    assert expenses.STATUSES == vocabulary.EXPENSE_STATUSES
