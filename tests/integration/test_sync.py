"""Offline sync (GET /v1/sync): a random replay (hypothesis) of CRM, plan and task changes
and reorgs through the admin API (their org jobs run page by page), with client copies
synced at random points (also half-way through a change's stream records and through a
reorg's job), must end equal to what the list routes answer, for a rep, a manager and an
admin; removes when an object leaves a range; the horizon; the cursor's 410s; and a
page's DynamoDB requests at two data sizes."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import cursor
from chalicelib.auth import Principal
from chalicelib.services.crm import crm
from chalicelib.services.org import org
from chalicelib.services.platform import jobs
from chalicelib.services.sync import changelog
from chalicelib.services.sync import sync as svc
from chalicelib.timeutil import utcnow
from tests.support import Stream

CRM = {"accounts": "account", "contacts": "contact", "opportunities": "opportunity", "leads": "lead"}
VIEWERS = ("rep_a", "mgr_east", "admin")
OWNERS = ("rep_a", "rep_b", "rep_c")
TASK_CREATORS = ("mgr_east", "admin", "rep_a")


@pytest.fixture
def stream(api, chalice_client):
    return Stream(chalice_client)


@pytest.fixture
def no_lag(monkeypatch):
    """Readers and writers share one clock in a test: read up to now."""
    monkeypatch.setattr(changelog, "SAFE_LAG_S", 0.0)


class Copy:
    """A phone's local store: what it pulled, by (type, id)."""

    def __init__(self, api, user: str) -> None:
        self.api, self.user = api, user
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        self.since: str | None = None

    def pull(self, limit: int = 7) -> None:
        while True:
            query = f"/v1/sync?limit={limit}" + (f"&since={self.since}" if self.since else "")
            status, page = self.api.get(query, as_=self.user)
            assert status == 200, page
            for change in page["changes"]:
                key = (change["type"], change["id"])
                if change["op"] == "upsert":
                    self.rows[key] = change["object"]
                else:
                    self.rows.pop(key, None)
            self.since = page["next"]
            if not page["has_more"]:
                return


