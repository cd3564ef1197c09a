"""Lists and name search of CRM objects: the visibility matrix (the feed's roles) over
scopes, filters, search (CJK, case and width folding), sort, paging while objects are
created, archive / restore, the request count of a page, and re-index after each kind of
org change (through the table stream, as the feed)."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlencode

import pytest

from chalicelib.services.org import org

COLLECTIONS = ("accounts", "contacts", "opportunities", "leads")
EVERYTHING = {"A", "C", "O", "L", "B"}

# viewer -> (tenant, role, {scope: expected labels})
MATRIX: dict[str, tuple[str, str, dict[str, set[str]]]] = {
    "rep_a": ("acme", "owner", {"all": {"A", "C", "O", "L"}, "mine": {"A", "C", "O", "L"}, "team": {"A"}}),
    "rep_b": ("acme", "peer, on B's team", {"all": {"B"}, "team": {"B"}}),
    "mgr_east": ("acme", "manager, heads east", {"all": EVERYTHING, "team": EVERYTHING}),
    "vp": ("acme", "manager's manager", {"all": EVERYTHING, "team": EVERYTHING}),
    "auditor": ("acme", "heads sales, manages no one", {"all": EVERYTHING}),
    "mgr_west": ("acme", "other department's manager", {"all": {"B"}, "team": {"B"}}),
    "rep_c": ("acme", "owner of B", {"all": {"B"}, "mine": {"B"}, "team": {"B"}}),
    "fin": ("acme", "unrelated colleague", {}),
    "admin": ("acme", "tenant admin", {"all": EVERYTHING}),
    "rep_x": ("globex", "other tenant", {}),
}


def create(api, path, body, as_="rep_a"):
    status, out = api.post(path, body, as_=as_)
    assert status == 201, out
    return out["id"]


@pytest.fixture
def world(api, kept_world):
    def build():
        org.put_user("acme", org.NewUser("auditor", "Auditor", "finance", "ceo", None, None))
        org.put_department("acme", "sales", "Sales", "hq", "auditor")
        a = create(api, "/v1/accounts", {"name": "A", "location": {"lat": 31.2304, "lng": 121.4737}})
        ids = {
            "A": a,
            "C": create(api, "/v1/contacts", {"name": "C", "account_id": a}),
            "O": create(api, "/v1/opportunities", {"name": "O", "account_id": a, "stage": "qualify"}),
            "L": create(api, "/v1/leads", {"name": "L"}),
            "B": create(api, "/v1/accounts", {"name": "B", "location": {"lat": 31.2310, "lng": 121.4740}}, as_="rep_c"),
        }
        assert api.put(f"/v1/accounts/{ids['B']}/team/rep_b", {"role": "follow_up"}, as_="rep_c")[0] == 200
        return ids

    return kept_world(build)


def listed(api, viewer, query="", tenant="acme", collections=COLLECTIONS) -> list[str]:
    out = []
    for collection in collections:
        status, page = api.get(f"/v1/{collection}?limit=100{query}", as_=viewer, tenant=tenant)
        assert status == 200, page
        assert page["next_cursor"] is None
        out += [i["id"] for i in page["items"]]
    return out


def labels(world, ids) -> set[str]:
    by_id = {v: k for k, v in world.items()}
    return {by_id.get(i, f"foreign:{i}") for i in ids}


@pytest.mark.parametrize("viewer", list(MATRIX))
def test_lists_for_each_viewer_and_scope_match_the_matrix(api, world, viewer):
    tenant, role, expected = MATRIX[viewer]
    for scope in ("all", "mine", "team"):
        ids = listed(api, viewer, f"&scope={scope}", tenant)
        assert len(ids) == len(set(ids))
        assert labels(world, ids) == expected.get(scope, set()), f"{viewer} ({role}) scope={scope}"
    near = api.get("/v1/accounts/nearby?lat=31.2304&lng=121.4737&radius_m=1000", as_=viewer, tenant=tenant)
    assert near[0] == 200
    assert labels(world, [i["id"] for i in near[1]["items"]]) == expected.get("all", set()) & {"A", "B"}


def test_filters_are_keys_alone_and_combined(api, world):
    a = world["A"]
    body = {"name": "O2", "account_id": a, "stage": "proposal", "owner_id": "rep_b"}
    o2 = create(api, "/v1/opportunities", body, as_="mgr_east")
    o3 = create(api, "/v1/opportunities", {"name": "O3", "account_id": world["B"], "stage": "qualify"}, as_="rep_c")
    c2 = create(api, "/v1/contacts", {"name": "C2", "account_id": a, "owner_id": "rep_b"}, as_="mgr_east")

    def ids(query, viewer="mgr_east", collection="opportunities"):
        return set(listed(api, viewer, query, collections=(collection,)))

    assert ids(f"&account_id={a}") == {world["O"], o2}
    assert ids("&stage=qualify", "rep_a") == {world["O"]}
    assert ids("&stage=qualify", "vp") == {world["O"], o3}
    assert ids(f"&account_id={a}&stage=proposal") == {o2}
    assert ids(f"&account_id={a}&stage=proposal&owner_id=rep_a") == set()
    assert ids("&owner_id=rep_b") == {o2}
    assert ids("&owner_id=rep_b&scope=mine", "rep_b") == {o2}
    assert ids(f"&account_id={a}", collection="contacts") == {world["C"], c2}
    assert ids(f"&account_id={a}&owner_id=rep_b", collection="contacts") == {c2}
    assert api.get("/v1/leads?stage=qualify", as_="rep_a")[0] == 422
    assert api.get(f"/v1/accounts?account_id={a}", as_="rep_a")[0] == 422


def test_search_folds_case_and_width_and_finds_chinese_names_as_typed(api):
    names = ["上海贸易有限公司", "上海银行", "ＡＣＭＥ Corp", "acme Ltd", "Acme上海", "Straße GmbH", "北京烤鸭"]
    made = {n: create(api, "/v1/accounts", {"name": n}) for n in names}

    def found(q):
        status, page = api.get("/v1/accounts?" + urlencode({"q": q, "limit": "100"}), as_="rep_a")
        assert status == 200, page
        return [i["name"] for i in page["items"]]

    assert set(found("上海")) == {"上海贸易有限公司", "上海银行"}
    assert set(found("acme")) == {"ＡＣＭＥ Corp", "acme Ltd", "Acme上海"}
    assert set(found("ACME上")) == {"Acme上海"}
    assert set(found("ａｃｍｅ c")) == {"ＡＣＭＥ Corp"}
    assert found("STRASSE") == ["Straße GmbH"]
    assert found("北京烤鸭") == ["北京烤鸭"]
    assert found("京") == []  # a prefix, not a substring
    assert len(made) == len(names)
    by_name = [i["name"] for i in api.get("/v1/accounts?sort=name&limit=100", as_="rep_a")[1]["items"]]
    assert by_name == sorted(by_name, key=lambda n: unicodedata.normalize("NFKC", n).casefold())


def test_rename_in_the_same_second_as_the_create_is_what_search_finds(api, monkeypatch):
    from datetime import UTC, datetime

    from chalicelib.services.crm import crm

    frozen = datetime(2026, 3, 3, 3, 3, 3, tzinfo=UTC)
    monkeypatch.setattr(crm, "utcnow", lambda: frozen)  # both writes stamp the same second
    made = create(api, "/v1/accounts", {"name": "Oldname Trading"})
    assert api.patch(f"/v1/accounts/{made}", {"name": "Newname Trading"})[0] == 200

    def found(q):
        status, page = api.get("/v1/accounts?" + urlencode({"q": q, "sort": "name"}), as_="rep_a")
        assert status == 200, page
        return [i["id"] for i in page["items"]]

    assert (found("newname"), found("oldname")) == ([made], [])


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_paging_while_objects_are_created_has_no_gaps_or_duplicates_and_full_pages(api):
    before = {create(api, "/v1/accounts", {"name": f"Acct {i:02d}"}) for i in range(23)}
    for sort in ("updated", "name"):
        seen: list[str] = []
        cursor, pages = None, 0
        while True:
            query = {"limit": "5", "sort": sort, **({"cursor": cursor} if cursor else {})}
            status, page = api.get("/v1/accounts?" + urlencode(query), as_="rep_a")
            assert status == 200, page
            seen += [i["id"] for i in page["items"]]
            cursor = page["next_cursor"]
            pages += 1
            if cursor is None:
                break
            assert len(page["items"]) == 5, "every non-final page is full"
            before_page = create(api, "/v1/accounts", {"name": f"Acct 00 new {pages} {sort}"})
            assert before_page not in seen
        assert len(seen) == len(set(seen)), sort
        assert before <= set(seen), sort


def test_cursor_from_another_query_or_user_is_422(api):
    for i in range(3):
        create(api, "/v1/accounts", {"name": f"X{i}"})
    status, page = api.get("/v1/accounts?limit=1", as_="rep_a")
    cursor = page["next_cursor"]
    assert status == 200 and cursor
    assert api.get(f"/v1/accounts?limit=1&cursor={cursor}", as_="rep_a")[0] == 200
    assert (
        api.get(f"/v1/accounts?limit=1&sort=name&cursor={cursor}", as_="rep_a")[1]["error"]["code"] == "invalid_cursor"
    )
    assert api.get(f"/v1/contacts?limit=1&cursor={cursor}", as_="rep_a")[0] == 422
    assert api.get(f"/v1/accounts?limit=1&cursor={cursor}", as_="rep_b")[0] == 422
    assert api.get("/v1/accounts?cursor=garbage", as_="rep_a")[0] == 422
    assert api.get("/v1/accounts?scope=everyone", as_="rep_a")[0] == 400


def test_list_page_costs_one_query_and_one_batchget_at_any_size(api, ddb_requests):
    for i in range(25):
        create(api, "/v1/accounts", {"name": f"Shop {i}"})
    for query in ("", "&sort=name", "&q=shop", "&scope=team", "&owner_id=rep_a"):
        ddb_requests.reset()
        status, page = api.get(f"/v1/accounts?limit=20{query}", as_="mgr_east")
        assert status == 200 and len(page["items"]) == 20, query
        assert sorted(ddb_requests.calls) == ["BatchGetItem", "BatchGetItem", "Query"], query  # + caller and settings
    for i in range(30):
        create(api, "/v1/accounts", {"name": f"Shop b{i}"}, as_="rep_b")
        create(api, "/v1/accounts", {"name": f"Other {i}"}, as_="rep_c")
    ddb_requests.reset()
    status, page = api.get("/v1/accounts?limit=20&q=shop", as_="mgr_east")
    assert status == 200 and len(page["items"]) == 20
    assert sorted(ddb_requests.calls) == ["BatchGetItem", "BatchGetItem", "Query"]  # + caller and settings
    ddb_requests.reset()
    assert api.get("/v1/accounts?limit=20&archived=true", as_="mgr_east")[0] == 200
    assert sorted(ddb_requests.calls) == ["BatchGetItem", "BatchGetItem", "Query", "Query"]


def test_archive_leaves_lists_and_nearby_stays_readable_and_restore_brings_it_back(api, world, stream):
    a = world["A"]
    status, body = api.post(f"/v1/accounts/{a}/archive", as_="rep_a")
    assert status == 200 and body["archived"] is True and body["archived_at"]
    assert api.post(f"/v1/accounts/{a}/archive", as_="rep_a")[1]["archived_at"] == body["archived_at"]
    assert a not in listed(api, "mgr_east", collections=("accounts",))
    assert a in listed(api, "mgr_east", "&archived=true", collections=("accounts",))
    assert world["B"] in listed(api, "mgr_east", "&archived=true", collections=("accounts",))
    near = api.get("/v1/accounts/nearby?lat=31.2304&lng=121.4737", as_="rep_a")[1]["items"]
    assert a not in [i["id"] for i in near]
    assert api.get(f"/v1/accounts/{a}", as_="mgr_east")[0] == 200
    assert api.post(f"/v1/accounts/{a}/archive", as_="fin")[0] == 404
    assert api.post(f"/v1/accounts/{a}/archive", as_="rep_x", tenant="globex")[0] == 404

    status, restored = api.post(f"/v1/accounts/{a}/restore", as_="rep_a")
    assert status == 200 and restored["archived"] is False and restored["archived_at"] is None
    assert a in listed(api, "mgr_east", collections=("accounts",))
    near = api.get("/v1/accounts/nearby?lat=31.2304&lng=121.4737", as_="rep_a")[1]["items"]
    assert a in [i["id"] for i in near]
    for collection, label in (("contacts", "C"), ("opportunities", "O"), ("leads", "L")):
        assert api.post(f"/v1/{collection}/{world[label]}/archive", as_="rep_a")[0] == 200
        assert world[label] not in listed(api, "rep_a", collections=(collection,))
        assert world[label] in listed(api, "rep_a", "&archived=true", collections=(collection,))


def test_archived_object_activity_leaves_scenes_but_stays_in_all_with_history(api, world, stream):
    a = world["A"]
    old = create(api, "/v1/activities", {"type": "post", "content": "x", "related": [{"type": "account", "id": a}]})
    assert api.post(f"/v1/accounts/{a}/archive", as_="rep_a")[0] == 200
    new = create(api, "/v1/activities", {"type": "post", "content": "y", "related": [{"type": "account", "id": a}]})
    stream.pump()

    def feed(viewer, scene):
        return {i["id"] for i in api.get(f"/v1/feed?scene={scene}&limit=100", as_=viewer)[1]["items"]}

    assert not {old, new} & feed("rep_a", "my_accounts")
    assert not {old, new} & feed("mgr_east", "subordinates_business")
    assert {old, new} <= feed("mgr_east", "all")
    assert api.get(f"/v1/activities/{old}", as_="mgr_east")[0] == 200
    assert api.post(f"/v1/accounts/{a}/restore", as_="rep_a")[0] == 200
    stream.pump()
    assert {old, new} <= feed("rep_a", "my_accounts")


def test_reindex_after_ownership_transfer_and_team_change(api, world, stream):
    a = world["A"]
    assert api.patch(f"/v1/accounts/{a}", {"owner_id": "rep_c"}, as_="rep_a")[0] == 200
    stream.pump()
    assert a in listed(api, "rep_c", "&scope=mine", collections=("accounts",))
    assert a in listed(api, "mgr_west", "&scope=team", collections=("accounts",))
    assert a not in listed(api, "rep_a", collections=("accounts",))
    assert a not in listed(api, "mgr_east", collections=("accounts",))
    assert api.put(f"/v1/accounts/{a}/team/rep_b", {"role": "service"}, as_="rep_c")[0] == 200
    assert a in listed(api, "rep_b", "&scope=team", collections=("accounts",))
    assert a in listed(api, "mgr_east", "&scope=team", collections=("accounts",))
    assert api.delete(f"/v1/accounts/{a}/team/rep_b", as_="rep_c")[0] == 200
    assert a not in listed(api, "rep_b", collections=("accounts",))


def test_reindex_after_manager_department_and_head_changes(api, world, stream):
    stream.pump()
    org.put_user("acme", org.NewUser("rep_a", "Zhang Min", "west", "mgr_west", None, None))  # manager and department
    stream.pump()
    assert labels(world, listed(api, "mgr_west", "&scope=team")) == EVERYTHING
    assert labels(world, listed(api, "mgr_east", "&scope=team")) == {"B"}  # still manages rep_b on B's team
    assert labels(world, listed(api, "mgr_east")) == {"B"}
    org.put_department("acme", "west", "Sales West", "sales", "rep_b")  # a new head for west
    stream.pump()
    assert labels(world, listed(api, "rep_b")) == EVERYTHING
    org.put_department("acme", "west", "Sales West", "hq", "mgr_west")  # west leaves sales
    stream.pump()
    assert labels(world, listed(api, "auditor")) == set()
    assert labels(world, listed(api, "rep_b")) == {"B"}


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_stream_replays_converge_on_the_same_index(api, world, stream):
    from chalicelib.models.base import BaseItem
    from chalicelib.models.lists import GeoEntry, ListEntry

    def snapshot():
        return {(i.PK, i.SK) for i in BaseItem.scan() if isinstance(i, (ListEntry, GeoEntry))}

    api.patch(f"/v1/accounts/{world['A']}", {"owner_id": "rep_c", "name": "A2"}, as_="rep_a")
    org.put_user("acme", org.NewUser("rep_b", "Liu Yang", "west", "mgr_west", None, None))
    records = stream.read()
    stream.deliver(records)
    stream.pump()
    expected = snapshot()
    stream.deliver(list(reversed(records)))
    stream.deliver(records)
    stream.pump()
    assert snapshot() == expected


def test_names_that_expand_under_nfkc_still_index_and_search(api):
    long_name = "ﷺ" * 200  # each expands to 18 characters (54 bytes) under NFKC
    acc = create(api, "/v1/accounts", {"name": long_name})
    status, page = api.get("/v1/accounts?" + urlencode({"q": "ﷺ" * 20}), as_="rep_a")
    assert status == 200 and [i["id"] for i in page["items"]] == [acc]
    status, page = api.get("/v1/accounts?" + urlencode({"q": "ﷺ" * 200}), as_="rep_a")
    assert status == 200 and [i["id"] for i in page["items"]] == [acc]
