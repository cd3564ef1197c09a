"""Issue #12 items 3, 4, 5 and 7: one reference checker for every id a body names (422
``unknown_<thing>``), the overview filtered part by part, change rights on CRM objects,
charge rights on expense units, and tokens of users the org does not have."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.auth import issue_local_token
from chalicelib.services.org import org


def account(api: Any, as_: str = "rep_a", **fields: Any) -> dict[str, Any]:
    status, acc = api.post("/v1/accounts", {"name": "Acme Foods", "address": "1 Bund", **fields}, as_=as_)
    assert status == 201, acc
    return acc


def opportunity(api: Any, account_id: str, as_: str = "rep_a") -> dict[str, Any]:
    status, opp = api.post(
        "/v1/opportunities", {"name": "Cold chain", "account_id": account_id, "stage": "qualify"}, as_=as_
    )
    assert status == 201, opp
    return opp


def plan(api: Any, as_: str = "rep_a", **fields: Any) -> dict[str, Any]:
    status, p = api.post("/v1/plans", {"date": "2030-03-10", "title": "Visit", **fields}, as_=as_)
    assert status == 201, p
    return p


def ghost(groups: list[str] | None = None, user: str = "ghost") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_local_token(user, 'acme', groups or [])}"}


# ---------------------------------------------------------------- references
def test_log_with_own_plan_and_someone_elses_opportunity_is_422_and_never_reaches_the_overview(api):
    acc = account(api)
    opp = opportunity(api, acc["id"])
    own = plan(api, as_="rep_c")
    body = {"date": "2030-03-10", "content": "x", "plan_id": own["id"], "opportunity_id": opp["id"]}
    status, out = api.post("/v1/logs", {**body, "account_id": acc["id"]}, as_="rep_c")
    assert (status, out["error"]["code"]) == (422, "unknown_account")
    status, out = api.post("/v1/logs", body, as_="rep_c")
    assert (status, out["error"]["code"]) == (422, "unknown_opportunity")
    _, logs = api.get("/v1/logs?from=2030-03-10&to=2030-03-10", as_="rep_c")
    assert logs["items"] == []
    _, overview = api.get(f"/v1/opportunities/{opp['id']}/overview")
    assert overview["logs"] == []
    _, p = api.get(f"/v1/plans/{own['id']}", as_="rep_c")
    assert p.get("log_id") is None  # the plan was not marked as logged either


def _bodies(theirs: dict[str, str]) -> list[tuple[str, str, dict[str, Any], str]]:
    """(method, path, body, expected code): every route that takes a reference, each with
    a reference the caller (rep_c) may not use."""
    day = {"date": "2030-03-10"}
    unit = {"type": "department", "id": "west"}
    expense = {"amount": "1.00", "category": "x", "occurred_on": "2026-11-05", "unit": unit}
    signin = {"kind": "check_in", "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 5}}
    signin["client_time"] = "2030-03-10T01:00:00Z"
    return [
        ("POST", "/v1/contacts", {"name": "C", "account_id": theirs["account"]}, "unknown_account"),
        (
            "POST",
            "/v1/opportunities",
            {"name": "O", "account_id": theirs["account"], "stage": "qualify"},
            "unknown_account",
        ),
        ("POST", "/v1/accounts", {"name": "A", "owner_id": "nobody"}, "unknown_user"),
        ("PATCH", "/v1/contacts/{own_contact}", {"account_id": theirs["account"]}, "unknown_account"),
        ("PATCH", "/v1/accounts/{own_account}", {"owner_id": "nobody"}, "unknown_user"),
        ("POST", "/v1/plans", {**day, "title": "P", "account_id": theirs["account"]}, "unknown_account"),
        ("POST", "/v1/plans", {**day, "title": "P", "opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        ("PATCH", "/v1/plans/{own_plan}", {"opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        ("POST", "/v1/logs", {**day, "content": "L", "plan_id": theirs["plan"]}, "unknown_plan"),
        ("POST", "/v1/logs", {**day, "content": "L", "opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        ("POST", "/v1/signins", {**signin, "plan_id": theirs["plan"]}, "unknown_plan"),
        ("POST", "/v1/signins", {**signin, "opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        ("POST", "/v1/signins", {**signin, "account_id": theirs["account"]}, "unknown_account"),
        ("POST", "/v1/signins", {**signin, "photo_upload_ids": [theirs["photo"]]}, "unknown_upload"),
        ("POST", "/v1/expenses", {**expense, "opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        ("POST", "/v1/expenses", {**expense, "receipt_upload_ids": [theirs["receipt"]]}, "unknown_upload"),
        ("PATCH", "/v1/expenses/{own_expense}", {"opportunity_id": theirs["opportunity"]}, "unknown_opportunity"),
        (
            "POST",
            "/v1/activities",
            {"type": "post", "content": "x", "related": [{"type": "opportunity", "id": theirs["opportunity"]}]},
            "unknown_opportunity",
        ),
        (
            "POST",
            "/v1/activities",
            {"type": "post", "content": "x", "related": [{"type": "lead", "id": theirs["lead"]}]},
            "unknown_lead",
        ),
    ]


def test_every_route_refuses_a_reference_out_of_the_callers_range_with_422_and_stores_nothing(api):
    from tests.integration.hostile import table_items

    acc = account(api)
    theirs = {"account": acc["id"], "opportunity": opportunity(api, acc["id"])["id"], "plan": plan(api)["id"]}
    theirs["lead"] = api.post("/v1/leads", {"name": "L"})[1]["id"]
    for purpose, name in (("signin_photo", "photo"), ("receipt", "receipt")):
        body = {"purpose": purpose, "content_type": "image/jpeg", "size_bytes": 10}
        theirs[name] = api.post("/v1/uploads", body)[1]["upload_id"]
    own = {
        "own_account": account(api, as_="rep_c")["id"],
        "own_contact": api.post("/v1/contacts", {"name": "C"}, as_="rep_c")[1]["id"],
        "own_plan": plan(api, as_="rep_c")["id"],
    }
    body = {"amount": "1.00", "category": "x", "occurred_on": "2026-11-05", "unit": {"type": "person", "id": "rep_c"}}
    own["own_expense"] = api.post("/v1/expenses", body, as_="rep_c")[1]["id"]
    before = table_items()
    for method, path, body, code in _bodies(theirs):
        status, out = api.call(method, path.format(**own), body, as_="rep_c")
        assert (status, out["error"]["code"]) == (422, code), (method, path, body)
    assert table_items() == before, "a refused reference wrote"


def test_reference_checks_cost_the_same_whatever_the_number_of_references(api, ddb_requests):
    accounts = [account(api)["id"] for _ in range(6)]
    counts = []
    for n in (1, 6):
        related = [{"type": "account", "id": a} for a in accounts[:n]]
        ddb_requests.reset()
        status, _ = api.post("/v1/activities", {"type": "post", "content": "x", "related": related})
        assert status == 201
        counts.append(ddb_requests.calls.count("BatchGetItem") + ddb_requests.calls.count("GetItem"))
    assert counts[0] == counts[1], counts


def test_sign_in_checks_its_plan_id(api):
    mine, theirs = plan(api), plan(api, as_="rep_b")
    signin = {"kind": "check_in", "location": {"lat": 31.2, "lng": 121.4, "accuracy_m": 5}}
    signin["client_time"] = "2030-03-10T01:00:00Z"
    status, out = api.post("/v1/signins", {**signin, "plan_id": theirs["id"]})
    assert (status, out["error"]["code"]) == (422, "unknown_plan")
    status, out = api.post("/v1/signins", {**signin, "plan_id": mine["id"]})
    assert status == 201 and out["plan_id"] == mine["id"]


# ---------------------------------------------------------------- overview
def test_overview_after_transfer_hides_the_account_from_its_former_owner(api):
    acc = account(api, location={"lat": 31.2, "lng": 121.4})
    opp = opportunity(api, acc["id"])
    assert api.put(f"/v1/accounts/{acc['id']}/team/rep_c", {"role": "service"})[0] == 200
    assert api.patch(f"/v1/accounts/{acc['id']}", {"owner_id": "rep_c"})[0] == 200
    status, overview = api.get(f"/v1/opportunities/{opp['id']}/overview")
    assert status == 200 and overview["opportunity"]["id"] == opp["id"]
    assert overview["account"] is None
    _, theirs = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="mgr_east")
    assert theirs["account"] is None  # rep_a's manager is no manager of rep_c
    _, admin = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="admin")
    assert admin["account"]["address"] == "1 Bund"
    # rep_b joins the new owner's team: rep_b's manager, mgr_east, sees the account again
    assert api.put(f"/v1/accounts/{acc['id']}/team/rep_b", {"role": "service"}, as_="rep_c")[0] == 200
    _, back = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="mgr_east")
    assert back["account"]["location"] == {"lat": 31.2, "lng": 121.4}


def test_overview_leaves_out_records_of_users_the_caller_may_not_read(api):
    from chalicelib.auth import Principal
    from chalicelib.services.schedule import schedule

    acc = account(api)
    opp = opportunity(api, acc["id"])
    own_log = api.post("/v1/logs", {"date": "2030-03-10", "content": "mine", "opportunity_id": opp["id"]})[1]
    # a record tied in before the reference check existed (or by a colleague who saw it then)
    schedule.create_log(Principal("rep_b", "acme", frozenset()), schedule.NewLog(date_="2030-03-10", content="peer"))
    peer = schedule.create_log(
        Principal("rep_b", "acme", frozenset()), schedule.NewLog(date_="2030-03-11", content="peer")
    )
    peer.opportunity_id = opp["id"]
    peer.save()
    _, overview = api.get(f"/v1/opportunities/{opp['id']}/overview")
    assert [x["id"] for x in overview["logs"]] == [own_log["id"]]
    _, manager = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="mgr_east")
    assert {x["id"] for x in manager["logs"]} == {own_log["id"], peer.log_id}  # both report to mgr_east


# ---------------------------------------------------------------- change rights
def test_team_member_may_read_and_comment_but_not_seize_or_change_the_team(api):
    from tests.integration.hostile import table_items

    acc = account(api)
    assert api.put(f"/v1/accounts/{acc['id']}/team/rep_c", {"role": "follow_up"})[0] == 200
    before = table_items()
    for method, path, body in (
        ("PATCH", f"/v1/accounts/{acc['id']}", {"owner_id": "rep_c"}),
        ("PATCH", f"/v1/accounts/{acc['id']}", {"name": "Mine now"}),
        ("PUT", f"/v1/accounts/{acc['id']}/team/mgr_west", {"role": "service"}),
        ("DELETE", f"/v1/accounts/{acc['id']}/team/rep_c", None),
    ):
        status, out = api.call(method, path, body, as_="rep_c")
        assert (status, out["error"]["code"]) == (403, "not_allowed"), (method, path)
    assert table_items() == before
    assert api.get(f"/v1/accounts/{acc['id']}")[1]["owner_id"] == "rep_a"
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_c")[0] == 200
    act = api.post(
        "/v1/activities", {"type": "post", "content": "x", "related": [{"type": "account", "id": acc["id"]}]}
    )
    assert api.post(f"/v1/activities/{act[1]['id']}/comments", {"content": "ok"}, as_="rep_c")[0] == 201


def test_change_rights_follow_the_current_org(api):
    acc = account(api)
    assert api.patch(f"/v1/accounts/{acc['id']}", {"name": "By the VP"}, as_="vp")[0] == 200
    # rep_a moves to the west: mgr_east is no longer a manager nor the head of rep_a's department
    org.put_user("acme", org.NewUser("rep_a", "Zhang Min (rep)", "west", "mgr_west", None, None))
    assert api.patch(f"/v1/accounts/{acc['id']}", {"name": "East"}, as_="mgr_east")[0] == 404
    assert api.patch(f"/v1/accounts/{acc['id']}", {"name": "West"}, as_="mgr_west")[0] == 200


# ---------------------------------------------------------------- charge rights
EXPENSE = {"amount": "5.00", "category": "x", "occurred_on": "2026-11-05"}


@pytest.mark.parametrize(
    ("as_", "unit", "status"),
    [
        ("rep_a", {"type": "department", "id": "east"}, 201),
        ("rep_a", {"type": "department", "id": "sales"}, 201),
        ("rep_a", {"type": "department", "id": "hq"}, 201),
        ("rep_a", {"type": "department", "id": "west"}, 403),
        ("rep_a", {"type": "department", "id": "finance"}, 403),
        ("mgr_east", {"type": "department", "id": "east"}, 201),
        ("vp", {"type": "department", "id": "east"}, 403),  # below, not above
        ("rep_a", {"type": "person", "id": "rep_a"}, 201),
        ("rep_a", {"type": "person", "id": "rep_b"}, 403),
        ("mgr_east", {"type": "person", "id": "rep_a"}, 403),
        ("rep_a", {"type": "project", "id": "p_east"}, 201),  # member
        ("rep_b", {"type": "project", "id": "p_east"}, 201),  # owner
        ("rep_c", {"type": "project", "id": "p_east"}, 403),
        ("fin", {"type": "department", "id": "west"}, 201),
        ("admin", {"type": "person", "id": "rep_c"}, 201),
    ],
)
def test_who_may_charge_a_unit(api, as_, unit, status):
    org.put_project("acme", "p_east", "East launch", "rep_b", ["rep_a"])
    got, out = api.post("/v1/expenses", {**EXPENSE, "unit": unit}, as_=as_)
    assert got == status, out
    if status == 403:
        assert out["error"]["code"] == "unit_not_allowed"
        assert api.get("/v1/expenses", as_=as_)[1]["items"] == []


def test_charge_rights_on_patch_and_rechecked_on_submit(api):
    status, e = api.post("/v1/expenses", {**EXPENSE, "unit": {"type": "department", "id": "east"}})
    assert status == 201
    status, out = api.patch(f"/v1/expenses/{e['id']}", {"unit": {"type": "department", "id": "west"}})
    assert (status, out["error"]["code"]) == (403, "unit_not_allowed")
    org.put_user("acme", org.NewUser("rep_a", "Zhang Min (rep)", "west", "mgr_west", None, None))  # moved meanwhile
    status, out = api.post(f"/v1/expenses/{e['id']}/submit")
    assert (status, out["error"]["code"]) == (403, "unit_not_allowed")
    assert api.get(f"/v1/expenses/{e['id']}")[1]["status"] == "draft"


# ---------------------------------------------------------------- unknown users
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/v1/me", None),
        ("POST", "/v1/accounts", {"name": "Ghost's"}),
        ("POST", "/v1/plans", {"date": "2030-03-10", "title": "Boo"}),
        ("GET", "/v1/feed", None),
        ("PUT", "/v1/admin/departments/ghosts", {"name": "Ghosts"}),  # not an admin: no bootstrap
    ],
)
def test_token_of_a_user_the_org_does_not_have_is_403_unknown_user(api, method, path, body):
    from tests.integration.hostile import table_items

    before = table_items()
    status, out = api.call(method, path, body, headers=ghost())
    assert (status, out["error"]["code"]) == (403, "unknown_user")
    assert table_items() == before


def test_admin_token_of_an_unknown_user_may_bootstrap_the_tenant_through_admin_routes_only(api):
    status, _ = api.put("/v1/admin/departments/ghosts", {"name": "Ghosts"}, headers=ghost(["admin"]))
    assert status == 200
    status, out = api.post("/v1/accounts", {"name": "x"}, headers=ghost(["admin"]))
    assert (status, out["error"]["code"]) == (403, "unknown_user")
    assert (
        api.put("/v1/admin/users/ghost", {"name": "G", "department_id": "ghosts"}, headers=ghost(["admin"]))[0] == 200
    )
    assert api.get("/v1/me", headers=ghost())[0] == 200  # now a user of the tenant


def test_identity_check_reuses_the_callers_user_item(api, ddb_requests):
    ddb_requests.reset()
    assert api.get("/v1/me")[0] == 200
    profile_reads = [c for c in ddb_requests.calls if c == "GetItem"]
    assert len(profile_reads) == 2, ddb_requests.calls  # their department, their manager
    assert ddb_requests.read_counts()["T#acme#USER#rep_a|PROFILE"] == 1  # the caller: once (the edge's BatchGet)
