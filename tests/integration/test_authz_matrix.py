"""Every route and method against every role: the status code is the one written down in
tests/integration/authz_matrix.py. Besides the code, each cell proves that a refused
request wrote nothing, that nobody writes outside their own tenant, that a list holds
rep_a's item exactly for those who may see it, and that an object out of range answers
exactly like one that does not exist."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.web import REGISTRY
from tests.integration.authz_matrix import (
    ACTION_ERRORS,
    ACTION_ROLES,
    CASES,
    COLUMNS,
    action_call,
    action_expectations,
    expectations,
)
from tests.integration.hostile import ROLES, Call, clean_world, world  # noqa: F401 - fixtures

EXPECTED = expectations()
CELLS = [(case, role) for case in EXPECTED for role in COLUMNS]


def _rows(matrix: str, cells: list[tuple[str, str]]) -> list[Any]:
    """A row's cells on one worker, one after another: they share its build (World.prepared)."""
    return [
        pytest.param(key, role, marks=pytest.mark.xdist_group(f"{matrix}:{key}"), id=f"{key}-{role}")
        for key, role in cells
    ]


def test_every_registered_route_and_method_has_a_row_in_the_matrix():
    import app  # noqa: F401 - registering the blueprints fills REGISTRY

    registered = {(op.method, op.path) for op in REGISTRY}
    covered = {(c.method, c.route) for c in CASES.values()}
    assert registered - covered == set(), "routes without an authorization row"
    assert covered - registered == set(), "rows for routes that are not registered"
    assert set(CASES) == set(EXPECTED), "a case without a row of codes, or the reverse"


@pytest.mark.parametrize(("case", "role"), _rows("request", CELLS))
def test_request_as_role_answers_the_matrix_code(clean_world, case, role):  # noqa: F811
    w = clean_world
    spec, expected = CASES[case], EXPECTED[case][role]
    row = f"request:{case}:{role}" if spec.per_role else f"request:{case}"
    call = w.prepared(row, lambda: spec.build(w, role))
    with w.hook.arm() as hook:
        status, body = w.send(role, call)
    assert (status, role, case) == (int(expected[:3]), role, case), body
    if status >= 400:
        assert set(body["error"]) >= {"code", "message", "request_id"}, body
        assert hook.writes == [], f"a refused request wrote: {hook.writes}"
    who = ROLES[role]
    tenant = spec.writes_tenant or (who[1] if who else None)
    foreign = [pk for pk in hook.written_pks if not pk.startswith((f"T#{tenant}#", "T#~system#"))]
    assert foreign == [], f"{role} wrote outside its tenant"
    if expected.endswith(("+", "-")):
        assert spec.sees is not None
        assert spec.sees(w, body) == expected.endswith("+"), body
    if spec.after is not None:
        spec.after(w, role, call)


HIDDEN = ["account.get", "contact.get", "opportunity.get", "lead.get", "opportunity.overview", "activity.get"]
HIDDEN += ["activity.comments", "upload.get_photo", "signin.get", "plan.get", "log.get", "expense.get"]


@pytest.mark.parametrize("case", HIDDEN)
def test_read_of_object_out_of_range_answers_exactly_like_a_missing_one(world, case):  # noqa: F811
    real = CASES[case].build(world, "rep_b")
    parts = real.path.split("/")
    parts[3] = parts[3].split("_")[0] + "_01JZZZZZZZZZZZZZZZZZZZZZZZ"
    missing = Call(real.method, "/".join(parts))
    for role in ("rep_b", "x_admin"):
        (s1, hidden), (s2, absent) = world.send(role, real), world.send(role, missing)
        assert s1 == s2 == 404
        hidden["error"].pop("request_id"), absent["error"].pop("request_id")
        assert hidden == absent


ACTION_EXPECTED = action_expectations()
ACTION_CELLS = [(cell, role) for cell, row in ACTION_EXPECTED.items() for role, code in row.items() if code != "-"]


def test_action_matrix_has_every_role_object_and_action():
    assert len(ACTION_CELLS) == 32 * len(ACTION_ROLES)  # the object x action pairs that exist, every role


@pytest.mark.parametrize(("cell", "role"), _rows("action", ACTION_CELLS))
def test_action_as_role_answers_the_action_matrix_and_a_refusal_writes_nothing(clean_world, cell, role):  # noqa: F811
    w = clean_world
    expected = int(ACTION_EXPECTED[cell][role])
    call = w.prepared(f"action:{cell}", lambda: action_call(cell)(w, role))
    with w.hook.arm() as hook:
        status, body = w.send(ACTION_ROLES[role], call)
    assert (status, role, cell) == (expected, role, cell), body
    if status >= 400:
        assert body["error"]["code"] in ACTION_ERRORS[status], body
        if role == "ghost":
            assert body["error"]["code"] == "unknown_user"
        assert hook.writes == [], f"a refused request wrote: {hook.writes}"
    elif call.method != "GET":
        assert hook.writes, "an allowed change wrote nothing"
