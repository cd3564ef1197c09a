"""Separation of duties in approvals (issue 24 item 1), through the HTTP routes: nobody
approves an expense they submitted or that a delegation chain routes back to them; the
levels of one expense are decided by different people; every queue entry is one its
holder can decide (also after a delegation is removed mid-chain, ends, or a reorg)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalicelib.models.expenses import ApprovalWait
from chalicelib.services.expenses import approvals, expenses
from tests.support import approve, move, ok_delegate, queue, submitted, today


def holder_may_decide(api: Any, expense_id: str) -> str:
    """The queue holding the expense (one wait per expense); asserts its holder lists it and
    is the approver a decision accepts."""
    e = expenses.load("acme", expense_id)
    wait = ApprovalWait.fetch("acme", expense_id)
    assert e is not None and wait is not None
    assert expense_id in queue(api, wait.approver_id)
    assert expenses.next_approver(e) == wait.approver_id == expenses.current_approvers(e)[expenses.approved_levels(e)]
    return wait.approver_id


def test_a_submitter_cannot_route_their_expense_to_a_peer_through_a_delegation_chain(api):
    # issue 24 item 1 (a): mgr_east -> rep_a -> rep_b; rep_a submits: rep_b must not decide it
    ok_delegate(api, "mgr_east", "rep_a", today(), today())
    ok_delegate(api, "rep_a", "rep_b", today(), today())
    own = submitted(api, "10.00", as_="rep_a")
    assert own["approver_ids"] == ["vp"]  # passes up to the manager's manager
    assert approve(api, own["id"], "rep_b")[0] in (403, 404)
    assert queue(api, "rep_b") == [] and holder_may_decide(api, own["id"]) == "vp"
    status, out = approve(api, own["id"], "vp")
    assert status == 200 and out["status"] == "approved"


def test_after_a_delegation_ends_one_person_never_decides_two_levels(api):
    # issue 24 item 1 (b): level 1 decided by the delegate (vp), then the delegation goes;
    # level 2 would be vp again in the tree: it passes to the next manager up
    ok_delegate(api, "mgr_east", "vp", today(), today())
    big = submitted(api, "6000.00")
    assert big["approver_ids"] == ["vp", "ceo"]
    assert approve(api, big["id"], "vp")[0] == 200
    assert api.delete("/v1/me/delegate", as_="mgr_east")[0] == 200
    assert approve(api, big["id"], "vp")[0] in (403, 409)
    assert holder_may_decide(api, big["id"]) == "ceo"
    status, out = approve(api, big["id"], "ceo")
    assert status == 200 and out["status"] == "approved"
    deciders = [a["approver_id"] for a in out["approvals"]]
    assert deciders == ["vp", "ceo"] and len(set(deciders)) == 2


def test_after_a_reorg_one_person_never_decides_two_levels(api):
    big = submitted(api, "6000.00")
    assert big["approver_ids"] == ["mgr_east", "vp"]
    assert approve(api, big["id"], "mgr_east")[0] == 200
    # rep_a now reports to rep_b, whose manager mgr_east would be level 2 again
    move(api, "rep_a", "Zhang Min (rep)", "east", "rep_b")
    assert approve(api, big["id"], "mgr_east")[0] in (403, 409)
    holder = holder_may_decide(api, big["id"])
    assert holder == "vp"  # level 2: two up is mgr_east, who decided level 1: the next one up
    status, out = approve(api, big["id"], "vp")
    assert status == 200 and out["status"] == "approved"
    assert [a["approver_id"] for a in out["approvals"]] == ["mgr_east", "vp"]


def test_removing_a_delegation_mid_chain_moves_the_wait_to_one_who_may_decide_it(api):
    # issue 24 item 1 (c): mgr_east -> vp -> ceo; the wait sits with ceo; mgr_east's own
    # delegation is removed: the wait must leave ceo's queue for mgr_east's
    ok_delegate(api, "mgr_east", "vp", today(), today() + timedelta(days=1))
    ok_delegate(api, "vp", "ceo", today(), today() + timedelta(days=1))
    expense = submitted(api, "10.00")
    assert expense["approver_ids"] == ["ceo"]
    assert api.delete("/v1/me/delegate", as_="mgr_east")[0] == 200
    assert queue(api, "ceo") == []
    assert holder_may_decide(api, expense["id"]) == "mgr_east"
    assert approve(api, expense["id"], "mgr_east")[0] == 200


def test_a_deactivated_delegate_in_the_middle_of_a_chain_moves_the_wait_back(api):
    ok_delegate(api, "mgr_east", "mgr_west", today(), today())
    ok_delegate(api, "mgr_west", "ceo", today(), today())
    expense = submitted(api, "10.00")
    assert expense["approver_ids"] == ["ceo"]
    status, _ = api.post("/v1/admin/users/mgr_west/deactivate", {"handover_to": "vp"}, as_="admin")
    assert status == 200
    assert holder_may_decide(api, expense["id"]) == "mgr_east"
    assert approve(api, expense["id"], "ceo")[0] in (403, 404)
    assert approve(api, expense["id"], "mgr_east")[0] == 200


def test_the_approver_chain_is_one_function_for_every_kind_of_request(demo_org):
    # the rule other requests (leave, trips) call: levels, delegations, submitter, deciders
    from chalicelib.services.org import org

    rep_a = org.get_user("acme", "rep_a")
    assert expenses.approver_chain("acme", "rep_a", rep_a, 2)[0] == ["mgr_east", "vp"]
    assert expenses.approver_chain("acme", "rep_a", rep_a, 2, ["vp"])[0] == ["vp", "ceo"]
    assert expenses.approver_chain("acme", "rep_a", rep_a, 3, ["mgr_east", "vp"])[0] == ["mgr_east", "vp", "ceo"]
    assert approvals.move_for_delegation("acme", {"nobody"}) == 0


def leave_request(api: Any) -> dict[str, Any]:
    body = {"kind": "leave", "title": "Leave", "from_date": "2030-03-04", "to_date": "2030-03-05"}
    status, out = api.post("/v1/approval-requests", body, as_="rep_a")
    assert status == 201, out
    return out


def waiting_for(api: Any, user: str) -> list[str]:
    status, page = api.get("/v1/approval-requests?role=waiting&limit=100", as_=user)
    assert status == 200, page
    return [r["id"] for r in page["items"]]


def test_a_reactivated_delegate_gets_back_what_passed_over_them_while_inactive(api):
    # the contract: between its dates a delegator's approvals go to the delegate, "also
    # those already waiting"; while the delegate is deactivated the delegator decides;
    # reactivated inside the dates, the delegate decides again (expenses and requests)
    ok_delegate(api, "mgr_east", "mgr_west", today(), today() + timedelta(days=1))
    expense = submitted(api, "10.00")
    request = leave_request(api)
    assert expense["approver_ids"] == ["mgr_west"] and request["next_approver_id"] == "mgr_west"
    assert api.post("/v1/admin/users/mgr_west/deactivate", {"handover_to": "vp"}, as_="admin")[0] == 200
    assert holder_may_decide(api, expense["id"]) == "mgr_east"
    assert waiting_for(api, "mgr_east") == [request["id"]]
    assert api.post("/v1/admin/users/mgr_west/reactivate", as_="admin")[0] == 200
    assert holder_may_decide(api, expense["id"]) == "mgr_west"
    assert queue(api, "mgr_east") == [] and waiting_for(api, "mgr_east") == []
    assert waiting_for(api, "mgr_west") == [request["id"]]
    assert approve(api, expense["id"], "mgr_east")[0] == 403
    assert approve(api, expense["id"], "mgr_west")[0] == 200
    status, out = api.post(f"/v1/approval-requests/{request['id']}/approve", {}, as_="mgr_west")
    assert status == 200 and out["status"] == "approved"


def test_a_delegation_removed_then_set_again_takes_the_waiting_approvals_back(api):
    ok_delegate(api, "mgr_east", "vp", today(), today())
    expense = submitted(api, "10.00")
    assert api.delete("/v1/me/delegate", as_="mgr_east")[0] == 200
    assert holder_may_decide(api, expense["id"]) == "mgr_east"
    ok_delegate(api, "mgr_east", "vp", today(), today())
    assert queue(api, "mgr_east") == [] and holder_may_decide(api, expense["id"]) == "vp"


def test_reactivating_a_user_nobody_delegates_to_moves_nothing(demo_org):
    assert approvals.move_for_reactivation("acme", "rep_c") == 0
