"""Who may see an activity, and in which feed scenes: decided from current state.

An activity's audience is a set of ``(viewer, scene)`` pairs, computed from the objects it
relates to, their owners (and each owner's managers, from ``User.path``: no reads), the
departments along each owner's ``dept_path`` (their heads), and account teams. Loading it
costs three BatchGets whatever the org's size (objects, then users, then departments);
one ``Resolver`` caches them across the activities of one re-index job.

Rules (contract "CRM information"):
- author -> ``all``
- owner -> ``my_<type>s``, ``all``
- every manager (any depth) of an owner -> ``all``; plus ``subordinates_business`` unless
  the object is a lead
- the head of the owner's department and of each ancestor department -> ``all``; plus
  ``my_department`` unless the object is a lead
- account team (the owner counts as a member): each member -> ``all``; each manager of a
  member -> ``all`` and ``subordinates_team_accounts``
- the tenant-wide admin partition (``ADMIN_VIEWER``) -> ``all``
- an archived object feeds ``all`` only: its activities (old and new) leave every other
  scene until it is restored, and stay readable by id and in ``all`` with its history
- an activity that projects a personal record (``PRIVATE_TYPES``: an ``expense``) answers
  only to those who may read that record: the rules above narrowed to its author, the
  author's managers (any depth), the heads of the author's departments and the admin
  partition (``org.reads_user_data``, :func:`may_read_record`; an expense's peer who owns
  its opportunity saw it, description included: issue 24 item 2)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, Optional, get_args

from chalicelib.auth import Principal
from chalicelib.models.base import BaseItem
from chalicelib.models.crm import Account, CrmObject, object_key
from chalicelib.models.feed import ADMIN_VIEWER
from chalicelib.models.org import Department, TenantSettings, User
from chalicelib.models.shards import index_count
from chalicelib.services.org import org

Scene = Literal[
    "all",
    "my_accounts",
    "my_contacts",
    "my_opportunities",
    "my_leads",
    "subordinates_team_accounts",
    "subordinates_business",
    "my_department",
]
SCENES: tuple[str, ...] = get_args(Scene)
MY_SCENE = {"account": "my_accounts", "contact": "my_contacts", "opportunity": "my_opportunities", "lead": "my_leads"}
BUSINESS_TYPES = frozenset({"account", "contact", "opportunity"})

PRIVATE_TYPES = frozenset({"expense"})  # activities projecting a record of their author's own

Entry = tuple[str, str]  # (viewer, scene)
Ref = tuple[str, str]  # (object_type, object_id)


def entry_key(entry: Entry) -> str:
    return f"{entry[0]}|{entry[1]}"


def parse_entry_key(key: str) -> Entry:
    viewer, _, scene = key.partition("|")
    return viewer, scene


def dept_ids(dept_path: str) -> list[str]:
    return [p for p in dept_path.strip("/").split("/") if p]


class Resolver:
    """Loads (and caches) the state an audience depends on, with consistent reads."""

    def __init__(self, tenant_id: str, settings: Optional[TenantSettings] = None) -> None:
        self.tenant_id = tenant_id
        self.settings = settings  # the tenant's, when the caller has read them already
        self.objects: dict[Ref, Optional[CrmObject]] = {}
        self.users: dict[str, Optional[User]] = {}
        self.depts: dict[str, Optional[Department]] = {}
        self._placed: set[str] = set()  # users whose departments are loaded

    # ------------------------------------------------------------ loading
    @property
    def index_shards(self) -> int:
        """How many shards the tenant's index partitions are written to now (its settings:
        one GetItem unless given, once per resolver)."""
        if self.settings is None:
            self.settings = org.get_settings(self.tenant_id)
        return index_count(self.settings)

    def _batch(self, keys: list[tuple[str, str]]) -> list[BaseItem]:
        if not keys:
            return []
        return list(BaseItem.batch_get(keys, consistent_read=True))

    def load_objects(self, refs: Iterable[Ref]) -> dict[Ref, CrmObject]:
        refs = list(dict.fromkeys(refs))
        missing = [r for r in refs if r not in self.objects]
        if missing:
            for r in missing:
                self.objects[r] = None
            for item in self._batch([object_key(self.tenant_id, t, i) for t, i in missing]):
                if isinstance(item, CrmObject):
                    self.objects[(item.object_type, item.object_id)] = item
        found: dict[tuple[str, str], CrmObject] = {}
        for r in refs:
            obj = self.objects.get(r)
            if obj is not None:
                found[r] = obj
        self._load_people(found.values())
        return found

    def _load_people(self, objects: Iterable[CrmObject]) -> None:
        wanted: set[str] = set()
        for obj in objects:
            wanted.add(obj.owner_id)
            if isinstance(obj, Account):
                wanted.update(team_of(obj))
        self.load_users(wanted)

    def load_users(self, user_ids: Iterable[str], places: bool = True) -> None:
        """These users (one BatchGet of those not loaded yet), then, with ``places``, the
        departments along their ``dept_path`` (one more)."""
        wanted = list(dict.fromkeys(user_ids))
        missing = [u for u in wanted if u not in self.users]
        if missing:
            for u in missing:
                self.users[u] = None
            keys = [User.key_of(self.tenant_id, u) for u in missing]
            for item in self._batch(keys):
                if isinstance(item, User):
                    self.users[item.user_id] = item
        if not places:
            return
        # only the users asked for (a user the request already holds, such as its caller,
        # is placed when asked; a re-index job asks for one owner per opportunity)
        depts: set[str] = set()
        for uid in wanted:
            if uid not in self._placed:
                self._placed.add(uid)
                person = self.users.get(uid)
                depts.update(dept_ids(person.dept_path) if person is not None else [])
        self.load_depts(depts)

    def load_depts(self, ids: Iterable[str]) -> None:
        missing = [d for d in dict.fromkeys(ids) if d not in self.depts]
        if not missing:
            return
        for d in missing:
            self.depts[d] = None
        for item in self._batch([Department.key_of(self.tenant_id, d) for d in missing]):
            if isinstance(item, Department):
                self.depts[item.department_id] = item

    # ------------------------------------------------------------ rules
    def managers(self, user_id: str) -> list[str]:
        user = self.users.get(user_id)
        return user.ancestors if user else []

    def heads(self, user_id: str) -> set[str]:
        user = self.users.get(user_id)
        if user is None:
            return set()
        out = set()
        for d in dept_ids(user.dept_path):
            dept = self.depts.get(d)
            if dept is not None and dept.head_user_id:
                out.add(dept.head_user_id)
        return out

    def object_entries(self, obj: CrmObject) -> set[Entry]:
        kind = obj.object_type
        owner = obj.owner_id
        business = kind in BUSINESS_TYPES
        out: set[Entry] = {(owner, MY_SCENE[kind]), (owner, "all")}
        for m in self.managers(owner):
            out.add((m, "all"))
            if business:
                out.add((m, "subordinates_business"))
        for h in self.heads(owner):
            out.add((h, "all"))
            if business:
                out.add((h, "my_department"))
        if isinstance(obj, Account):
            for member in team_of(obj):
                out.add((member, "all"))
                for m in self.managers(member):
                    out.add((m, "all"))
                    out.add((m, "subordinates_team_accounts"))
        if obj.archived_at:
            return {(viewer, "all") for viewer, _ in out}
        return out

    def object_viewers(self, obj: CrmObject) -> set[str]:
        """Users who may see the object itself (``all`` of its activities' audience)."""
        return {viewer for viewer, scene in self.object_entries(obj) if scene == "all"}

    def activity_entries(self, author_id: str, objects: Iterable[CrmObject], activity_type: str = "") -> set[Entry]:
        out: set[Entry] = {(author_id, "all"), (ADMIN_VIEWER, "all")}
        for obj in objects:
            out |= self.object_entries(obj)
        if activity_type in PRIVATE_TYPES:
            self.load_users([author_id])
            readers = {author_id, ADMIN_VIEWER, *self.managers(author_id), *self.heads(author_id)}
            out = {(viewer, scene) for viewer, scene in out if viewer in readers}
        return out


def may_read_record(principal: Principal, resolver: Resolver, author_id: str) -> bool:
    """May the caller read a personal record (an expense) of ``author_id`` through one of
    its projections: finance staff, and the readers of the author's own records
    (``org.reads_user_data``: the author, their managers at any depth, heads of their
    departments, admins). The author must be loaded (:meth:`Resolver.load_users`: two BatchGets for any number)."""
    if principal.is_finance:
        return True
    return org.reads_user_data(principal, resolver.users.get(author_id), resolver.heads(author_id))


def team_of(account: Account) -> list[str]:
    """The account's relevant team: its owner plus the follow-up / service members."""
    members = dict(account.team.as_dict() if account.team is not None else {})
    return [account.owner_id, *sorted(m for m in members if m != account.owner_id)]


def can_see(principal: Principal, obj: CrmObject, resolver: Optional[Resolver] = None) -> bool:
    """May the caller see the CRM object (the feed's ``all`` rule, from current state)."""
    if principal.is_admin or obj.owner_id == principal.user_id:
        return True
    if isinstance(obj, Account) and principal.user_id in team_of(obj):
        return True
    resolver = resolver or Resolver(principal.tenant_id)
    resolver.objects[(obj.object_type, obj.object_id)] = obj
    resolver.load_objects([(obj.object_type, obj.object_id)])
    return principal.user_id in resolver.object_viewers(obj)


def may_address(principal: Principal, user: User, allow_self: bool, headed_paths: Iterable[str]) -> bool:
    """Who may address whom (tasks, instructions; contract "Collaboration"): themselves
    (tasks only: ``allow_self``), their subordinates at any depth, members of departments
    they head (``headed_paths``: those departments' paths, sub-departments included),
    admins anyone."""
    if user.user_id == principal.user_id:
        return allow_self
    if principal.is_admin or principal.user_id in user.ancestors:
        return True
    return any(user.dept_path.startswith(path) for path in headed_paths)
