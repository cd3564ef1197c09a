"""Projections: derived data declared once, run by one engine.

Every derived data set (feed entries, list entries, statistics, digest rows, the sync log,
approval waits, ...) is a :class:`Projection`: the entities it reads and on which stream
events, whether it is kept inside the writing transaction or after the commit, what it
writes, the function that applies one table change, and how the backfill rebuilds it
from current state. Each capability declares its projections next to its code
(``feed_index.PROJECTION``); ``services/flows/projections.py`` collects them into the one
:class:`Registry`, from which everything else comes: the stream consumer
(``handlers/streams.py``: :meth:`Registry.apply` per record), the stream mapping's filter
criteria (:meth:`Registry.filter_patterns`: ``infra/`` and the local stream pump), the
backfill (:meth:`Registry.rebuilds`), the stream DLQ's re-drive and the replay and fault
tests.

Errors are sorted once, here: only a bad record (``observability.is_bad_record``: an
image that cannot be decoded, or a value the domain refuses) is skipped, logged and
counted per projection; anything else is retried (the caller reports the record in
``batchItemFailures``, then the mapping sends it to the stream DLQ).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from chalicelib.models.base import BaseItem, from_stream_image
from chalicelib.observability import is_bad_record, skip_bad_item

INSERT, MODIFY, REMOVE = "INSERT", "MODIFY", "REMOVE"
EVENTS = (INSERT, MODIFY, REMOVE)
WRITTEN = (INSERT, MODIFY)  # the events whose record has a new image
Kept = Literal["in_transaction", "after_commit"]
# The backfill's walks of one tenant (services/flows/backfill.py), each in bounded pages.
WALKS = ("profile", "objects", "signins", "expenses", "projects")


# ---------------------------------------------------------------- one table change
def _image_entity(image: Optional[Mapping[str, Any]]) -> Optional[str]:
    return ((image or {}).get("entity") or {}).get("S")


@dataclass(frozen=True)
class Change:
    """One stream record, decoded once: ``new`` and ``old`` are decoded on first use and
    kept (an undecodable image raises ``UndecodableItem`` on every use, decoded once). The
    engine decodes both before any projection runs, so every projection, whatever it reads
    of the record (the raw images too), skips an undecodable one alike."""

    event_name: str
    old_image: Optional[dict[str, Any]] = None
    new_image: Optional[dict[str, Any]] = None
    event_id: str = ""
    sequence_number: str = ""
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of_record(cls, record: Any) -> Change:
        """From a Chalice ``DynamoDBRecord`` (the Lambda event's record)."""
        return cls(record.event_name, record.old_image, record.new_image, record.event_id, record.sequence_number)

    @classmethod
    def of_event(cls, raw: Mapping[str, Any]) -> Change:
        """From a record as the Lambda event (or GetRecords) spells it."""
        data = raw.get("dynamodb") or {}
        old, new = data.get("OldImage"), data.get("NewImage")
        return cls(raw["eventName"], old, new, raw.get("eventID", ""), data.get("SequenceNumber", ""))

    @property
    def entity(self) -> Optional[str]:
        """The entity the record is of: its new image's, or for a removal its old image's."""
        return _image_entity(self.new_image) or _image_entity(self.old_image)

    @property
    def tenant_id(self) -> Optional[str]:
        return ((self.new_image or self.old_image or {}).get("tenant_id") or {}).get("S")

    @property
    def key(self) -> str:
        image = self.new_image or self.old_image or {}
        return f"{(image.get('PK') or {}).get('S')}|{(image.get('SK') or {}).get('S')}"

    def _decode(self, side: str, image: Optional[dict[str, Any]]) -> Optional[BaseItem]:
        memo = self._memo
        if side not in memo:
            try:
                memo[side] = from_stream_image(image)
            except Exception as exc:  # noqa: BLE001 - kept, raised again on every use
                memo[side] = exc
        if isinstance(memo[side], Exception):
            raise memo[side]
        return memo[side]

    def once(self, name: str, load: Callable[[], Any]) -> Any:
        """What ``load`` answers, loaded once for this record whichever projection asks
        first (the tenant's settings, read by several projections of one record)."""
        key = f"once:{name}"
        if key not in self._memo:
            self._memo[key] = load()
        return self._memo[key]

    def decode(self) -> None:
        """Decode both images (once): raises ``UndecodableItem`` for a bad one."""
        self._decode("new", self.new_image)
        self._decode("old", self.old_image)

    @property
    def new(self) -> Optional[BaseItem]:
        return self._decode("new", self.new_image)

    @property
    def old(self) -> Optional[BaseItem]:
        return self._decode("old", self.old_image)


# ---------------------------------------------------------------- declarations
@dataclass(frozen=True)
class Reads:
    """Entities a projection reads, on these stream events."""

    entities: frozenset[str]
    events: frozenset[str] = frozenset(EVENTS)


def reads(*entities: str, events: Iterable[str] = EVENTS) -> Reads:
    unknown = set(events) - set(EVENTS)
    if unknown:
        raise ValueError(f"not stream events: {sorted(unknown)}")
    return Reads(frozenset(entities), frozenset(events))


@dataclass(frozen=True)
class Scope:
    """What a rebuild needs of its tenant: the tenant, its zone, and the page's visibility
    resolver (``services.access.visibility.Resolver``; one per page of objects or expenses,
    None elsewhere)."""

    tenant_id: str
    zone: Any
    resolver: Any = None


@dataclass(frozen=True)
class Rebuild:
    """How the backfill re-derives a projection from current state: ``apply`` is called
    for each item of ``walk`` (one of :data:`WALKS`, in bounded resumable pages) and
    answers how many entries it wrote (None: not counted); ``index`` names the count."""

    walk: str
    apply: Callable[[Scope, BaseItem], Optional[int]]
    index: Optional[str] = None


@dataclass(frozen=True)
class Projection:
    """One derived data set, declared once (see the module docstring). ``apply`` runs one
    change (after_commit projections; an in_transaction one is written by its request's
    transaction and has none). ``writes`` names the entity (or key) families it owns."""

    name: str
    reads: tuple[Reads, ...]
    kept: Kept
    writes: tuple[str, ...]
    apply: Optional[Callable[[Change], Any]] = None
    rebuilds: tuple[Rebuild, ...] = ()
    doc: str = ""

    def __post_init__(self) -> None:
        if (self.kept == "after_commit") != (self.apply is not None):
            raise ValueError(f"{self.name}: an after_commit projection has an apply, an in_transaction one none")
        if any(r.walk not in WALKS for r in self.rebuilds):
            raise ValueError(f"{self.name}: a rebuild walks one of {WALKS}")

    @property
    def on_stream(self) -> bool:
        return self.apply is not None

    @property
    def entities(self) -> frozenset[str]:
        return frozenset(e for r in self.reads for e in r.entities)

    def events_of(self, entity: str) -> frozenset[str]:
        return frozenset(ev for r in self.reads if entity in r.entities for ev in r.events)

    def reacts_to(self, entity: Optional[str], event_name: str) -> bool:
        return entity is not None and event_name in self.events_of(entity)


# ---------------------------------------------------------------- the registry and engine
@dataclass
class Registry:
    """Every projection, in the order the stream applies them."""

    projections: tuple[Projection, ...]
    by_name: dict[str, Projection] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {}
        for p in self.projections:
            if p.name in self.by_name:
                raise ValueError(f"two projections named {p.name}")
            self.by_name[p.name] = p

    def __iter__(self) -> Iterator[Projection]:
        return iter(self.by_name.values())

    def stream(self) -> list[Projection]:
        return [p for p in self if p.on_stream]

    def for_record(self, change: Change) -> list[Projection]:
        """The stream projections that react to this change (entity and event)."""
        entity = change.entity
        return [p for p in self.stream() if p.reacts_to(entity, change.event_name)]

    def apply(self, change: Change) -> list[str]:
        """Run every projection that reacts to ``change``, each separately. A bad record is
        skipped for that projection (logged with tenant and key, counted as
        ``BadItemSkipped``); any other failure is raised after the others ran (the first),
        so the record is retried. Answers the names of the projections that ran clean."""
        retry: Optional[Exception] = None
        ran = []
        for projection in self.for_record(change):
            assert projection.apply is not None
            try:
                change.decode()  # an undecodable image is skipped, whatever the projection reads of it
                projection.apply(change)
                ran.append(projection.name)
            except Exception as exc:  # noqa: BLE001 - sorted: skip a bad record, retry the rest
                if not is_bad_record(exc):
                    retry = retry or exc
                    continue
                skip_bad_item(f"table_stream.{projection.name}", exc, tenant_id=change.tenant_id, key=change.key)
        if retry is not None:
            raise retry
        return ran

    def rebuilds(self, walk: str) -> list[Rebuild]:
        return [r for p in self for r in p.rebuilds if r.walk == walk]

    def filter_patterns(self) -> list[dict[str, Any]]:
        """The stream mapping's filter patterns (at most 4 of the 5 a mapping takes): a
        record passes when its entity and event are read by some stream projection."""
        return filter_patterns(self.stream())


def filter_patterns(projections: Iterable[Projection]) -> list[dict[str, Any]]:
    """Entities grouped by the events they are read on: written ones (INSERT and MODIFY
    have a new image) on ``NewImage.entity``, INSERT-only or MODIFY-only ones with their
    ``eventName``, removals on ``OldImage.entity`` (a REMOVE has no new image)."""
    events: dict[str, set[str]] = {}
    for p in projections:
        for entity in p.entities:
            events.setdefault(entity, set()).update(p.events_of(entity))
    groups: dict[tuple[str, ...], set[str]] = {}
    for entity, on in events.items():
        written = tuple(sorted(on & set(WRITTEN)))
        if written:
            groups.setdefault(written, set()).add(entity)
        if REMOVE in on:
            groups.setdefault((REMOVE,), set()).add(entity)
    patterns = []
    for group, entities in sorted(groups.items()):
        image = "OldImage" if group == (REMOVE,) else "NewImage"
        pattern: dict[str, Any] = {"dynamodb": {image: {"entity": {"S": sorted(entities)}}}}
        if group != WRITTEN:
            pattern = {"eventName": list(group), **pattern}
        patterns.append(pattern)
    return patterns


def matches(pattern: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Lambda's filter rule for the patterns above: every key of the pattern is in the
    record, a list names the values allowed, a mapping matches the record's mapping."""
    for key, want in pattern.items():
        if key not in record:
            return False
        got = record[key]
        if isinstance(want, Mapping):
            if not isinstance(got, Mapping) or not matches(want, got):
                return False
        elif got not in want:
            return False
    return True


def passes(patterns: Iterable[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when the record (as the Lambda event spells it) passes any pattern."""
    return any(matches(p, record) for p in patterns)
