"""Property: whatever a client sends to any route (arbitrary RFC 3339-ish strings, dates,
months, deeply nested JSON, random ids), the answer is never a 5xx, and the same user's
next normal request still succeeds (nothing poisonous was stored).

Every operation of ``chalicelib.web.REGISTRY`` is fuzzed through ``chalice.test.Client``
under moto, on one module-scoped world (tests/integration/hostile.py). Hypothesis runs
derandomized, without an example database, a bounded number of examples per operation
(about 40 s in all on this machine class).
"""

from __future__ import annotations

import json
import string
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app  # noqa: F401 - registers every route in REGISTRY
from chalicelib.services.fieldwork import signins
from chalicelib.services.schedule import reminders
from chalicelib.timeutil import iso, utcnow
from chalicelib.web import REGISTRY, Operation
from tests.integration.hostile import TENANT, Call, world  # noqa: F401 - fixture

EXAMPLES_PER_OPERATION = 5
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
SKIP = {("GET", "/v1/openapi.json")}  # large and input-free
OPERATIONS = [op for op in REGISTRY if (op.method, op.path) not in SKIP]

# ---------------------------------------------------------------- values
LIMITS = [
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01T00:00:00+01:00",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2200-12-31T23:59:59Z",
    "2201-01-01T00:00:00Z",
    "2028-02-29T12:00:00+14:00",
    "2026-02-30T00:00:00Z",
    "2026-01-01T23:59:60Z",
]
timestamps = st.one_of(
    st.sampled_from(LIMITS),
    st.builds(
        "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
        st.integers(0, 9999),
        st.integers(0, 13),
        st.integers(0, 32),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        st.sampled_from(["", ".5", ".123456789"]),
        st.sampled_from(["Z", "z", "+00:00", "-01:00", "+14:00", "-23:59", "+24:00", ""]),
    ),
    st.text(max_size=30),
)
dates = st.one_of(
    st.sampled_from(["0000-01-01", "0001-01-01", "9999-12-31", "2026-02-30", "2028-02-29", "1970-01-01"]),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32)),
)
months = st.one_of(
    st.sampled_from(["0000-01", "9999-12", "2200-12", "1970-01", "2026-13"]),
    st.builds("{:04d}-{:02d}".format, st.integers(0, 9999), st.integers(0, 13)),
)
ID_CHARS = string.ascii_letters + string.digits + "_-"
ids = st.one_of(st.text(ID_CHARS, min_size=1, max_size=64), st.text(max_size=70))
deep = st.integers(30, 5000).map(lambda n: "[" * n + "]" * n)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def value_for(name: str, known_ids: list[str]) -> st.SearchStrategy[Any]:
    """Values a field of this name is likely to choke on, and some of any JSON type."""
    n = name.lower()
    if n in ("since", "until") or n.endswith("_at") or n.endswith("_time") or n == "timestamp":
        own = timestamps
    elif n in ("from", "from_", "to") or n.endswith("date") or n.endswith("_on"):
        own = st.one_of(dates, timestamps)
    elif n in ("month", "period"):
        own = months
    elif n.endswith("_ids"):
        own = st.lists(st.one_of(ids, st.sampled_from(known_ids)), max_size=3)
    elif n.endswith("_id") or n == "id" or n == "cursor":
        own = st.one_of(ids, st.sampled_from(known_ids))
    elif n == "location":
        own = st.fixed_dictionaries(
            {"lat": st.floats(-1e9, 1e9), "lng": st.floats(-1e9, 1e9), "accuracy_m": st.floats(-1, 1e9)}
        )
    else:
        own = st.nothing()
    return st.one_of(own, own, json_values)


def fields_of(model: Any) -> dict[str, str]:
    """Wire name -> field name of a pydantic model."""
    return {(f.alias or name): name for name, f in model.model_fields.items()} if model is not None else {}


def bodies(op: Operation, known_ids: list[str]) -> st.SearchStrategy[str]:
    names = fields_of(op.body)
    objects = st.fixed_dictionaries({}, optional={w: value_for(w, known_ids) for w in names}).map(json.dumps)
    nested_in_field = st.builds(
        lambda name, d: json.dumps({name: None})[:-5] + d + "}", st.sampled_from(sorted(names) or ["x"]), deep
    )
    return st.one_of(objects, objects, objects, deep, nested_in_field, st.text(max_size=40))


