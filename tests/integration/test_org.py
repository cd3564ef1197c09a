"""Organisation administration and /v1/me through the HTTP edge (moto + chalice.test)."""

from __future__ import annotations

import pytest

from chalicelib.services.org import org
from tests.support import JobQueue, put_users


def test_me_returns_profile_department_and_manager(api):
    status, body = api.get("/v1/me", as_="rep_a")
    assert status == 200
    assert body["id"] == "rep_a"
    assert body["tenant_id"] == "acme"
    assert body["department"] == {"id": "east", "name": "Sales East"}
    assert body["manager"]["id"] == "mgr_east"
    assert body["heads_departments"] == []


def test_me_for_department_head_lists_headed_departments(api):
    status, body = api.get("/v1/me", as_="vp")
    assert status == 200
    assert [d["id"] for d in body["heads_departments"]] == ["sales"]


def test_admin_routes_refuse_non_admins_with_403_and_write_nothing(api):
    status, body = api.put("/v1/admin/departments/new", {"name": "New"}, as_="ceo")
    assert status == 403
    assert body["error"]["code"] == "admin_only"
    assert org.get_department("acme", "new") is None


def test_put_user_with_manager_cycle_is_422_and_changes_nothing(api):
    before = org.get_user("acme", "vp").path
    status, body = api.put(
        "/v1/admin/users/vp", {"name": "VP", "department_id": "sales", "manager_id": "rep_a"}, as_="admin"
    )
    assert status == 422
    assert body["error"]["code"] == "manager_cycle"
    assert org.get_user("acme", "vp").path == before


def test_put_user_self_manager_is_422(api):
    status, body = api.put(
        "/v1/admin/users/rep_a", {"name": "A", "department_id": "east", "manager_id": "rep_a"}, as_="admin"
    )
    assert status == 422


def test_moving_a_manager_moves_the_whole_subtree(api):
    status, _ = api.put(
        "/v1/admin/users/mgr_east", {"name": "M", "department_id": "east", "manager_id": "ceo"}, as_="admin"
    )
    assert status == 200
    assert org.get_user("acme", "rep_a").path == "/ceo/mgr_east/rep_a/"
    assert set(org.subordinate_ids("acme", "vp")) == {"mgr_west", "rep_c"}
    assert set(org.subordinate_ids("acme", "ceo")) >= {"mgr_east", "rep_a", "rep_b", "vp"}


def test_department_move_carries_sub_departments_and_members(api):
    status, body = api.put(
        "/v1/admin/departments/east", {"name": "East", "parent_id": "hq", "head_user_id": "mgr_east"}, as_="admin"
    )
    assert status == 200 and body["job_id"]
    assert org.get_department("acme", "east").path == "/hq/east/"
    assert org.get_user("acme", "rep_a").dept_path == "/hq/sales/east/", "the members follow in the job"
    JobQueue().drain()
    assert api.get(f"/v1/admin/jobs/{body['job_id']}", as_="admin")[1]["status"] == "done"
    assert org.get_user("acme", "rep_a").dept_path == "/hq/east/"
    assert "rep_a" not in org.department_member_ids("acme", "vp")
    assert "rep_a" in org.department_member_ids("acme", "ceo")


def test_department_cycle_is_422(api):
    status, body = api.put("/v1/admin/departments/hq", {"name": "HQ", "parent_id": "east"}, as_="admin")
    assert status == 422
    assert body["error"]["code"] == "department_cycle"


def test_unknown_fields_are_refused_with_400(api):
    status, body = api.put("/v1/admin/departments/x", {"name": "X", "owner_id": "rep_a"}, as_="admin")
    assert status == 400
    assert body["error"]["code"] == "invalid_body"
    assert body["error"]["request_id"]


def test_settings_roundtrip_and_validation(api):
    status, body = api.put("/v1/admin/settings", {"timezone": "Europe/Berlin", "checkin_radius_m": 300}, as_="admin")
    assert status == 200
    assert body["timezone"] == "Europe/Berlin" and body["checkin_radius_m"] == 300
    assert body["approval_limit"] == "5000.00"
    status, _ = api.put("/v1/admin/settings", {"approval_limit": 12.5}, as_="admin")
    assert status == 400


@pytest.mark.parametrize("zone", ["localtime", "Factory", "right/Asia/Shanghai", "posix/Asia/Shanghai", "Mars/Olympus"])
def test_a_time_zone_that_is_no_iana_zone_or_names_the_servers_own_is_422_and_nothing_changes(api, zone):
    # red-team pass (issue 24): "localtime" was accepted (the tenant's days then followed
    # the host's own zone, and a runtime without it counted them in the default silently);
    # "right/..." zones run 27 leap seconds apart from the civil clock
    status, body = api.put("/v1/admin/settings", {"timezone": zone}, as_="admin")
    assert status == 422 and body["error"]["code"] == "unknown_timezone", body
    status, body = api.get("/v1/admin/settings", as_="admin")
    assert status == 200 and body["timezone"] == "Asia/Shanghai"


def test_finance_integration_returns_a_whsec_secret(api):
    status, body = api.put("/v1/admin/integrations/finance", {"url": "https://finance.example/hook"}, as_="admin")
    assert status == 200
    assert body["secret"].startswith("whsec_")


def test_subordinates_and_department_lookups_cost_the_same_for_small_and_large_orgs(aws, ddb_requests):
    def build(tenant: str, size: int) -> None:
        org.put_department(tenant, "d", "D", None, None)
        org.put_user(tenant, org.NewUser("boss", "Boss", "d", None, None, None))
        org.put_department(tenant, "d", "D", None, "boss")
        # each u{i} reports to u{i // 5 - 1} (the first five to the boss): a tree five wide
        parents = ["boss", *(f"u{i}" for i in range(size))]
        put_users(tenant, (org.NewUser(f"u{i}", f"u{i}", "d", parents[i // 5], None, None) for i in range(size)))

    counts = {}
    for tenant, size in (("small", 10), ("large", 300)):
        build(tenant, size)
        ddb_requests.reset()
        subs = org.subordinate_ids(tenant, "boss")
        members = org.department_member_ids(tenant, "boss")
        assert len(subs) == size and len(members) == size + 1
        counts[tenant] = ddb_requests.total
    assert counts["small"] == counts["large"]
