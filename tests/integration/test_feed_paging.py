"""Feed paging: full pages, no duplicates or gaps while activities arrive, filters,
cursor tampering, and a constant number of DynamoDB requests per page."""

from __future__ import annotations

import pytest

from chalicelib.services.feed import feed
from chalicelib.services.org import org
from tests.support import read_all


@pytest.fixture
def accounts(api):
    out = {}
    for owner in ("rep_a", "rep_b", "rep_c"):
        status, acc = api.post("/v1/accounts", {"name": f"Acc {owner}"}, as_=owner)
        assert status == 201
        out[owner] = acc["id"]
    return out


def record(accounts, owner: str, n: int, type_: str = "sales_record", at: str | None = None) -> list[str]:
    return [
        feed.record_activity(
            feed.NewActivity("acme", type_, owner, f"{owner} {i}", [("account", accounts[owner])], occurred_at=at)
        )["id"]
        for i in range(n)
    ]


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_feed_pages_are_full_newest_first_with_no_duplicates_or_gaps_while_activities_arrive(api, accounts):
    mine = record(accounts, "rep_a", 23)
    record(accounts, "rep_c", 15)  # invisible to rep_a: must not shorten rep_a's pages
    arrivals: list[str] = []
    pages = read_all(api, "/v1/feed", "rep_a", 5, between_pages=lambda: arrivals.extend(record(accounts, "rep_a", 2)))
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    seen = [i["id"] for p in pages for i in p]
    assert len(seen) == len(set(seen)), "duplicates across pages"
    assert set(seen) == set(mine), "gaps across pages (or new arrivals behind the cursor)"
    order = [(i["occurred_at"], i["id"]) for p in pages for i in p]
    assert order == sorted(order, reverse=True)
    status, page = api.get("/v1/feed?limit=100", as_="rep_a")
    assert set(arrivals) <= {i["id"] for i in page["items"]}, "a fresh first page shows the new arrivals"


def test_feed_pages_for_a_sparse_viewer_are_still_full(api, accounts):
    record(accounts, "rep_a", 12)
    record(accounts, "rep_c", 12)  # mgr_west sees only these, interleaved with rep_a's
    pages = read_all(api, "/v1/feed", "mgr_west", 5)
    assert [len(p) for p in pages] == [5, 5, 2]


def test_feed_type_filter_with_several_types_merges_full_pages(api, accounts):
    a = record(accounts, "rep_a", 7, "sales_record")
    b = record(accounts, "rep_a", 6, "service_record")
    record(accounts, "rep_a", 5, "post")
    pages = read_all(api, "/v1/feed?types=sales_record,service_record", "rep_a", 4)
    assert [len(p) for p in pages] == [4, 4, 4, 1]
    seen = [i["id"] for p in pages for i in p]
    assert sorted(seen) == sorted(a + b)
    single = read_all(api, "/v1/feed?types=post", "rep_a", 2)
    assert [len(p) for p in single] == [2, 2, 1]
    assert {i["type"] for p in single for i in p} == {"post"}


def test_feed_time_range_filters_inclusively(api, accounts):
    old = record(accounts, "rep_a", 2, at="2026-01-01T08:00:00Z")
    mid = record(accounts, "rep_a", 3, at="2026-02-01T08:00:00+08:00")
    record(accounts, "rep_a", 1, at="2026-03-01T08:00:00Z")
    status, page = api.get("/v1/feed?since=2026-01-15T00:00:00Z&until=2026-02-01T00:00:00Z", as_="rep_a")
    assert status == 200
    assert {i["id"] for i in page["items"]} == set(mid)
    assert {i["occurred_at"] for i in page["items"]} == {"2026-02-01T00:00:00Z"}
    status, page = api.get("/v1/feed?until=2026-01-01T08:00:00Z", as_="rep_a")
    assert {i["id"] for i in page["items"]} == set(old)
    status, page = api.get("/v1/feed?since=2027-01-01T00:00:00Z&until=2026-01-01T00:00:00Z", as_="rep_a")
    assert status == 200 and page == {"items": [], "next_cursor": None}


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda c: c[:-2] + ("AA" if c[-2:] != "AA" else "BB"), id="flipped-bytes"),
        pytest.param(lambda c: c[:10], id="truncated"),
        pytest.param(lambda c: "not-a-cursor!", id="garbage"),
    ],
)
def test_feed_with_tampered_cursor_is_422(api, accounts, tamper):
    record(accounts, "rep_a", 3)
    _, page = api.get("/v1/feed?limit=1", as_="rep_a")
    status, body = api.get(f"/v1/feed?limit=1&cursor={tamper(page['next_cursor'])}", as_="rep_a")
    assert (status, body["error"]["code"]) in {(422, "invalid_cursor"), (400, "invalid_query")}