def queries(op: Operation, known_ids: list[str]) -> st.SearchStrategy[str]:
    names = fields_of(op.query)
    params = st.fixed_dictionaries(
        {},
        optional={w: value_for(w, known_ids).map(lambda v: v if isinstance(v, str) else json.dumps(v)) for w in names},
    )
    return params.map(lambda p: "&".join(f"{quote(k)}={quote(v, safe='')}" for k, v in p.items()))


def paths(op: Operation, known_ids: list[str]) -> st.SearchStrategy[str]:
    names = [part[1:-1] for part in op.path.split("/") if part.startswith("{")]
    values = {n: value_for(n if n != "period" else "period", known_ids) for n in names}
    return st.fixed_dictionaries(values).map(
        lambda got: op.path.format(
            **{k: quote(v if isinstance(v, str) else json.dumps(v), safe="") or "x" for k, v in got.items()}
        )
    )


# ---------------------------------------------------------------- the property
def normal_sign_in(world: Any, role: str) -> tuple[int, Any]:  # noqa: F811
    body = {
        "kind": "check_in",
        "location": {"lat": 31.2304, "lng": 121.4737, "accuracy_m": 20},
        "client_time": iso(utcnow()),
    }
    return world.send(role, Call("POST", "/v1/signins", body))


def webhook(world: Any, raw: str) -> Call:  # noqa: F811
    from chalicelib.services.integrations import webhooks
    from chalicelib.services.org import org

    integration = org.get_finance_integration(TENANT)
    assert integration is not None
    webhook_id = "msg_" + world.unique("f")
    headers = webhooks.sign(integration.secret, webhook_id, datetime.now(UTC), raw)
    return Call(
        "POST", f"/v1/webhooks/finance/{TENANT}", headers=dict(headers), raw=raw.encode("utf-8", "surrogatepass")
    )


def webhook_bodies(known_ids: list[str]) -> st.SearchStrategy[str]:
    names = ("expense_id", "status", "paid_at", "reference", "unit_type", "unit_id", "period", "amount", "currency")
    data = st.fixed_dictionaries({}, optional={name: value_for(name, known_ids) for name in names})
    envelope = st.builds(
        lambda t, ts, d: json.dumps({"type": t, "timestamp": ts, "data": d}),
        st.sampled_from(["expense.payment_updated", "budget.updated", "x"]),
        st.one_of(st.none(), timestamps),
        data,
    )
    return st.one_of(envelope, envelope, deep.map(lambda d: '{"type": "budget.updated", "data": {"x": ' + d + "}}"))


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
def test_no_input_to_any_route_is_a_5xx_and_the_user_can_go_on(world, op):  # noqa: F811
    known = sorted(set(world.ids.values()))
    role = "admin" if op.path.startswith("/v1/admin") else "rep_a"

    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        if op.path.startswith("/v1/webhooks/"):
            call = webhook(world, data.draw(webhook_bodies(known), "body"))
        else:
            path = data.draw(paths(op, known), "path")
            query = data.draw(queries(op, known), "query") if op.query else ""
            raw = data.draw(bodies(op, known), "body").encode("utf-8", "surrogatepass") if op.body else None
            call = Call(op.method, path + (f"?{query}" if query else ""), raw=raw)
        status, out = world.send(role, call)
        assert status < 500, (call.method, call.path, call.raw and call.raw[:300], out)
        status, out = world.send(role, Call("GET", "/v1/me"))
        assert status == 200, out

    run()
    status, out = normal_sign_in(world, role)  # whatever the examples stored
    assert status == 201, out


def test_schedules_still_run_after_the_fuzzing(world):  # noqa: F811
    """Whatever the fuzzing stored, the global jobs do not raise on it."""
    later = datetime.now(UTC) + timedelta(days=3)
    signins.close_open_visits(now=later)
    from chalicelib.services.collab import tasks

    result = reminders.run(now=later, senders=tasks.REMINDERS)  # as the schedule's handler runs it
    assert result.complete, result
