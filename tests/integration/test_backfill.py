"""The index backfill after an upgrade: data stored by the previous release (base items
without this release's index entries) shows in lists, search, nearby, the directory, the
approvals queue, the team day and projects exactly as data written now; twice, resumed,
interrupted or beside live writes: the same; another tenant untouched; a bad item skipped."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from chalicelib.services.crm import list_index
from chalicelib.services.flows import backfill
from chalicelib.services.org import org
from local.stack import backfill_to_end
from tests.integration.hostile import CONFLICT, THROTTLE, installed_hook, table_items
from tests.support import SHANGHAI, day_of, sign, submitted

# What this release derives from base items (and the previous release did not store).
DERIVED = {
    "ListEntry",
    "GeoEntry",
    "ListIndexState",
    "DirectoryEntry",
    "ApprovalWait",
    "UserDay",
    "ProjectMembership",
    "TenantEntry",
    "LastCheckIn",
    "OpportunityPulse",
    "OppStatsBucket",
    "OppStatsShare",
}
VIEWERS = ("rep_a", "rep_b", "rep_c", "mgr_east", "vp", "admin", "fin")
LISTS = ("accounts", "contacts", "opportunities", "leads")


def items_of(tenant: str) -> list[dict[str, Any]]:
    """The tenant's items, raw (the client, not the resource: the fault hook reads raw keys)."""
    found = [i for i in table_items().values() if (i.get("tenant_id") or {}).get("S") == tenant]
    return sorted(found, key=lambda i: (i["PK"]["S"], i["SK"]["S"]))


def as_previous_release(tenant: str) -> int:
    """Delete every entry this release derives: the tenant as the previous release stored it."""
    gone = [i for i in items_of(tenant) if (i.get("entity") or {}).get("S") in DERIVED]
    ddb = boto3.client("dynamodb")
    for start in range(0, len(gone), 25):
        deletes = [{"DeleteRequest": {"Key": {"PK": i["PK"], "SK": i["SK"]}}} for i in gone[start : start + 25]]
        ddb.batch_write_item(RequestItems={os.environ["TABLE_NAME"]: deletes})
    return len(gone)


def put_raw(item: dict[str, str]) -> None:
    boto3.client("dynamodb").put_item(TableName=os.environ["TABLE_NAME"], Item={k: {"S": v} for k, v in item.items()})


def pages(api: Any, path: str, as_: str, tenant: str = "acme") -> list[Any]:
    rows, cursor = [], None
    sep = "&" if "?" in path else "?"
    while True:
        status, page = api.get(
            f"{path}{sep}limit=100" + (f"&cursor={cursor}" if cursor else ""), as_=as_, tenant=tenant
        )
        assert status == 200, (path, page)
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows


def views(api: Any) -> dict[str, Any]:
    """What the read side shows every demo viewer."""
    out: dict[str, Any] = {}
    for who in VIEWERS:
        for c in LISTS:
            for q in ("scope=all", "scope=mine", "scope=team", "archived=true", "sort=name"):
                out[f"{who} {c} {q}"] = pages(api, f"/v1/{c}?{q}", who)
        for q in ("%E4%B8%8A%E6%B5%B7", "acme", "ACME"):  # 上海
            out[f"{who} search {q}"] = pages(api, f"/v1/accounts?q={q}", who)
        out[f"{who} nearby"] = api.get(f"/v1/accounts/nearby?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}", as_=who)[1]
        out[f"{who} approvals"] = pages(api, "/v1/approvals", who)
        out[f"{who} team"] = pages(api, "/v1/team", who)
        out[f"{who} team direct"] = pages(api, "/v1/team?depth=direct", who)
        out[f"{who} projects"] = pages(api, "/v1/projects?mine=true", who)
        out[f"{who} day"] = day_of(api, who)
    for q in ("", "?q=" + quote("rep"), "?department_id=east", "?include_inactive=true"):
        out[f"directory {q}"] = pages(api, f"/v1/users{q}", "admin")
    out["globex"] = pages(api, "/v1/accounts", "rep_x", tenant="globex")
    return out