def visible(api, user: str) -> dict[tuple[str, str], dict[str, Any]]:
    """What the list routes answer the user (every page)."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for collection in (*CRM, "plans"):
        cursor = None
        while True:
            status, page = api.get(f"/v1/{collection}?limit=100" + (f"&cursor={cursor}" if cursor else ""), as_=user)
            assert status == 200, page
            out.update({(collection, item["id"]): item for item in page["items"]})
            cursor = page["next_cursor"]
            if cursor is None:
                break
    for role in ("assigned", "created", "team"):  # every task the user may read
        status, page = api.get(f"/v1/tasks?role={role}&limit=100", as_=user)
        assert status == 200 and page["next_cursor"] is None, page
        out.update({("tasks", item["id"]): item for item in page["items"]})
    return out


class World:
    """Random changes through the API (and the org service for reorgs)."""

    def __init__(self, api, rng: random.Random) -> None:
        self.api, self.rng = api, rng
        self.objects: dict[str, list[str]] = {t: [] for t in CRM}
        self.plans: list[str] = []
        self.tasks: list[tuple[str, str]] = []  # (id, creator)
        self.west = org.get_user("acme", "rep_b").manager_id == "mgr_west"

    def create(self) -> None:
        kind = self.rng.choice(list(CRM))
        owner = self.rng.choice(OWNERS)
        body: dict[str, Any] = {"name": f"{kind} {self.rng.randrange(10**6)}"}
        if kind in ("contacts", "opportunities"):
            if not self.objects["accounts"]:
                return
            body["account_id"] = self.rng.choice(self.objects["accounts"])
            if kind == "opportunities":
                body["stage"] = "qualify"
        status, out = self.api.post(f"/v1/{kind}", {**body, "owner_id": owner}, as_="admin")
        assert status == 201, out
        self.objects[kind].append(out["id"])

    def pick(self) -> tuple[str, str] | None:
        kinds = [k for k in CRM if self.objects[k]]
        if not kinds:
            return None
        kind = self.rng.choice(kinds)
        return kind, self.rng.choice(self.objects[kind])

    def patch(self) -> None:
        if (picked := self.pick()) is not None:
            body = {"name": f"renamed {self.rng.randrange(10**6)}"}
            assert self.api.patch(f"/v1/{picked[0]}/{picked[1]}", body, as_="admin")[0] == 200

    def transfer(self) -> None:
        if (picked := self.pick()) is not None:
            body = {"owner_id": self.rng.choice(OWNERS)}
            assert self.api.patch(f"/v1/{picked[0]}/{picked[1]}", body, as_="admin")[0] == 200

    def team(self) -> None:
        if not self.objects["accounts"]:
            return
        account, member = self.rng.choice(self.objects["accounts"]), self.rng.choice(("rep_a", "rep_b", "fin"))
        if self.rng.random() < 0.6:
            status, _ = self.api.put(f"/v1/accounts/{account}/team/{member}", {"role": "service"}, as_="admin")
            assert status == 200
        else:
            assert self.api.delete(f"/v1/accounts/{account}/team/{member}", as_="admin")[0] in (200, 404)

    def archive(self) -> None:
        if (picked := self.pick()) is not None:
            action = "archive" if self.rng.random() < 0.7 else "restore"
            assert self.api.post(f"/v1/{picked[0]}/{picked[1]}/{action}", as_="admin")[0] == 200

    def plan(self) -> None:
        if self.plans and self.rng.random() < 0.5:
            plan = self.rng.choice(self.plans)
            body = self.rng.choice(({"title": "moved", "date": "2030-01-0" + str(self.rng.randrange(1, 9))},))
            if self.rng.random() < 0.3:
                body = {"status": "cancelled"}
            assert self.api.patch(f"/v1/plans/{plan}", body, as_="rep_a")[0] in (200, 409)
            return
        user = self.rng.choice(VIEWERS)
        status, out = self.api.post("/v1/plans", {"date": "2030-01-01", "title": "visit"}, as_=user)
        assert status == 201, out
        if user == "rep_a":
            self.plans.append(out["id"])

    def reorg(self) -> None:
        """rep_b (and what rep_b owns, and the tasks assigned to rep_b) moves between east
        (under mgr_east) and west, through the admin API: its job runs later, page by page."""
        self.west = not self.west
        dept, manager = ("west", "mgr_west") if self.west else ("east", "mgr_east")
        body = {"name": "Liu Yang (rep)", "department_id": dept, "manager_id": manager}
        status, out = self.api.put("/v1/admin/users/rep_b", body, as_="admin")
        assert status == 200 and out.get("job_id"), out

    def task(self) -> None:
        """A task created by a manager, an admin or a rep (for themselves), for up to two of
        the reps; someone the creator may not address is refused (403), nothing written."""
        creator = self.rng.choice(TASK_CREATORS)
        people = ["rep_a"] if creator == "rep_a" else self.rng.sample(OWNERS, self.rng.randrange(1, 3))
        body = {"title": f"task {self.rng.randrange(10**6)}", "assignee_ids": people, "due_at": "2030-01-02T03:00:00Z"}
        status, out = self.api.post("/v1/tasks", body, as_=creator)
        assert status in (201, 403), out
        if status == 201:
            self.tasks.append((out["id"], creator))

    def reassign(self) -> None:
        if self.tasks:
            task_id, creator = self.rng.choice(self.tasks)
            people = ["rep_a"] if creator == "rep_a" else self.rng.sample(OWNERS, self.rng.randrange(1, 3))
            status, out = self.api.patch(f"/v1/tasks/{task_id}", {"assignee_ids": people}, as_=creator)
            assert status in (200, 403, 409), out

    def complete(self) -> None:
        if self.tasks:
            task_id, creator = self.rng.choice(self.tasks)
            status, out = self.api.get(f"/v1/tasks/{task_id}", as_=creator)
            assert status == 200, out
            if out["assignee_ids"] and out["status"] != "cancelled":
                who = self.rng.choice(out["assignee_ids"])
                assert self.api.post(f"/v1/tasks/{task_id}/complete", as_=who)[0] == 200

    def actions(self) -> list:
        return [
            self.create,
            self.patch,
            self.transfer,
            self.team,
            self.archive,
            self.plan,
            self.reorg,
            self.task,
            self.reassign,
            self.complete,
        ]


def run_step(stream, copies: list[Copy], rng: random.Random, action) -> None:
    """One change; its stream records delivered in two parts and, for a reorg, its job run
    a page at a time, with a phone syncing in between when the dice say so."""
    action()
    records = stream.read()
    cut = rng.randrange(len(records) + 1)
    stream.deliver(records[:cut])  # part of the step's re-index reached the log...
    if rng.random() < 0.5:
        rng.choice(copies).pull()  # ...when a phone syncs
    stream.deliver(records[cut:])
    for _ in range(rng.randrange(4)):  # some of a reorg job's pages (one page per message)
        message = stream.jobs.receive()
        if message is None:
            break
        stream.jobs.deliver(message)
        stream.deliver(stream.read())
    if rng.random() < 0.5:
        rng.choice(copies).pull()  # in the middle of the job
    stream.pump()


@pytest.fixture
def small_job_pages(monkeypatch):
    """An org job runs one page per message, so a test can stop it half-way."""
    monkeypatch.setattr(jobs, "MAX_PAGES", 1)


@pytest.fixture
def phones(api, stream) -> tuple[World, list[Copy]]:
    """A world with some data and the phones of a rep, a manager and an admin, synced once.
    Made once per test: hypothesis's examples go on from where the last one left off (the
    table is not reset between them), as a phone's life goes on."""
    world = World(api, random.Random(0))
    world.create()
    world.task()
    stream.pump()
    copies = [Copy(api, user) for user in VIEWERS]
    for copy in copies:
        copy.pull()
    return world, copies


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), picks=st.lists(st.integers(0, 9), min_size=1, max_size=4))
def test_replayed_changes_leave_every_copy_equal_to_the_visible_range(
    api, stream, no_lag, small_job_pages, phones, seed, picks
):
    # Given phones of a rep, a manager and an admin (synced at some point before)
    world, copies = phones
    world.rng = rng = random.Random(seed)
    # When changes of any kind happen, phones syncing at random points
    actions = world.actions()
    for pick in picks:
        run_step(stream, copies, rng, actions[pick])
    # Then after a final sync each phone holds exactly the user's visible range
    for copy in copies:
        copy.pull(limit=25)
        assert copy.rows == visible(api, copy.user), copy.user


