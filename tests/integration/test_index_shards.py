"""Tenant-wide index partitions spread over the tenant's index shards (models/shards.py):
the feed's scene and type partitions, the list and search entries and the geo index of a
tenant whose ``index_shards`` is raised are written to ``#<s>`` partitions picked by the
entry's own id (shard 0 keeps the old key), read one Query per shard and merged; pages
answer exactly what one partition answered, at a constant cost; entries written before a
raise are still read, and a re-index deletes exactly the key an entry was written under."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import boto3

from chalicelib.auth import Principal
from chalicelib.models.feed import ADMIN_VIEWER, Activity, feed_pk
from chalicelib.models.lists import ListIndexState
from chalicelib.services.crm import list_index, lists
from chalicelib.services.feed import feed, feed_index
from chalicelib.services.org import org
from chalicelib.services.sync import changelog, sync
from tests.support import read_all

SHANGHAI = (31.2286, 121.4479)
OWNERS = ("rep_a", "rep_b", "rep_c")
# (viewer, URL): every kind of page a sharded partition answers
PAGES = [
    ("admin", "/v1/feed?scene=all"),
    ("admin", "/v1/feed?scene=all&types=post,sales_record"),
    ("mgr_east", "/v1/feed?scene=all"),
    ("mgr_east", "/v1/feed?scene=subordinates_business&types=post"),
    ("rep_a", "/v1/feed?scene=my_accounts"),
    ("admin", "/v1/accounts?scope=all"),
    ("admin", "/v1/accounts?scope=all&sort=name"),
    ("admin", "/v1/accounts?q=shop"),
    ("admin", "/v1/accounts?owner_id=rep_b"),
    ("admin", "/v1/accounts?archived=true"),
    ("mgr_east", "/v1/accounts?scope=team"),
    ("rep_a", "/v1/accounts?scope=mine"),
    ("rep_a", "/v1/accounts?scope=all&q=shop"),
]


def create_account(api: Any, n: int, owner: str) -> str:
    location = {"lat": SHANGHAI[0] + n * 0.0005, "lng": SHANGHAI[1]}
    status, acc = api.post("/v1/accounts", {"name": f"Shop {n:02d}", "location": location}, as_=owner)
    assert status == 201, acc
    return str(acc["id"])


def write(api: Any, first: int, n: int, owners: tuple[str, ...] = OWNERS) -> tuple[list[str], list[str]]:
    """``n`` located accounts (``owners`` in turn) with two activities each (a post and a
    sales record); answers their ids."""
    accounts, activities = [], []
    for i in range(first, first + n):
        owner = owners[i % len(owners)]
        accounts.append(create_account(api, i, owner))
        for kind in ("post", "sales_record"):
            new = feed.NewActivity("acme", kind, owner, f"{kind} {i}", [("account", accounts[-1])])
            activities.append(feed.record_activity(new)["id"])
    return accounts, activities


def answers(api: Any) -> dict[str, list[str]]:
    """Every page kind read through in pages of 2 (no duplicates), and nearby."""
    out: dict[str, list[str]] = {}
    for who, url in PAGES:
        ids = [item["id"] for page in read_all(api, url, who, limit=2) for item in page]
        assert len(ids) == len(set(ids)), (who, url)
        out[f"{who} {url}"] = ids
    for who in ("admin", "mgr_east", "rep_a"):
        status, page = api.get(f"/v1/accounts/nearby?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}&limit=50", as_=who)
        assert status == 200, page
        out[f"{who} nearby"] = [item["id"] for item in page["items"]]
    return out


def stored(entity: str, attr: str, value: str) -> set[tuple[str, str]]:
    """The (PK, SK) of every item of ``entity`` whose ``attr`` is ``value`` (a scan: small table)."""
    table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    found: set[tuple[str, str]] = set()
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        found |= {(i["PK"], i["SK"]) for i in page["Items"] if i.get("entity") == entity and i.get(attr) == value}
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def feed_keys_of(activity_id: str) -> set[tuple[str, str]]:
    """The feed entries the activity's ``indexed`` names (viewer, scene and shard)."""
    activity = Activity.fetch("acme", activity_id)
    assert activity is not None and activity.index_state == "ok"
    out = set()
    for key in activity.indexed or ():
        viewer, scene, shard = feed_index.parse_indexed(key)
        out.add((feed_pk("acme", viewer, scene, shard), f"{activity.occurred_at}#{activity_id}"))
    return out