@pytest.fixture
def world(api, kept_world):
    """A tenant written through this release's API (its indexes as live writes keep them)."""

    def build():

        def create(path: str, body: dict[str, Any], as_: str = "rep_a") -> str:
            status, out = api.post(path, body, as_=as_)
            assert status == 201, out
            return out["id"]

        a = create("/v1/accounts", {"name": "上海 Acme", "location": {"lat": SHANGHAI[0], "lng": SHANGHAI[1]}})
        create("/v1/contacts", {"name": "Zhang Wei", "account_id": a})
        create("/v1/opportunities", {"name": "Big deal", "account_id": a, "stage": "qualify"})
        create("/v1/leads", {"name": "acme lead"})
        b = create("/v1/accounts", {"name": "ACME West", "location": {"lat": 31.231, "lng": 121.474}}, as_="rep_c")
        assert api.put(f"/v1/accounts/{b}/team/rep_b", {"role": "follow_up"}, as_="rep_c")[0] == 200
        old = create("/v1/accounts", {"name": "Old shop", "location": {"lat": 31.2305, "lng": 121.4738}})
        assert api.post(f"/v1/accounts/{old}/archive", as_="rep_a")[0] == 200
        assert api.post("/v1/accounts", {"name": "Globex shop"}, as_="rep_x", tenant="globex")[0] == 201
        submitted(api, "80.00")
        submitted(api, "9000.00", as_="rep_b")  # two levels: mgr_east, then vp
        for kind, who in (("check_in", "rep_a"), ("check_out", "rep_a"), ("check_in", "rep_b")):
            assert sign(api, kind, SHANGHAI, as_=who)[0] == 201
        body = {"name": "Launch", "owner_id": "mgr_east", "member_ids": ["rep_a", "rep_b"]}
        assert api.put("/v1/admin/projects/launch", body, as_="admin")[0] == 200
        org.put_user("acme", org.NewUser("temp", "Temp Rep", "east", "mgr_east", None, None))
        org.set_active(org.require_user("acme", "temp"), False)
        return {"a": a, "b": b, "old": old}

    return kept_world(build)


def run_to_end(tenant: str = "acme", **kw: Any) -> dict[str, Any]:
    """Invoke until done, as an administrator would; answers the summed counts."""
    total: dict[str, Any] = {"written": {}, "visited": 0, "skipped": 0, "runs": 0}
    cursor = None
    while True:
        out = backfill.run(tenant, cursor, **kw)
        assert "error" not in out, out
        total["runs"] += 1
        total["visited"] += out["visited"]
        total["skipped"] += out["skipped"]
        for k, v in out["written"].items():
            total["written"][k] = total["written"].get(k, 0) + v
        if out["done"]:
            return total
        cursor = out["cursor"]


def test_backfill_shows_pre_release_data_exactly_as_data_written_now(api, world):
    written_now = views(api)
    assert as_previous_release("acme") > 0
    before = views(api)
    assert before["mgr_east accounts scope=all"] == [] and before["mgr_east approvals"] == []
    assert before["directory "] == [] and all(r["signins"] == [] for r in before["vp day"])

    report = run_to_end()
    assert report["skipped"] == 0
    assert report["written"]["lists"] == 6 and report["written"]["approvals"] == 2
    assert report["written"]["team_day"] == 3 and report["written"]["directory"] > 0
    assert views(api) == written_now
    assert {i["name"] for i in written_now["mgr_east nearby"]["items"]} == {"上海 Acme", "ACME West"}

    again = run_to_end()  # a second run writes the same entries, changes nothing
    assert again["written"]["lists"] == 0 and again["written"]["approvals"] == 0
    assert views(api) == written_now


