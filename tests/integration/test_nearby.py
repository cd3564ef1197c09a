"""GET /v1/accounts/nearby: nearest first with distance_m, exact radius, cell edges, the
antimeridian, the poles, a location change moves the account, bounded requests."""

from __future__ import annotations

import pytest

from chalicelib.geo import distance_m
from chalicelib.services.crm import geocells, lists


def make(api, name, lat, lng, as_="rep_a"):
    status, out = api.post("/v1/accounts", {"name": name, "location": {"lat": lat, "lng": lng}}, as_=as_)
    assert status == 201, out
    return out["id"]


def near(api, lat, lng, radius=None, as_="rep_a", limit=None):
    query = f"lat={lat}&lng={lng}" + (f"&radius_m={radius}" if radius else "") + (f"&limit={limit}" if limit else "")
    status, page = api.get(f"/v1/accounts/nearby?{query}", as_=as_)
    assert status == 200, page
    return [(i["id"], i["distance_m"]) for i in page["items"]]


def test_nearest_first_with_distance_and_exact_radius(api):
    far = make(api, "Far", 31.2304 + 2100 / 111_195, 121.4737)  # ~2.1 km north
    mid = make(api, "Mid", 31.2304 + 1000 / 111_195, 121.4737)
    close = make(api, "Close", 31.2304, 121.4737 + 0.001)
    make(api, "No location", 0, 0)
    got = near(api, 31.2304, 121.4737)
    assert [i for i, _ in got] == [close, mid]
    assert 90 < got[0][1] < 100 and 990 < got[1][1] < 1010
    assert [i for i, _ in near(api, 31.2304, 121.4737, radius=2200)] == [close, mid, far]
    assert [i for i, _ in near(api, 31.2304, 121.4737, radius=2200, limit=1)] == [close]
    assert near(api, 31.2304, 121.4737, radius=50) == []


@pytest.mark.parametrize(
    ("name", "a", "b"),
    [
        ("geohash cell edge", (31.2890625 - 0.00001, 121.46484375), (31.2890625 + 0.00001, 121.46484375 + 0.00002)),
        ("antimeridian", (10.0, 179.9999), (10.0, -179.9999)),
        ("north pole", (89.9999, 0.0), (89.9999, 180.0)),
        ("south pole", (-89.9995, -90.0), (-89.9995, 90.0)),
    ],
)
def test_found_across_cell_edges_the_antimeridian_and_the_poles(api, name, a, b):
    x = make(api, f"{name} A", *a)
    y = make(api, f"{name} B", *b)
    assert geocells.encode(*a, 12)[:5] != geocells.encode(*b, 12)[:5], "in different cells"
    for centre, other in ((a, y), (b, x)):
        got = dict(near(api, *centre, radius=500))
        assert other in got, (name, centre)
        assert got[other] == pytest.approx(distance_m(a, b), abs=0.2)


def test_location_change_moves_the_account(api):
    acc = make(api, "Mover", 31.2304, 121.4737)
    assert acc in dict(near(api, 31.2304, 121.4737))
    assert api.patch(f"/v1/accounts/{acc}", {"location": {"lat": 39.9042, "lng": 116.4074}}, as_="rep_a")[0] == 200
    assert acc not in dict(near(api, 31.2304, 121.4737))
    assert acc in dict(near(api, 39.9042, 116.4074))
    assert api.patch(f"/v1/accounts/{acc}", {"location": None}, as_="rep_a")[0] == 200
    assert acc not in dict(near(api, 39.9042, 116.4074, radius=50_000))


def test_visibility_follows_the_list_rule(api):
    mine = make(api, "Mine", 31.2304, 121.4737)
    theirs = make(api, "West's", 31.2305, 121.4738, as_="rep_c")
    assert set(dict(near(api, 31.2304, 121.4737))) == {mine}
    assert set(dict(near(api, 31.2304, 121.4737, as_="vp"))) == {mine, theirs}
    assert set(dict(near(api, 31.2304, 121.4737, as_="admin"))) == {mine, theirs}
    assert near(api, 31.2304, 121.4737, as_="fin") == []


def test_bad_query_is_400_and_requests_are_bounded(api, ddb_requests):
    for query in ("lat=91&lng=0", "lat=0&lng=181", "lat=0&lng=0&radius_m=5", "lat=0&lng=0&radius_m=50001", "lng=0"):
        assert api.get(f"/v1/accounts/nearby?{query}", as_="rep_a")[0] == 400, query
    for i in range(5):
        make(api, f"S{i}", 31.2304 + i * 0.001, 121.4737)
    for lat, lng, radius in ((31.2304, 121.4737, 2000), (31.2304, 121.4737, 50_000), (89.99, 0, 50_000)):
        ddb_requests.reset()
        got = near(api, lat, lng, radius=radius)
        queries = ddb_requests.calls.count("Query")
        assert 1 <= queries <= min(len(geocells.cover(lat, lng, radius)), lists.MAX_NEARBY_QUERIES)
        assert set(ddb_requests.calls) <= {"Query", "BatchGetItem"}
        # the caller's record and the tenant's settings (one BatchGet), the accounts found (one)
        assert ddb_requests.calls.count("BatchGetItem") == 1 + bool(got)


def test_a_dense_cluster_costs_the_limit_not_the_accounts(api, monkeypatch):
    from pynamodb.connection.base import Connection

    for i in range(120):  # 120 accounts within ~30 m of the point
        make(api, f"Dense {i}", 31.2304 + (i % 12) * 0.00002, 121.4737 + (i // 12) * 0.00002)
    calls: list[tuple[str, int]] = []
    original = Connection._make_api_call

    def counting(self, operation, kwargs, *args, **kw):
        result = original(self, operation, kwargs, *args, **kw)
        calls.append((operation, len(result.get("Items", ())) if isinstance(result, dict) else 0))
        return result

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    got = near(api, 31.2304, 121.4737, radius=50_000, limit=2)
    assert [d for _, d in got] == [0.0, pytest.approx(1.9, abs=0.1)]
    queries = [n for op, n in calls if op == "Query"]
    assert len(queries) <= lists.MAX_NEARBY_QUERIES and max(queries) <= 3  # Limit = limit + 1
    assert sum(queries) < 60, "the cluster was read, not the answer"


def test_demo_seed_has_accounts_around_one_point_and_some_archived(api):
    from local.seed import AROUND, NEARBY_ACCOUNTS, seed_nearby

    seed_nearby()
    names = {
        i["name"] for i in api.get(f"/v1/accounts/nearby?lat={AROUND[0]}&lng={AROUND[1]}", as_="rep_a")[1]["items"]
    }
    mine_live = {n for owner, n, *_, archived in NEARBY_ACCOUNTS if owner == "rep_a" and not archived}
    assert mine_live <= names and not {n for *_, n, _, _, a in NEARBY_ACCOUNTS if a} & names
    status, page = api.get("/v1/accounts?archived=true&scope=team&limit=100", as_="mgr_east")
    assert status == 200 and sum(1 for i in page["items"] if i["archived"]) == 2