def list_keys_of(account_id: str) -> set[tuple[str, str]]:
    state = ListIndexState.fetch("acme", "account", account_id)
    assert state is not None and state.state == "ok"
    return {tuple(k.split(list_index.KEY_SEP, 1)) for k in state.keys or ()}  # type: ignore[misc]


def no_orphans(accounts: list[str], activities: list[str]) -> None:
    """What is on disk for each is exactly what its index state names: nothing left behind."""
    for activity_id in activities:
        assert stored("FeedEntry", "activity_id", activity_id) == feed_keys_of(activity_id), activity_id
    for account_id in accounts:
        on_disk = stored("ListEntry", "object_id", account_id) | stored("GeoEntry", "object_id", account_id)
        assert on_disk == list_keys_of(account_id), account_id


def test_a_tenant_on_4_shards_answers_every_page_exactly_as_on_one(api, stream):
    accounts, activities = write(api, 0, 6)
    assert api.post(f"/v1/accounts/{accounts[0]}/archive", {}, as_="admin")[0] == 200  # an archived one
    stream.pump()  # its activities leave the scenes but all
    before = answers(api)
    assert org.raise_index_shards("acme", 4)
    for activity_id in activities:
        feed_index.reindex_activity("acme", activity_id)  # every entry moves to its shard (0: stays)
    for account_id in accounts:
        list_index.reindex_object("acme", "account", account_id)

    assert answers(api) == before
    moved = {pk.rsplit("#", 1)[-1] for a in activities for pk, _ in feed_keys_of(a)}
    assert {"1", "2", "3"} & moved, "entries left the unsharded partition"
    no_orphans(accounts, activities)  # each old key deleted, exactly


def test_writes_spread_over_the_shards(api):
    assert org.raise_index_shards("acme", 4)
    _, activities = write(api, 0, 20)  # 40 activities
    shard_of = {}
    for shard in range(4):
        for entry in feed.FeedEntry.query(feed_pk("acme", ADMIN_VIEWER, "all", shard)):
            shard_of[entry.activity_id] = shard
    counts = Counter(shard_of[a] for a in activities)
    assert sum(counts.values()) == 40 and max(counts.values()) <= 24, counts  # none over 60%


def test_entries_written_before_a_raise_are_read_and_rewritten_without_orphans(api):
    old_accounts, old_activities = write(api, 0, 4)  # n = 1: the unsharded keys
    assert org.raise_index_shards("acme", 4)
    new_accounts, new_activities = write(api, 4, 4)

    status, page = api.get("/v1/feed?scene=all&limit=100", as_="admin")
    assert status == 200 and {*old_activities, *new_activities} <= {i["id"] for i in page["items"]}
    status, page = api.get("/v1/accounts?limit=100", as_="admin")
    assert status == 200 and {*old_accounts, *new_accounts} <= {i["id"] for i in page["items"]}
    status, page = api.get(f"/v1/accounts/nearby?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}&limit=50", as_="admin")
    assert status == 200 and {*old_accounts, *new_accounts} <= {i["id"] for i in page["items"]}

    # a change re-indexes an old object (a rename) and its activities: the n = 1 keys go
    assert api.patch(f"/v1/accounts/{old_accounts[1]}", {"name": "Shop renamed"}, as_="admin")[0] == 200
    for activity_id in old_activities[2:4]:
        feed_index.reindex_activity("acme", activity_id)
    no_orphans([old_accounts[1], *new_accounts], [*old_activities[2:4], *new_activities])
    status, page = api.get("/v1/accounts?q=shop%20renamed", as_="admin")
    assert [i["id"] for i in page["items"]] == [old_accounts[1]]


def test_a_page_of_a_sharded_partition_costs_one_query_per_shard(api, ddb_requests):
    assert org.raise_index_shards("acme", 4)
    write(api, 0, 6)
    edge_and_items = ["BatchGetItem", "BatchGetItem"]  # the caller with the settings; the page's items
    for who, url, queries in (
        ("admin", "/v1/feed?scene=all&limit=5", 4),
        ("admin", "/v1/feed?scene=all&types=post,sales_record&limit=5", 8),
        ("mgr_east", "/v1/feed?scene=all&limit=2", 4),
        ("admin", "/v1/accounts?limit=5", 4),
        ("admin", "/v1/accounts?q=shop&limit=5", 4),
        ("admin", "/v1/accounts?archived=true&limit=5", 8),
        ("rep_a", "/v1/accounts?scope=mine&limit=1", 4),
    ):
        cursor = ""
        for n in range(2):  # a first page, then the next one
            ddb_requests.reset()
            status, page = api.get(url + cursor, as_=who)
            assert status == 200 and page["items"] and (n or page["next_cursor"]), (url, page)
            assert sorted(ddb_requests.calls) == edge_and_items + ["Query"] * queries, (url, ddb_requests.calls)
            cursor = f"&cursor={page['next_cursor']}"
    ddb_requests.reset()
    status, page = api.get(f"/v1/accounts/nearby?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}&limit=3", as_="admin")
    assert status == 200 and len(page["items"]) == 3
    assert ddb_requests.calls.count("BatchGetItem") == 2 and set(ddb_requests.calls) == {"BatchGetItem", "Query"}
    # the point's cell read in every shard first, at most the stated bound per shard
    assert 4 <= ddb_requests.calls.count("Query") <= 4 * lists.MAX_NEARBY_QUERIES