def test_backfill_resumed_page_by_page_and_after_a_crash_gives_the_same_result(api, world, monkeypatch):
    written_now = views(api)
    as_previous_release("acme")
    stepwise = run_to_end(page_size=1, max_steps=2)
    assert stepwise["runs"] > 10
    assert views(api) == written_now

    as_previous_release("acme")
    real, calls = list_index.reindex_object, {"n": 0}

    def crash_on_third(*args: Any, **kw: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("the storage went away")
        return real(*args, **kw)

    monkeypatch.setattr(list_index, "reindex_object", crash_on_third)
    first = backfill.run("acme", page_size=2)
    assert first["done"] is False and "ConnectionError" in first["error"] and first["cursor"]
    cursor = first["cursor"]
    while cursor:
        out = backfill.run("acme", cursor, page_size=2)
        cursor = out["cursor"]
    assert views(api) == written_now


def test_backfill_beside_live_writes_keeps_the_newer_state(api, world):
    as_previous_release("acme")
    half = backfill.run("acme", page_size=1, max_steps=3)
    assert half["done"] is False
    # live writes between two invocations: a rename, an archive, a decision, a move
    assert api.patch(f"/v1/accounts/{world['a']}", {"name": "上海 Acme Renamed"}, as_="rep_a")[0] == 200
    assert api.post(f"/v1/accounts/{world['b']}/archive", as_="rep_c")[0] == 200
    cursor = half["cursor"]
    while cursor:
        cursor = backfill.run("acme", cursor, page_size=1)["cursor"]
    run_to_end()
    names = [i["name"] for i in pages(api, "/v1/accounts?q=%E4%B8%8A%E6%B5%B7", "mgr_east")]
    assert names == ["上海 Acme Renamed"]  # one entry, the newer one
    live = {i["id"] for i in pages(api, "/v1/accounts", "mgr_east")}
    archived = {i["id"] for i in pages(api, "/v1/accounts?archived=true", "mgr_east")}
    assert world["b"] not in live and {world["b"], world["old"]} <= archived
    near = {i["id"] for i in api.get(f"/v1/accounts/nearby?lat={SHANGHAI[0]}&lng={SHANGHAI[1]}", as_="vp")[1]["items"]}
    assert near == {world["a"]}


def test_backfill_of_one_tenant_leaves_another_untouched(api, world):
    as_previous_release("acme")
    as_previous_release("globex")
    globex = items_of("globex")
    run_to_end("acme")
    assert items_of("globex") == globex
    assert pages(api, "/v1/accounts", "rep_x", tenant="globex") == []
    assert pages(api, "/v1/accounts", "rep_a") != []


def test_a_bad_item_is_skipped_and_counted_not_fatal(api, world):
    written_now = views(api)
    put_raw(
        {
            "PK": "T#acme#ACCOUNT#broken",
            "SK": "OBJ",
            "GSI1PK": "T#acme#OWNED#rep_a",
            "GSI1SK": "ACCOUNT#broken",
            "entity": "Account",
            "tenant_id": "acme",
            "object_id": "broken",
            "owner_id": "rep_a",
            "updated_at": "0001-01-01T00:00:00Z",
        }
    )
    put_raw(
        {
            "PK": "T#acme#EXPENSE#junk",
            "SK": "EXPENSE",
            "GSI1PK": "T#acme#EXPUSER#rep_a",
            "GSI1SK": "2026-01-01#junk",
            "entity": "NoSuchEntity",
            "tenant_id": "acme",
        }
    )
    as_previous_release("acme")
    report = run_to_end()
    assert report["skipped"] == 2
    assert views(api) == written_now


def test_every_tenant_discovered_by_scan_segments_then_backfilled(api, world):
    written_now = views(api)
    as_previous_release("acme")
    as_previous_release("globex")
    for segment in range(2):
        cursor = None
        while True:
            out = backfill.discover(segment, 2, cursor)
            cursor = out["cursor"]
            if out["done"]:
                break
    out = backfill.run_all()
    assert out["done"] is True and {r["tenant_id"] for r in out["tenants"]} == {"acme", "globex"}
    assert views(api) == written_now


def test_the_local_control_endpoint_runs_one_tenant_or_all_to_the_end(api, world):
    written_now = views(api)
    as_previous_release("acme")
    out = backfill_to_end(backfill, "acme")
    assert out["last"]["done"] is True and out["runs"] == 1
    assert views(api) == written_now
    as_previous_release("acme")
    as_previous_release("globex")
    assert backfill_to_end(backfill, "all")["last"]["done"] is True
    assert views(api) == written_now


def test_the_lambda_answers_a_cursor_when_time_is_short_and_refuses_bad_events(api, world, chalice_client):
    short = chalice_client.lambda_.invoke("backfill_indexes", {"tenant_id": "acme"}).payload
    assert short["done"] is False and short["steps"] == 0 and short["cursor"]  # 3 s left: nothing started
    for bad in (
        {"tenant_id": "a b"},
        {"tenant_id": "acme", "page_size": 0},
        {"tenant_id": "acme", "cursor": 5},
        {"discover_tenants": True, "segment": 2, "total_segments": 2},
        {"tenant_id": "acme", "cursor": "x"},
    ):
        out = chalice_client.lambda_.invoke("backfill_indexes", bad).payload
        assert (
            out["done"] is False and out["error"]["code"] == "invalid_event" or out["error"]["code"] == "invalid_cursor"
        )
    other = backfill.run("globex", max_steps=1)["cursor"]
    out = chalice_client.lambda_.invoke("backfill_indexes", {"tenant_id": "acme", "cursor": other}).payload
    assert out["error"]["code"] == "invalid_cursor"


def test_a_storage_fault_at_any_write_ends_the_run_with_a_cursor_and_the_resume_converges(api, world):
    written_now = views(api)
    as_previous_release("acme")
    with installed_hook() as hook:
        with hook.arm():
            run_to_end()
        total = len(hook.writes)
        # the first, a middle and the last write; throttling and a transaction conflict
        for nth, error in ((1, THROTTLE), (total // 2, CONFLICT), (total, THROTTLE)):
            as_previous_release("acme")
            with hook.arm(fail_nth=nth, error=error):
                out = backfill.run("acme")
            assert hook.fired and (out["done"] or out["error"])  # retried inside, or stopped with a cursor
            cursor = out["cursor"]
            while cursor:
                cursor = backfill.run("acme", cursor)["cursor"]
            assert views(api) == written_now, nth


def test_an_expense_activity_indexed_with_its_old_wider_audience_is_narrowed_by_the_backfill(api, world):
    # issue 24 item 2 narrowed an expense activity to the expense's readers; one indexed
    # before that (here: rep_c, of another department, in its audience) keeps the wider
    # audience until the backfill re-indexes it
    from chalicelib.models.feed import Activity
    from chalicelib.services.expenses import expenses
    from chalicelib.services.feed import feed_index

    expense = submitted(api, "42.00")
    activity = feed_index.get_activity("acme", expenses.load("acme", expense["id"]).activity_id)
    assert activity is not None and activity.type == "expense"
    feed_index.write_entries(activity, [("rep_c", "all", 0)], [])  # (viewer, scene, index shard)
    activity.update(actions=[Activity.indexed.add({"rep_c|all"})])
    assert api.get(f"/v1/activities/{activity.activity_id}", as_="rep_c")[0] == 200  # the old audience
    report = run_to_end()
    assert report["written"]["expense_activities"] == 1
    assert api.get(f"/v1/activities/{activity.activity_id}", as_="rep_c")[0] == 404
    assert api.get("/v1/feed?types=expense", as_="rep_c")[1]["items"] == []
    status, page = api.get("/v1/feed?types=expense", as_="rep_a")  # its audience keeps it
    assert status == 200 and activity.activity_id in {a["id"] for a in page["items"]}
    assert run_to_end()["written"]["expense_activities"] == 0  # a second run changes nothing