def test_every_kind_of_change_reaches_every_copy(api, stream, no_lag, small_job_pages):
    """The replay above with every action at least once, in a fixed order."""
    rng = random.Random(20261207)
    world = World(api, rng)
    copies = [Copy(api, user) for user in VIEWERS]
    for _ in range(4):
        world.create()
        world.task()
    stream.pump()
    for copy in copies:
        copy.pull()
    for action in world.actions():
        run_step(stream, copies, rng, action)
    for copy in copies:
        copy.pull()
        assert copy.rows == visible(api, copy.user), copy.user
    kinds = {user: {t for t, _ in copy.rows} for user, copy in zip(VIEWERS, copies, strict=True)}
    assert kinds["admin"] - {"tasks"} and "tasks" in kinds["mgr_east"] and kinds["rep_a"], kinds


def test_an_object_leaving_the_range_is_a_remove(api, stream, no_lag):
    status, account = api.post("/v1/accounts", {"name": "Leaving"}, as_="rep_b")
    stream.pump()
    copy = Copy(api, "mgr_east")
    copy.pull()
    assert ("accounts", account["id"]) in copy.rows
    org.put_user("acme", org.NewUser("rep_b", "Liu Yang (rep)", "west", "mgr_west", None, None))  # a reorg
    stream.pump()
    copy.pull()
    assert ("accounts", account["id"]) not in copy.rows
    assert api.post(f"/v1/accounts/{account['id']}/archive", as_="rep_b")[0] == 200
    west = Copy(api, "mgr_west")
    west.pull()
    assert ("accounts", account["id"]) not in west.rows  # archived: not in the first sync either


