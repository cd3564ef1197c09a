"""What each type of ``GET /v1/sync`` mirrors: where its first sync reads from, whose log
it reads, and how a logged change resolves against current state.

A ``Source`` answers, for one type:

- ``viewer(principal)``: whose log and range the caller reads (``*`` for an admin's CRM
  range, as the list index; the caller for plans and tasks);
- ``snapshot(tenant, viewer, after, n)``: one Query of the whole range (object ids, and the
  key to resume after, None when done);
- ``object_key`` / ``proof_key`` / ``visible`` / ``shape``: resolution. A change is an
  ``upsert`` when the object exists and is in the viewer's range now, else a ``remove``.
  A CRM object is in the range when the viewer's whole-range list entry for its current
  revision exists (``proof_key``: read in one BatchGet for a whole page): exactly what
  the list routes answer from; while that revision is not indexed yet, a settled index
  state holding an entry of the viewer's (``state_key`` / ``state_proves``) says the same,
  so a phone never sees an object vanish and come back around an edit.

Tasks (``TaskSource``): every task the caller may read (creator, assignee, or a manager
of an assignee: collab/tasks.py decides, ``tasks.readers``), read from the caller's task
list entries of each role; a task's changes reach its readers' logs from the stream
(services/sync/changelog.py), a reporting change's too (``tasks.follow_move`` rewrites
the task). :func:`register` still lets a capability replace a type's source.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Optional, Protocol

from chalicelib import cursor
from chalicelib.auth import Principal
from chalicelib.models.base import BaseItem
from chalicelib.models.collab import Task, TaskEntry
from chalicelib.models.crm import MODELS, CrmObject, object_key
from chalicelib.models.feed import ADMIN_VIEWER
from chalicelib.models.lists import LIVE, ListEntry, ListIndexState, list_pk
from chalicelib.models.schedule import Plan, dated_range, dated_start_key
from chalicelib.models.shards import pk_suffix, spread
from chalicelib.services.collab import tasks
from chalicelib.services.crm import crm, list_index
from chalicelib.services.schedule import schedule

Key = tuple[str, str]


class Source(Protocol):
    @property
    def kind(self) -> str: ...  # the stored kind (models/sync.py KIND_CODES)

    def viewer(self, principal: Principal) -> str: ...

    def snapshot(
        self, tenant_id: str, viewer: str, after: Optional[str], n: int, shards: int = 1
    ) -> tuple[list[str], Optional[str]]: ...

    def object_key(self, tenant_id: str, object_id: str) -> Key: ...

    def proof_key(self, viewer: str, item: BaseItem, shards: int = 1) -> Optional[Key]: ...

    def state_key(self, item: BaseItem) -> Optional[Key]: ...

    def state_proves(self, viewer: str, state: BaseItem) -> bool: ...

    def visible(self, viewer: str, item: BaseItem, proven: bool) -> bool: ...

    def shape(self, item: BaseItem) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CrmSource:
    """Accounts, contacts, opportunities, leads: the list index's whole live range."""

    kind: str

    def viewer(self, principal: Principal) -> str:
        return ADMIN_VIEWER if principal.is_admin else principal.user_id

    def snapshot(
        self, tenant_id: str, viewer: str, after: Optional[str], n: int, shards: int = 1
    ) -> tuple[list[str], Optional[str]]:
        streams = {
            pk_suffix(s): partial(ListEntry.full_range_page, tenant_id, viewer, self.kind, shard=s)
            for s in range(shards)
        }
        # one position for every shard: sort keys are unique across them (they end in the id)
        merged = cursor.merge(streams, dict.fromkeys(streams, after), n, lambda e: e.SK, descending=True)
        entries = [e for _, e in merged.items]
        return [e.object_id for e in entries], (entries[-1].SK if merged.more and entries else None)

    def object_key(self, tenant_id: str, object_id: str) -> Key:
        return object_key(tenant_id, self.kind, object_id)

    def proof_key(self, viewer: str, item: BaseItem, shards: int = 1) -> Optional[Key]:
        if not isinstance(item, MODELS[self.kind]) or not isinstance(item, CrmObject) or item.archived_at:
            return None
        ref = (self.kind, item.object_id)
        shard = spread(item.object_id, shards)  # where its current revision is written (else the state proves it)
        return ListEntry.full_range_key(item.tenant_id, viewer, ref, item.updated_at, int(item.version or 0), shard)

    def state_key(self, item: BaseItem) -> Optional[Key]:
        return ListIndexState.key_of(item.tenant_id, self.kind, getattr(item, "object_id", ""))

    def state_proves(self, viewer: str, state: BaseItem) -> bool:
        """A settled index state (``ok``: its keys are exactly what is on disk) that holds an
        entry of the viewer's whole live range: the viewer lists the object now."""
        if not isinstance(state, ListIndexState) or state.state != "ok":
            return False
        partition = list_pk(state.tenant_id, viewer, self.kind, "all", LIVE, {})
        return any(_in_partition(k, partition) for k in state.keys or ())

    def visible(self, viewer: str, item: BaseItem, proven: bool) -> bool:
        return proven and isinstance(item, CrmObject) and not item.archived_at

    def shape(self, item: BaseItem) -> dict[str, Any]:
        assert isinstance(item, CrmObject)
        return crm.to_dict(item)