def scene_ids(api: Any, who: str, scene: str) -> set[str]:
    status, page = api.get(f"/v1/feed?scene={scene}&limit=100", as_=who)
    assert status == 200, page
    return {item["id"] for item in page["items"]}


def test_an_org_job_after_a_raise_leaves_exactly_the_index_a_fresh_one_would(api, stream):
    accounts, activities = write(api, 0, 3, owners=("rep_b",))  # written unsharded, rep_b under mgr_east
    stream.pump()
    assert set(activities) <= scene_ids(api, "mgr_east", "subordinates_business")
    assert org.raise_index_shards("acme", 4)

    body = {"name": "Liu Yang (rep)", "department_id": "east", "manager_id": "mgr_west"}
    status, out = api.put("/v1/admin/users/rep_b", body, as_="admin")
    assert status == 200 and out["job_id"], out
    stream.pump()  # the job, in its steps

    status, job = api.get(f"/v1/admin/jobs/{out['job_id']}", as_="admin")
    assert status == 200 and job["status"] == "done", job
    assert set(activities) <= scene_ids(api, "mgr_west", "subordinates_business")
    assert not set(activities) & scene_ids(api, "mgr_east", "subordinates_business")
    # what the job left is what a fresh index in the final org is: nothing to rewrite,
    # nothing left behind under the keys written before the raise
    assert not any(feed_index.reindex_activity("acme", a) for a in activities)
    assert not any(list_index.reindex_object("acme", "account", a) for a in accounts)
    no_orphans(accounts, activities)


def test_a_second_user_change_writes_no_registry_item(api, stream):
    def registry_writes() -> list[dict[str, Any]]:
        return [r for r in stream.pump() if r["dynamodb"]["Keys"]["SK"]["S"] == "REGISTRY"]

    body = {"name": "New Rep", "department_id": "east", "manager_id": "mgr_east"}
    assert api.put("/v1/admin/users/new_rep", body, as_="admin")[0] == 200
    registry_writes()  # registered (unless the seed did)
    assert api.put("/v1/admin/users/new_rep", {**body, "name": "New Rep 2"}, as_="admin")[0] == 200
    assert registry_writes() == []
    assert api.put("/v1/admin/settings", {"timezone": "Asia/Kolkata"}, as_="admin")[0] == 200
    assert api.put("/v1/admin/users/new_rep", {**body, "name": "New Rep 3"}, as_="admin")[0] == 200
    assert [r["eventName"] for r in registry_writes()] == ["MODIFY"]  # the zone change moves it, once


def test_offline_sync_mirrors_a_sharded_range_whole(api, stream, monkeypatch):
    monkeypatch.setattr(changelog, "SAFE_LAG_S", 0.0)  # readers and writers share one clock here
    old, _ = write(api, 0, 3)  # unsharded
    assert org.raise_index_shards("acme", 4)
    new, _ = write(api, 3, 5)
    stream.pump()
    admin = Principal("admin", "acme", frozenset({"admin"}))
    pulled: dict[str, str] = {}
    page = {"next": None, "has_more": True}
    while page["has_more"]:  # the first sync, in pages of 2, then the log
        page = sync.sync_page(admin, ("accounts",), since=page["next"], limit=2)
        pulled |= {c["id"]: c["op"] for c in page["changes"]}
    assert {*old, *new} <= {i for i, op in pulled.items() if op == "upsert"}

    assert api.patch(f"/v1/accounts/{old[0]}", {"name": "Shop moved"}, as_="admin")[0] == 200
    stream.pump()
    page = sync.sync_page(admin, ("accounts",), since=page["next"], limit=10)
    assert [(c["id"], c["op"], c["object"]["name"]) for c in page["changes"]] == [(old[0], "upsert", "Shop moved")]