def test_a_change_committed_while_a_page_is_read_is_not_skipped(api, stream):
    status, account = api.post("/v1/accounts", {"name": "Late"}, as_="rep_a")
    stream.pump()
    me = Principal("rep_a", "acme", frozenset())
    now = utcnow() + timedelta(seconds=30)  # later than every entry so far
    first = svc.sync_page(me, ("accounts",), now=now)
    page = svc.sync_page(me, ("accounts",), since=first["next"], now=now)
    assert page["has_more"] is False
    # an entry whose write began just before that read (within the lag) commits after it
    changelog.record("acme", "account", account["id"], ["rep_a"], clock=lambda: now - timedelta(seconds=2))
    later = svc.sync_page(me, ("accounts",), since=page["next"], now=now + timedelta(seconds=10))
    assert [c["id"] for c in later["changes"]] == [account["id"]]


def test_since_of_another_user_other_types_garbage_or_older_than_30_days_is_410(api, stream, no_lag):
    status, page = api.get("/v1/sync?types=accounts,plans", as_="rep_a")
    assert status == 200
    since = page["next"]
    for user, query in (
        ("rep_b", f"types=accounts,plans&since={since}"),
        ("rep_a", f"types=accounts&since={since}"),
        ("rep_a", "since=bm90IGEgY3Vyc29y"),
    ):
        status, out = api.get(f"/v1/sync?{query}", as_=user)
        assert (status, out["error"]["code"]) == (410, "resync_required"), (user, query)
    status, same = api.get(f"/v1/sync?types=plans,accounts&since={since}", as_="rep_a")  # order is no matter
    assert status == 200, same
    me = Principal("rep_a", "acme", frozenset())
    bound = cursor.bind_caller("acme", "rep_a")  # as web.py binds every request's cursors to its caller
    try:
        later = svc.sync_page(me, ("accounts", "plans"), since=since, now=utcnow() + timedelta(days=29))
        assert later["has_more"] in (True, False)
        with pytest.raises(Exception) as refused:
            svc.sync_page(me, ("accounts", "plans"), since=since, now=utcnow() + timedelta(days=31))
    finally:
        cursor.unbind(bound)
    assert getattr(refused.value, "status", None) == 410
    twice = api.get("/v1/sync?types=accounts,accounts", as_="rep_a")
    assert twice[0] == 200 and twice[1] == api.get("/v1/sync?types=accounts", as_="rep_a")[1] | {
        "next": twice[1]["next"]
    }
    assert api.get("/v1/sync?limit=501", as_="rep_a")[0] == 400


def _grow(n: int) -> None:
    me = Principal("rep_a", "acme", frozenset())
    for i in range(n):
        crm.create_object(me, "lead", {"name": f"lead {i}"})


def test_a_sync_page_costs_the_same_requests_at_small_and_larger_data(api, stream, no_lag, ddb_requests):
    me = Principal("rep_a", "acme", frozenset())
    counts = []
    for size in (6, 30):  # both fill a first-sync page of 5 from leads
        _grow(size)
        stream.pump()
        ddb_requests.reset()
        first = svc.sync_page(me, limit=5)
        first_cost = ddb_requests.total
        since = first["next"]
        while True:  # through the first sync, then the log is quiet
            page = svc.sync_page(me, since=since, limit=5)
            since = page["next"]
            if not page["has_more"]:
                break
        _grow(6)  # changes to read incrementally
        stream.pump()
        ddb_requests.reset()
        page = svc.sync_page(me, since=since, limit=5)
        assert len(page["changes"]) == 5 and page["has_more"]
        counts.append((first_cost, ddb_requests.total))
    assert counts[0] == counts[1], counts
    # a Query per type + the objects + their list entries + the tenant's settings (its index
    # shards: over HTTP the edge reads them with the caller, here a bare principal reads them)
    assert counts[0][1] <= 6 + 3, counts


def test_an_edit_not_yet_indexed_is_an_upsert_never_a_remove_and_back(api, stream, no_lag):
    status, account = api.post("/v1/accounts", {"name": "Before"}, as_="rep_a")
    stream.pump()
    copy = Copy(api, "rep_a")
    copy.pull()
    obj = crm.get_object("acme", "account", account["id"])
    obj.name = "After"
    obj.save()  # a new revision whose list entries are not written yet (its re-index is in flight)
    changelog.record("acme", "account", account["id"], ["rep_a"])
    status, page = api.get(f"/v1/sync?since={copy.since}", as_="rep_a")
    assert [(c["op"], c["object"]["name"]) for c in page["changes"]] == [("upsert", "After")]
