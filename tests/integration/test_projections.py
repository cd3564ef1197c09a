"""Every projection of an object answers only to those who may read the object itself
(issue 24 item 2): an expense's feed activity, its part of the opportunity overview, and
the comments and mentions on that activity, for a peer who may not read the expense (its
GET is 404) though they see the opportunity it relates to; and mentions of people who
cannot see an activity, or who are deactivated, are 422 ``unknown_user`` with nothing stored."""

from __future__ import annotations

from typing import Any

from tests.support import JobQueue, account, activity
from tests.support import mention_messages as _messages


def opportunity_with_peer_on_team(api: Any) -> dict[str, Any]:
    """rep_b's opportunity, which rep_a (rep_b's peer: same manager) may use as the head of
    their department; rep_b sees it as its owner without reading rep_a's own records
    (expenses: self, managers, heads of rep_a's departments: rep_a, sales' vp, hq's ceo)."""
    head = {"name": "Sales East", "parent_id": "sales", "head_user_id": "rep_a"}
    assert api.put("/v1/admin/departments/east", head, as_="admin")[0] == 200
    acc = api.post("/v1/accounts", {"name": "Cold Store"}, as_="rep_b")[1]
    body = {"name": "Freezers", "account_id": acc["id"], "stage": "proposal"}
    status, opp = api.post("/v1/opportunities", body, as_="rep_b")
    assert status == 201, opp
    return opp


def submitted_on(api: Any, opp_id: str) -> dict[str, Any]:
    body = {
        "amount": "88.00",
        "category": "meals",
        "occurred_on": "2026-11-03",
        "description": "dinner with the buyer",
        "unit": {"type": "department", "id": "east"},
        "opportunity_id": opp_id,
    }
    status, e = api.post("/v1/expenses", body, as_="rep_a")
    assert status == 201, e
    status, e = api.post(f"/v1/expenses/{e['id']}/submit", as_="rep_a")
    assert status == 200, e
    return e


def expense_activities(api: Any, user: str) -> list[dict[str, Any]]:
    status, page = api.get("/v1/feed?types=expense&limit=100", as_=user)
    assert status == 200, page
    return page["items"]


def test_an_expense_activity_answers_only_to_those_who_may_read_the_expense(api):
    opp = opportunity_with_peer_on_team(api)
    e = submitted_on(api, opp["id"])
    assert api.get(f"/v1/expenses/{e['id']}", as_="rep_b")[0] == 404
    assert api.get(f"/v1/opportunities/{opp['id']}", as_="rep_b")[0] == 200  # the peer sees the opportunity
    assert expense_activities(api, "rep_b") == []
    _, overview = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="rep_b")
    assert overview["expenses"] == [] and [a for a in overview["activities"] if a["type"] == "expense"] == []
    assert "dinner" not in str(overview)
    mine = expense_activities(api, "rep_a")
    assert len(mine) == 1 and "dinner" in mine[0]["content"]
    assert api.get(f"/v1/activities/{mine[0]['id']}", as_="rep_b")[0] == 404
    assert len(expense_activities(api, "mgr_east")) == 1  # the submitter's manager reads the expense
    _, overview = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="mgr_east")
    assert [a["id"] for a in overview["activities"] if a["type"] == "expense"] == [mine[0]["id"]]
    status, error = api.post(f"/v1/activities/{mine[0]['id']}/comments", {"content": "x", "mentions": ["rep_b"]})
    assert status == 422 and error["error"]["code"] == "unknown_user"
    assert _messages(api, "rep_b") == []


def test_mentioning_a_deactivated_user_is_422_and_stores_nothing(api):
    act = activity(api, account(api))[1]["id"]
    status, _ = api.post("/v1/admin/users/mgr_east/deactivate", {"handover_to": "vp"}, as_="admin")
    assert status == 200
    status, error = api.post(f"/v1/activities/{act}/comments", {"content": "hi", "mentions": ["mgr_east"]})
    assert status == 422 and error["error"]["code"] == "unknown_user"
    assert api.get(f"/v1/activities/{act}/comments")[1]["items"] == []
    status, _ = api.post(f"/v1/activities/{act}/comments", {"content": "hi", "mentions": ["vp"]})
    assert status == 201


def test_a_department_head_who_is_not_the_manager_reads_the_record_and_every_projection(api):
    # rep_b heads east (rep_a's department) and manages nobody: the contract names "staff of
    # departments the caller heads" among the readers of a user's records
    opp = opportunity_with_peer_on_team(api)
    e = submitted_on(api, opp["id"])
    assert api.get(f"/v1/expenses/{e['id']}", as_="rep_b")[0] == 404  # a peer, not yet a head
    head = {"name": "Sales East", "parent_id": "sales", "head_user_id": "rep_b"}
    assert api.put("/v1/admin/departments/east", head, as_="admin")[0] == 200
    status, body = api.get(f"/v1/expenses/{e['id']}", as_="rep_b")
    assert status == 200 and body["description"] == "dinner with the buyer"
    assert api.post(f"/v1/expenses/{e['id']}/approve", {}, as_="rep_b")[0] == 403  # reads, never decides
    status, page = api.get("/v1/expenses?user_id=rep_a", as_="rep_b")
    assert status == 200 and [x["id"] for x in page["items"]] == [e["id"]]
    _, overview = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="rep_b")
    assert [x["id"] for x in overview["expenses"]] == [e["id"]]
    assert [a["type"] for a in overview["activities"]].count("expense") == 1
    assert api.get("/v1/plans?user_id=rep_a", as_="rep_b")[0] == 200
    assert api.get("/v1/signins?user_id=rep_a", as_="rep_b")[0] == 200
    assert api.get("/v1/plans?user_id=rep_c", as_="rep_b")[0] == 404  # west's staff: not rep_b's
    JobQueue().drain()  # the head change's re-index job: the feed converges when it is done
    assert [a["id"] for a in expense_activities(api, "rep_b")] == ["act_" + e["id"].removeprefix("exp_")]