def _in_partition(key: str, partition: str) -> bool:
    """An index state's key (``<PK>\x1f<SK>``) is in the partition, in any of its shards."""
    pk = key.partition(list_index.KEY_SEP)[0]
    return pk == partition or (pk.startswith(partition + "#") and pk[len(partition) + 1 :].isdigit())


class NoProof:
    """A type whose objects say themselves who may read them (``visible``): no list entry
    to prove it, no index state."""

    def proof_key(self, viewer: str, item: BaseItem, shards: int = 1) -> Optional[Key]:
        return None

    def state_key(self, item: BaseItem) -> Optional[Key]:
        return None

    def state_proves(self, viewer: str, state: BaseItem) -> bool:
        return False


@dataclass(frozen=True)
class PlanSource(NoProof):
    """The caller's own plans, every date."""

    kind: str = "plan"

    def viewer(self, principal: Principal) -> str:
        return principal.user_id

    def snapshot(
        self, tenant_id: str, viewer: str, after: Optional[str], n: int, shards: int = 1
    ) -> tuple[list[str], Optional[str]]:
        pk = Plan.user_pk(tenant_id, viewer)
        start = dated_start_key(Plan, tenant_id, pk, after) if after else None
        lo, hi = dated_range(schedule.LOW_DATE, schedule.HIGH_DATE)
        plans = list(
            Plan.gsi1.query(pk, Plan.GSI1SK.between(lo, hi), limit=n + 1, page_size=n + 1, last_evaluated_key=start)
        )
        more = len(plans) > n
        plans = plans[:n]
        return [p.plan_id for p in plans], (plans[-1].GSI1SK if more and plans else None)

    def object_key(self, tenant_id: str, object_id: str) -> Key:
        return Plan.key_of(tenant_id, object_id)

    def visible(self, viewer: str, item: BaseItem, proven: bool) -> bool:
        return isinstance(item, Plan) and item.user_id == viewer

    def shape(self, item: BaseItem) -> dict[str, Any]:
        assert isinstance(item, Plan)
        return schedule.to_dict(item)


@dataclass(frozen=True)
class TaskSource(NoProof):
    """The tasks the caller may read, every status: the caller's list entries of each role
    (assigned, created, team), one role after the other; a task in two roles is listed
    twice (the same upsert). The position is ``<role index>|<sort key>``."""

    kind: str = "task"

    def viewer(self, principal: Principal) -> str:
        return principal.user_id

    def snapshot(
        self, tenant_id: str, viewer: str, after: Optional[str], n: int, shards: int = 1
    ) -> tuple[list[str], Optional[str]]:
        """One Query: up to ``n`` ids of one role's entries, and where to go on (the next
        role's start when this role is done; None after the last)."""
        role, _, sort_key = (after or "0|").partition("|")
        r = int(role) if role.isdigit() and int(role) < len(tasks.ROLES) else len(tasks.ROLES)
        if r >= len(tasks.ROLES):
            return [], None
        entries = TaskEntry.page_after(tenant_id, viewer, tasks.ROLES[r], sort_key or None, n + 1)
        if len(entries) > n:
            entries = entries[:n]
            return [e.task_id for e in entries], f"{r}|{entries[-1].SK}"
        ids = [e.task_id for e in entries]
        return ids, (f"{r + 1}|" if r + 1 < len(tasks.ROLES) else None)

    def object_key(self, tenant_id: str, object_id: str) -> Key:
        return Task.key_of(tenant_id, object_id)

    def visible(self, viewer: str, item: BaseItem, proven: bool) -> bool:
        return isinstance(item, Task) and viewer in tasks.readers(item)

    def shape(self, item: BaseItem) -> dict[str, Any]:
        assert isinstance(item, Task)
        return tasks.to_dict(item)


# the API's type names (the `types` parameter and each change's `type`) -> their source
SOURCES: dict[str, Source] = {
    "accounts": CrmSource("account"),
    "contacts": CrmSource("contact"),
    "opportunities": CrmSource("opportunity"),
    "leads": CrmSource("lead"),
    "plans": PlanSource(),
    "tasks": TaskSource(),
}
TYPES = ("accounts", "contacts", "opportunities", "leads", "plans", "tasks")


def register(type_name: str, source: Source) -> None:
    """Plug in the source of a type another capability owns (``tasks``)."""
    if type_name not in TYPES:
        raise ValueError(type_name)
    SOURCES[type_name] = source


def source_of(type_name: str) -> Optional[Source]:
    return SOURCES.get(type_name)
