"""Organisation reads for any user of the tenant: the directory (name search in any
script, department, inactive), one user, my team, the department tree, projects; each
page one key-condition request, full, without gaps or duplicates."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.org import org
from tests.support import put_users


def all_pages(api: Any, path: str, as_: str = "rep_a", limit: int = 100) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor = None
    sep = "&" if "?" in path else "?"
    while True:
        status, page = api.get(f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""), as_=as_)
        assert status == 200, page
        assert set(page) == {"items", "next_cursor"}
        rows += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return rows
        assert len(page["items"]) == limit


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


@pytest.fixture
def cjk(api):
    people = {
        "u_zh1": "张伟",
        "u_zh2": "张三丰",
        "u_li": "李娜",
        "u_wide": "ＡＮＮＡ Schmidt",  # full-width Latin
        "u_strasse": "Straße Müller",
        "u_mixed": "Zoë 王",
    }
    for uid, name in people.items():
        org.put_user("acme", org.NewUser(uid, name, "west", "mgr_west", None, None))
    return people


def test_directory_lists_every_active_user_by_name_with_contract_fields(api):
    rows = all_pages(api, "/v1/users")
    assert {r["id"] for r in rows} == {"ceo", "vp", "mgr_east", "rep_a", "rep_b", "mgr_west", "rep_c", "fin", "admin"}
    assert names(rows) == sorted(names(rows), key=lambda n: n.casefold())
    rep = next(r for r in rows if r["id"] == "rep_a")
    assert rep == {
        "id": "rep_a",
        "name": "Zhang Min (rep)",
        "department_id": "east",
        "manager_id": "mgr_east",
        "roles": [],
        "active": True,
    }
    assert api.get("/v1/users", as_="rep_x", tenant="globex")[1]["items"][0]["id"] in {"boss", "rep_x"}


@pytest.mark.parametrize(
    "q, expected",
    [
        ("张", {"u_zh1", "u_zh2"}),
        ("张三", {"u_zh2"}),
        ("李", {"u_li"}),
        ("anna", {"u_wide"}),
        ("ANNA S", {"u_wide"}),
        ("Ａnn", {"u_wide"}),
        ("STRASSE", {"u_strasse"}),
        ("strasse m", {"u_strasse"}),
        ("zoë 王", {"u_mixed"}),
        ("ZOË", {"u_mixed"}),
        ("zhang", {"rep_a"}),
        ("王", set()),  # a prefix, not a substring
    ],
)
def test_search_is_a_case_and_width_insensitive_prefix_in_any_script(api, cjk, q, expected):
    from urllib.parse import quote

    rows = all_pages(api, f"/v1/users?q={quote(q)}")
    assert {r["id"] for r in rows} == expected


def test_search_pages_are_full_and_department_filter_and_inactive(api, cjk):
    rows = all_pages(api, "/v1/users?q=%E5%BC%A0", limit=1)  # 张, one per page
    assert [r["id"] for r in rows] == ["u_zh2", "u_zh1"]  # 张三丰 before 张伟 (code point order)
    west = all_pages(api, "/v1/users?department_id=west", limit=2)
    assert {r["id"] for r in west} == {"mgr_west", "rep_c", *cjk}
    assert len({r["id"] for r in west}) == len(west)  # no duplicates across pages
    status, _ = api.post("/v1/admin/users/rep_c/deactivate", {"handover_to": "mgr_west"}, as_="admin")
    assert status == 200
    assert "rep_c" not in {r["id"] for r in all_pages(api, "/v1/users?department_id=west")}
    everyone = all_pages(api, "/v1/users?department_id=west&include_inactive=true")
    assert next(r for r in everyone if r["id"] == "rep_c")["active"] is False


def test_directory_page_is_one_query_at_10_and_300_users(api, ddb_requests):
    counts = []
    for size in (10, 300):
        more = range(len(all_pages(api, "/v1/users?q=finance")), size)
        put_users("acme", (org.NewUser(f"f_{i}", f"Finance {i:03d}", "finance", "fin", None, None) for i in more))
        ddb_requests.reset()
        status, page = api.get("/v1/users?limit=50&q=finance", as_="rep_a")
        assert status == 200 and len(page["items"]) == min(size, 50)
        counts.append(sorted(ddb_requests.calls))
    assert counts[0] == counts[1] == ["BatchGetItem", "Query"]  # the caller's active flag (and settings)


def test_renaming_and_moving_a_user_updates_every_listing(api):
    org.put_user("acme", org.NewUser("rep_b", "Ada Lovelace", "west", "mgr_west", None, None))
    assert [r["id"] for r in all_pages(api, "/v1/users?q=ada")] == ["rep_b"]
    assert all_pages(api, "/v1/users?q=liu") == []
    assert "rep_b" not in {r["id"] for r in all_pages(api, "/v1/users?department_id=east")}
    assert "rep_b" not in {r["id"] for r in all_pages(api, "/v1/team", as_="mgr_east")}
    assert "rep_b" in {r["id"] for r in all_pages(api, "/v1/team?depth=direct", as_="mgr_west")}


def test_one_user_with_department_and_manager(api):
    status, user = api.get("/v1/users/rep_a", as_="rep_c")
    assert status == 200
    assert user["department"] == {"id": "east", "name": "Sales East"}
    assert user["manager"] == {"id": "mgr_east", "name": "Wang Fang (East manager)"}
    assert user["active"] is True and user["roles"] == []
    assert api.get("/v1/users/nobody", as_="rep_c")[0] == 404
    assert api.get("/v1/users/rep_x", as_="rep_c")[0] == 404  # another tenant's user


def test_team_nearest_first_direct_and_all_depths(api):
    rows = all_pages(api, "/v1/team", as_="vp", limit=2)
    assert [r["depth"] for r in rows] == sorted(r["depth"] for r in rows)
    assert {(r["id"], r["depth"]) for r in rows} == {
        ("mgr_east", 1),
        ("mgr_west", 1),
        ("rep_a", 2),
        ("rep_b", 2),
        ("rep_c", 2),
    }
    direct = all_pages(api, "/v1/team?depth=direct", as_="vp")
    assert {r["id"] for r in direct} == {"mgr_east", "mgr_west"}
    assert all_pages(api, "/v1/team", as_="rep_a") == []
    assert api.get("/v1/team?depth=sideways", as_="vp")[0] == 400


def test_moving_a_manager_moves_their_subtree_in_team_listings(api):
    org.put_user("acme", org.NewUser("mgr_east", "Wang Fang (East manager)", "east", "mgr_west", None, None))
    under_west = {(r["id"], r["depth"]) for r in all_pages(api, "/v1/team", as_="mgr_west")}
    assert {("mgr_east", 1), ("rep_a", 2), ("rep_b", 2), ("rep_c", 1)} == under_west
    vp = {(r["id"], r["depth"]) for r in all_pages(api, "/v1/team", as_="vp")}
    assert ("rep_a", 3) in vp and ("mgr_east", 2) in vp


def test_department_tree_pages_parent_before_children(api):
    rows = all_pages(api, "/v1/departments", limit=2)
    order = [r["id"] for r in rows]
    assert set(order) == {"hq", "sales", "east", "west", "finance"}
    assert order.index("hq") < order.index("sales") < order.index("east")
    sales = next(r for r in rows if r["id"] == "sales")
    assert sales == {"id": "sales", "name": "Sales", "parent_id": "hq", "head_user_id": "vp"}


def test_projects_all_and_mine_with_members(api):
    body = {"name": "Launch", "owner_id": "mgr_east", "member_ids": ["rep_a", "rep_b"]}
    assert api.put("/v1/admin/projects/launch", body, as_="admin")[0] == 200
    assert api.put("/v1/admin/projects/audit", {"name": "Audit", "owner_id": "fin"}, as_="admin")[0] == 200
    ghost = {"name": "X", "owner_id": "fin", "member_ids": ["ghost"]}
    status, bad = api.put("/v1/admin/projects/x", ghost, as_="admin")
    assert status == 422 and bad["error"]["code"] == "unknown_user"
    every = all_pages(api, "/v1/projects", limit=1)
    assert {p["id"] for p in every} == {"launch", "audit"}
    mine = all_pages(api, "/v1/projects?mine=true", as_="rep_a")
    assert mine == [{"id": "launch", "name": "Launch", "owner_id": "mgr_east", "member_ids": ["rep_a", "rep_b"]}]
    assert [p["id"] for p in all_pages(api, "/v1/projects?mine=true", as_="mgr_east")] == ["launch"]
    body["member_ids"] = ["rep_b"]
    assert api.put("/v1/admin/projects/launch", body, as_="admin")[0] == 200
    assert all_pages(api, "/v1/projects?mine=true", as_="rep_a") == []
