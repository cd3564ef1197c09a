"""The projection registry (services/flows/projections.py) and what is generated from it:
the stream mapping's filter (infra/fieldsales_infra/stream_filter.json, evaluated here as
Lambda evaluates it), the table in docs/architecture.md, and the engine's rules (decode a
record once, skip only a bad record, retry everything else)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import UndecodableItem
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.platform import projections
from chalicelib.services.platform.projections import (
    EVENTS,
    INSERT,
    MODIFY,
    REMOVE,
    Change,
    Projection,
    Registry,
    passes,
    reads,
)
from tools.projections import FILTER_FILE, table

REPO = Path(__file__).resolve().parents[2]
STREAM_ENTITIES = sorted({e for p in REGISTRY.stream() for e in p.entities})
NOT_READ = ["FeedEntry", "DirectoryEntry", "InboxCounter", "MessageGuard", "StatsAggregate", "UserDay", None]


def record(entity: Any, event: str) -> dict[str, Any]:
    """A stream record of ``entity`` as the Lambda event spells it (images by event)."""
    image = {"entity": {"S": entity}, "PK": {"S": "T#acme#X"}, "SK": {"S": "Y"}} if entity else {"PK": {"S": "k"}}
    data: dict[str, Any] = {"SequenceNumber": "1", "Keys": {"PK": image["PK"]}}
    if event != INSERT:
        data["OldImage"] = image
    if event != REMOVE:
        data["NewImage"] = image
    return {"eventID": "e1", "eventName": event, "dynamodb": data}


# ---------------------------------------------------------------- declarations
def test_every_written_entity_is_declared_by_exactly_one_projection():
    owners = Counter(w for p in REGISTRY for w in p.writes)
    assert {w: n for w, n in owners.items() if n != 1} == {}


def test_stream_projections_apply_and_in_transaction_ones_are_declarations_only():
    kept = {p.name: (p.kept, p.on_stream) for p in REGISTRY}
    assert all(on == (how == "after_commit") for how, on in kept.values())
    assert {"directory", "approval_waits", "team_day", "budget_spend"} <= {
        name for name, (how, _) in kept.items() if how == "in_transaction"
    }
    with pytest.raises(ValueError):
        Projection("x", (reads("User"),), "after_commit", ("X",))  # a stream projection without apply
    with pytest.raises(ValueError):
        reads("User", events=["UPSERT"])


# ---------------------------------------------------------------- the stream filter
def test_stream_filter_file_is_what_the_registry_derives():
    deployed = json.loads((REPO / FILTER_FILE).read_text())
    assert deployed == REGISTRY.filter_patterns(), "run `make stream-filter`"
    assert 0 < len(deployed) <= 5  # the filters one event source mapping takes


@pytest.mark.parametrize("entity", STREAM_ENTITIES)
def test_a_record_passes_the_filter_exactly_when_some_projection_reads_its_entity_on_its_event(entity):
    patterns = REGISTRY.filter_patterns()
    for event in EVENTS:
        wanted = any(p.reacts_to(entity, event) for p in REGISTRY.stream())
        assert passes(patterns, record(entity, event)) is wanted, (entity, event)


@pytest.mark.parametrize("entity", NOT_READ)
def test_a_record_of_an_entity_no_projection_reads_never_passes(entity):
    patterns = REGISTRY.filter_patterns()
    assert not any(passes(patterns, record(entity, event)) for event in EVENTS)


def test_an_insert_only_entity_is_filtered_on_its_event():
    registry = Registry((Projection("p", (reads("Job", events=[INSERT]),), "after_commit", ("Q",), apply=print),))
    patterns = registry.filter_patterns()
    assert patterns == [{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["Job"]}}}}]
    assert passes(patterns, record("Job", INSERT)) and not passes(patterns, record("Job", MODIFY))


# ---------------------------------------------------------------- the docs
def test_architecture_doc_lists_exactly_the_registry_projections():
    doc = (REPO / "docs/architecture.md").read_text()
    between = doc.split("<!-- projections:begin -->\n")[1].split("<!-- projections:end -->")[0]
    assert between == table(), "run `python -m tools.projections table` and paste it into docs/architecture.md"
    names = [line.split("`")[1] for line in between.splitlines()[2:]]
    assert names == [p.name for p in REGISTRY]


# ---------------------------------------------------------------- the engine
def test_engine_decodes_each_image_once_whatever_the_number_of_projections(monkeypatch):
    calls: list[Any] = []
    monkeypatch.setattr(projections, "from_stream_image", lambda image: calls.append(image) or image)
    seen: list[Any] = []
    registry = Registry(
        tuple(
            Projection(f"p{n}", (reads("User"),), "after_commit", (f"W{n}",), apply=lambda c: seen.append(c.new))
            for n in range(3)
        )
    )
    raw = record("User", MODIFY)

    assert registry.apply(Change.of_event(raw)) == ["p0", "p1", "p2"]
    assert len(calls) == 2 and len(seen) == 3  # the new and the old image, once each


def test_engine_skips_a_bad_record_per_projection_and_raises_a_bug_after_the_others_ran(monkeypatch):
    ran: list[str] = []
    skipped: list[str] = []
    monkeypatch.setattr(projections, "skip_bad_item", lambda consumer, exc, **kw: skipped.append(consumer))

    def bad(change: Change) -> None:
        raise UndecodableItem("undecodable User", "acme", "k")

    def bug(change: Change) -> None:
        raise KeyError("status")

    registry = Registry(
        (
            Projection("bad", (reads("User"),), "after_commit", ("A",), apply=bad),
            Projection("bug", (reads("User"),), "after_commit", ("B",), apply=bug),
            Projection("ok", (reads("User"),), "after_commit", ("C",), apply=lambda c: ran.append("ok")),
        )
    )

    with pytest.raises(KeyError):
        registry.apply(Change.of_event(record("User", MODIFY)))
    assert skipped == ["table_stream.bad"] and ran == ["ok"]


def test_what_several_projections_of_one_record_load_is_loaded_once():
    change = Change("INSERT", None, {"entity": {"S": "SignIn"}})
    calls: list[str] = []

    def load() -> str:
        calls.append("settings")
        return "the settings"

    assert change.once("settings", load) == change.once("settings", load) == "the settings"
    assert calls == ["settings"]