def test_feed_cursor_of_another_user_or_query_is_422(api, accounts):
    record(accounts, "rep_a", 3)
    _, page = api.get("/v1/feed?limit=1", as_="mgr_east")
    cursor = page["next_cursor"]
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}", as_="mgr_east")[0] == 200
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}", as_="rep_a")[0] == 422
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}&scene=subordinates_business", as_="mgr_east")[0] == 422
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}&types=post", as_="mgr_east")[0] == 422
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}&since=2020-01-01T00:00:00Z", as_="mgr_east")[0] == 422
    assert api.get(f"/v1/feed?limit=1&cursor={cursor}", as_="rep_x", tenant="globex")[0] == 422


def test_comment_cursor_is_scoped_to_the_activity(api, accounts):
    a, b = record(accounts, "rep_a", 2)
    for i in range(3):
        assert api.post(f"/v1/activities/{a}/comments", {"content": f"c{i}"}, as_="mgr_east")[0] == 201
    status, page = api.get(f"/v1/activities/{a}/comments?limit=2", as_="rep_a")
    assert status == 200 and len(page["items"]) == 2
    status, rest = api.get(f"/v1/activities/{a}/comments?limit=2&cursor={page['next_cursor']}", as_="rep_a")
    assert [c["content"] for c in page["items"] + rest["items"]] == ["c0", "c1", "c2"]
    assert rest["next_cursor"] is None
    assert api.get(f"/v1/activities/{b}/comments?cursor={page['next_cursor']}", as_="rep_a")[0] == 422


def _grow_org(n_users: int) -> None:
    """n more reps under mgr_east, in east."""
    for i in range(n_users):
        org.put_user("acme", org.NewUser(f"extra_{i}", f"Extra {i}", "east", "mgr_east", None, None))


@pytest.mark.parametrize("scene", ["all", "my_accounts", "subordinates_business", "my_department"])
def test_feed_page_costs_the_same_requests_for_small_and_large_orgs_and_tables(api, accounts, ddb_requests, scene):
    viewer = {"my_accounts": "rep_a"}.get(scene, "mgr_east")
    record(accounts, "rep_a", 25)
    ddb_requests.reset()
    status, page = api.get(f"/v1/feed?scene={scene}&limit=20", as_=viewer)
    assert status == 200 and len(page["items"]) == 20
    small = sorted(ddb_requests.calls)

    _grow_org(15)
    for i in range(15):
        feed.record_activity(feed.NewActivity("acme", "post", f"extra_{i}", "x", [("account", accounts["rep_b"])]))
    record(accounts, "rep_a", 30)
    ddb_requests.reset()
    status, page = api.get(f"/v1/feed?scene={scene}&limit=20", as_=viewer)
    assert status == 200 and len(page["items"]) == 20
    large = sorted(ddb_requests.calls)
    # the page's query, the activities' BatchGet, the caller's identity (an active user) and
    # the tenant's settings (its index shard count) in one BatchGet
    assert small == large == ["BatchGetItem", "BatchGetItem", "Query"]
    ddb_requests.reset()
    status, _ = api.get(f"/v1/feed?scene={scene}&limit=20&cursor={page['next_cursor']}", as_=viewer)
    assert status == 200 and sorted(ddb_requests.calls) == ["BatchGetItem", "BatchGetItem", "Query"]


def test_feed_page_for_admin_reads_the_tenant_partition_in_two_requests(api, accounts, ddb_requests):
    record(accounts, "rep_c", 5)
    ddb_requests.reset()
    status, page = api.get("/v1/feed", as_="admin")
    assert status == 200 and len(page["items"]) == 5
    assert sorted(ddb_requests.calls) == ["BatchGetItem", "BatchGetItem", "Query"]


def test_feed_with_unknown_scene_or_type_is_400(api):
    assert api.get("/v1/feed?scene=everything", as_="rep_a")[0] == 400
    assert api.get("/v1/feed?types=sales_record,bogus", as_="rep_a")[0] == 400
    assert api.get("/v1/feed?limit=0", as_="rep_a")[0] == 400
    assert api.get("/v1/feed?since=yesterday", as_="rep_a")[0] == 400


def test_feed_or_activity_with_impossible_timestamp_is_a_clean_4xx_not_500(api, accounts):
    # Month 13 breaks the published timestamp pattern (malformed); 30 February matches it
    # but names no day (semantically invalid).
    assert api.get("/v1/feed?since=2026-13-45T99:99:99Z", as_="rep_a")[0] == 400
    assert api.get("/v1/feed?since=2026-02-30T10:00:00Z", as_="rep_a")[0] == 422
    body = {
        "type": "post",
        "content": "x",
        "related": [{"type": "account", "id": accounts["rep_a"]}],
        "occurred_at": "2026-02-30T10:00:00Z",
    }
    assert api.post("/v1/activities", body, as_="rep_a")[0] == 422
