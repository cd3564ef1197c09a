"""Tests that come from the projection declarations (services/flows/projections.py): for
every stream projection and every entity and event it declares it reads, a real record of
that entity (made through the services and the API in one module world) run through the
engine:

- applied twice (a replay) leaves the table as applied once;
- with a storage fault on its first write (per entity, on the first event it reads it),
  it is retried (raised for the stream to retry, or retried inside), never skipped, and
  the retry converges on what one clean run gives;
- with an image that cannot be decoded, it is skipped, logged with tenant and key, counted,
  and writes nothing.

A projection added to the registry is covered without touching this file; its entity
needs a record in the world (``samples`` fails, naming it, when none exists).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import boto3
import pytest

from chalicelib import observability
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.platform.projections import EVENTS, INSERT, MODIFY, REMOVE, Change, Projection, Registry
from local.pumps import StreamReader
from tests.integration.authz_matrix import CASES
from tests.integration.hostile import (  # noqa: F401 - world, clean_world: the module's fixtures
    THROTTLE,
    Call,
    World,
    clean_world,
    restore,
    table_items,
    world,
)

CASE_ROLES = {  # the write requests that make the entities the hostile world lacks
    "task.create": "mgr_east",
    "instruction.create": "mgr_east",
    "approval_request.create": "rep_a",
    "admin.project.put": "admin",
    "report.create": "rep_a",
    "webhook.signed": "anon",
}
# An append-only log: a replay appends an entry beside the first (it names the object,
# resolved from current state when read: services/sync/changelog.py), so a replay adds no
# object to it; compared by the objects it names.
APPEND_ONLY = {"SyncChange"}
VOLATILE = {"written_at", "updated_at", "created_at", "lease", "lease_until", "expires_at", "ttl"}
NOW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")  # a run's own clock (a job's listing key)

STREAM = REGISTRY.stream()
PARAMS = [
    pytest.param(p.name, entity, event, id=f"{p.name}-{entity}-{event}")
    for p in STREAM
    for entity in sorted(p.entities)
    for event in sorted(p.events_of(entity))
]
ENTITY_PARAMS = sorted({(p.name, e) for p in STREAM for e in p.entities})


# ---------------------------------------------------------------- the world and its records
def _entity(record: dict[str, Any]) -> str:
    return Change.of_event(record).entity or ""


@pytest.fixture(scope="module")
def samples(world: World) -> dict[tuple[str, str], dict[str, Any]]:  # noqa: F811
    """The last stream record of each (entity, event) the world's writes made."""
    for case, role in CASE_ROLES.items():
        status, body = world.send(role, CASES[case].build(world, role))
        assert status < 300, (case, status, body)
    move = {"name": "Team member", "department_id": "finance", "manager_id": "mgr_east"}  # an org change: a job
    status, body = world.send("admin", Call("PUT", "/v1/admin/users/rep_t", move))
    assert status == 200 and body.get("job_id"), body
    arn = boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])["Table"]["LatestStreamArn"]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for record in StreamReader(arn).read():
        found[(_entity(record), record["eventName"])] = record
    world.snapshot = table_items()
    return found


def record_for(samples: dict[tuple[str, str], dict[str, Any]], entity: str, event: str) -> dict[str, Any]:
    """A record of ``entity`` and ``event``: the world's, or one made from another of its
    records (a removal of its last image; a change that rewrote it unchanged)."""
    if (entity, event) in samples:
        return samples[(entity, event)]
    other = samples.get((entity, MODIFY)) or samples.get((entity, INSERT))
    assert other is not None, f"the world has no {entity} record: add a write that makes one"
    image = other["dynamodb"]["NewImage"]
    data = {**other["dynamodb"]}
    data["OldImage"], data["NewImage"] = {REMOVE: (image, None), MODIFY: (image, image), INSERT: (None, image)}[event]
    return {**other, "eventName": event, "dynamodb": {k: v for k, v in data.items() if v is not None}}


