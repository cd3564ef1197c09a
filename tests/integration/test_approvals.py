"""The approvals queue and bulk decisions, and approvers from the current reporting tree:
a reorg moves waiting approvals (queue, message, right to decide) to the new approver."""

from __future__ import annotations

import pytest

from tests.support import messages_of, move, queue, submitted


def test_queue_lists_waiting_expenses_oldest_first_at_each_level(api):
    small = submitted(api, "10.00")
    big = submitted(api, "6000.00", as_="rep_b")
    assert queue(api, "mgr_east") == [small["id"], big["id"]]
    assert queue(api, "vp") == []
    assert api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="mgr_east")[0] == 200
    assert queue(api, "mgr_east") == [small["id"]]
    assert queue(api, "vp") == [big["id"]]  # level 2 now waits for the VP
    assert api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="vp")[0] == 200
    assert api.post(f"/v1/expenses/{small['id']}/reject", {"reason": "no"}, as_="mgr_east")[0] == 200
    assert queue(api, "vp") == [] and queue(api, "mgr_east") == []


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_queue_pages_have_no_gaps_or_duplicates_and_cursor_is_bound_to_caller(api):
    made = [submitted(api, "1.00", as_="rep_a" if i % 2 else "rep_b")["id"] for i in range(7)]
    assert queue(api, "mgr_east", limit=3) == made
    _, page = api.get("/v1/approvals?limit=3", as_="mgr_east")
    status, error = api.get(f"/v1/approvals?limit=3&cursor={page['next_cursor']}", as_="vp")
    assert status == 422 and error["error"]["code"] == "invalid_cursor"


def test_queue_page_is_one_query_and_one_batch_get_at_any_queue_size(api, ddb_requests):
    counts = []
    for n in (2, 30):
        while len(queue(api, "mgr_east")) < n:
            submitted(api, "1.00")
        ddb_requests.reset()
        status, page = api.get("/v1/approvals?limit=20", as_="mgr_east")
        assert status == 200 and len(page["items"]) == min(n, 20)
        counts.append(sorted(ddb_requests.calls))
    # one BatchGet: the caller's active flag (authentication) with the tenant's settings
    assert counts[0] == counts[1] == ["BatchGetItem", "BatchGetItem", "Query"]


def test_reorg_moves_waiting_approval_queue_message_and_right_to_decide(api):
    expense = submitted(api, "10.00")
    assert len(messages_of(api, "mgr_west", "expense_approval_request")) == 0
    move(api, "rep_a", "Zhang Min (rep)", "west", "mgr_west")
    assert queue(api, "mgr_east") == [] and queue(api, "mgr_west") == [expense["id"]]
    assert len(messages_of(api, "mgr_west", "expense_approval_request")) == 1
    status, error = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")
    assert status == 404, error  # the old manager no longer decides, nor sees it
    status, out = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_west")
    assert status == 200 and out["status"] == "approved", out
    assert [a["approver_id"] for a in out["approvals"]] == ["mgr_west"]


def test_moving_a_manager_moves_their_reports_level_two_approvals(api):
    big = submitted(api, "6000.00")  # mgr_east, then vp
    assert api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="mgr_east")[0] == 200
    assert queue(api, "vp") == [big["id"]]
    move(api, "mgr_east", "Wang Fang (East manager)", "east", "ceo")  # now reports to the CEO
    assert queue(api, "vp") == [] and queue(api, "ceo") == [big["id"]]
    assert len(messages_of(api, "ceo", "expense_approval_request")) == 1
    # vp is no longer above rep_a in the reporting tree, but heads sales (rep_a's east is in
    # it): vp reads rep_a's expense (org.reads_user_data) and may not decide it
    status, error = api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="vp")
    assert status == 403 and error["error"]["code"] == "not_approver"
    status, out = api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="ceo")
    assert status == 200 and out["status"] == "approved"


def test_decision_follows_the_current_tree_even_for_a_wait_keyed_earlier(api):
    """The right to decide is read from the tree at the request, not from the queue."""
    from chalicelib.services.org import org

    expense = submitted(api, "10.00")
    org.put_user("acme", org.NewUser("rep_a", "Zhang Min (rep)", "west", "mgr_west", None, None))  # no re-key
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")[0] == 403
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_west")[0] == 200


def test_bulk_items_are_independent_and_retries_answer_ok(api):
    a = submitted(api, "10.00")
    b = submitted(api, "20.00", as_="rep_b")
    other = submitted(api, "30.00", as_="rep_c", unit={"type": "department", "id": "west"})  # mgr_west's
    assert api.post(f"/v1/expenses/{b['id']}/reject", {"reason": "dup"}, as_="mgr_east")[0] == 200
    body = {"action": "approve", "expense_ids": [a["id"], b["id"], other["id"], "exp_missing"]}
    status, out = api.post("/v1/approvals/bulk", body, as_="mgr_east")
    assert status == 200, out
    results = {r["expense_id"]: r for r in out["results"]}
    assert results[a["id"]]["status"] == "ok"
    assert results[b["id"]]["status"] == "error" and results[b["id"]]["error"]["code"] == "invalid_state"
    assert results[other["id"]]["status"] == "error" and results[other["id"]]["error"]["code"] == "not_found"
    assert results["exp_missing"]["status"] == "error"
    assert api.get(f"/v1/expenses/{a['id']}", as_="rep_a")[1]["status"] == "approved"
    assert api.get(f"/v1/expenses/{other['id']}", as_="rep_c")[1]["status"] == "submitted"
    # a retry without a key: the item this caller already approved answers ok, once
    status, again = api.post("/v1/approvals/bulk", {"action": "approve", "expense_ids": [a["id"]]}, as_="mgr_east")
    assert status == 200 and again["results"] == [{"expense_id": a["id"], "status": "ok"}]
    _, expense = api.get(f"/v1/expenses/{a['id']}", as_="rep_a")
    assert len(expense["approvals"]) == 1
    assert len(messages_of(api, "rep_a", "expense_result")) == 1


def test_bulk_with_idempotency_key_replays_and_rejects_need_a_reason(api):
    a = submitted(api, "10.00")
    body = {"action": "reject", "expense_ids": [a["id"]], "reason": "no receipt"}
    headers = {"Idempotency-Key": "bulk-1"}
    first = api.post("/v1/approvals/bulk", body, as_="mgr_east", headers=headers)
    second = api.post("/v1/approvals/bulk", body, as_="mgr_east", headers=headers)
    assert first == second and first[0] == 200 and first[1]["results"][0]["status"] == "ok"
    assert api.post("/v1/approvals/bulk", {"action": "reject", "expense_ids": [a["id"]]}, as_="mgr_east")[0] == 422
    for bad in ({"action": "approve", "expense_ids": []}, {"action": "ok", "expense_ids": ["x"]}):
        assert api.post("/v1/approvals/bulk", bad, as_="mgr_east")[0] == 400
    too_many = {"action": "approve", "expense_ids": [f"exp_{i}" for i in range(51)]}
    assert api.post("/v1/approvals/bulk", too_many, as_="mgr_east")[0] == 400