@pytest.fixture
def w(samples: dict, clean_world: World) -> World:  # noqa: F811
    """The module's world with its samples read, put back as it was after each test."""
    return clean_world


@pytest.fixture
def skipped(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every ``bad item skipped`` log line's fields (each is counted with it)."""
    seen: list[dict[str, Any]] = []
    original = observability.logger.warning

    def warning(msg: str, *args: Any, **kwargs: Any) -> None:
        if msg == "bad item skipped":
            seen.append(kwargs.get("extra") or {})
        original(msg, *args, **kwargs)

    monkeypatch.setattr(observability.logger, "warning", warning)
    return seen


def first_event(name: str, entity: str) -> str:
    """The first event (INSERT, MODIFY, REMOVE) on which the projection reads the entity."""
    projection: Projection = REGISTRY.by_name[name]
    return next(e for e in EVENTS if e in projection.events_of(entity))


def engine_of(name: str) -> Registry:
    """The engine with this projection alone."""
    return Registry((REGISTRY.by_name[name],))


def state() -> dict[Any, Any]:
    """The table, without what a run stamps with its own time, append-only logs by object."""
    out: dict[Any, Any] = {}
    for key, item in table_items().items():
        entity = (item.get("entity") or {}).get("S")
        if entity in APPEND_ONLY:
            out[("log", entity, str(item.get("object_id")), str(item.get("viewer") or item.get("user_id")))] = True
            continue
        out[key] = {k: NOW.sub("<now>", json.dumps(v)) for k, v in item.items() if k not in VOLATILE}
    return out


# ---------------------------------------------------------------- replay
@pytest.mark.parametrize("name,entity,event", PARAMS)
def test_projection_applied_twice_leaves_the_state_of_once(w, samples, name, entity, event):
    change = Change.of_event(record_for(samples, entity, event))
    engine = engine_of(name)

    engine.apply(change)
    once = state()
    engine.apply(Change.of_event(record_for(samples, entity, event)))

    assert state() == once


# ---------------------------------------------------------------- faults
@pytest.mark.parametrize("name,entity", ENTITY_PARAMS)
def test_projection_with_a_storage_fault_is_retried_never_skipped(w, samples, skipped, name, entity):
    record = record_for(samples, entity, first_event(name, entity))
    before = table_items()
    engine_of(name).apply(Change.of_event(record))
    clean = state()
    restore(before)

    with w.hook.arm(fail_nth=1, error=THROTTLE) as hook:
        try:
            engine_of(name).apply(Change.of_event(record))
            raised = None
        except Exception as exc:  # noqa: BLE001 - what the stream handler reports as a batch item failure
            raised = exc
    engine_of(name).apply(Change.of_event(record))  # the stream's retry

    assert skipped == [], "a storage fault is never skipped"
    if raised is not None:
        assert hook.fired and not observability.is_bad_record(raised), raised
    assert state() == clean, "the retry converges on one clean run"


# ---------------------------------------------------------------- undecodable records
def _corrupt(image: dict[str, Any]) -> dict[str, Any]:
    """The image with one of its own string attributes stored as a number."""
    name = next(k for k, v in sorted(image.items()) if "S" in v and k not in ("PK", "SK", "entity", "tenant_id"))
    return {**image, name: {"N": "7"}}


@pytest.mark.parametrize("name,entity", ENTITY_PARAMS)
def test_projection_skips_logs_and_counts_an_undecodable_record(w, samples, skipped, name, entity):
    event = first_event(name, entity)
    record = record_for(samples, entity, event)
    side = "OldImage" if event == REMOVE else "NewImage"
    broken = {**record, "dynamodb": {**record["dynamodb"], side: _corrupt(record["dynamodb"][side])}}
    change = Change.of_event(broken)

    with w.hook.arm() as hook:
        ran = engine_of(name).apply(change)

    assert ran == [] and hook.writes == []
    assert [(s["consumer"], s["tenant_id"], s["key"]) for s in skipped] == [
        (f"table_stream.{name}", change.tenant_id, change.key)
    ]
    assert "UndecodableItem" in skipped[0]["error"]
