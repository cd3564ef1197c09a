"""Expenses through the HTTP edge: drafts, edits, submission, two-level approval,
rejection, optimistic locking, listing and statistics (moto + chalice.test)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.services.expenses import expenses as expense_service
from tests.support import EAST, draft, messages_of, submitted


def test_create_expense_with_decimal_amount_returns_draft_with_contract_shape(api):
    expense = draft(api, "128.5", description="taxi")
    assert expense["status"] == "draft" and expense["payment_status"] == "unpaid"
    assert expense["amount"] == "128.50" and expense["currency"] == "CNY"
    assert expense["unit"] == EAST and expense["user_id"] == "rep_a"
    assert expense["approvals"] == [] and expense["warnings"] == [] and expense["receipt_upload_ids"] == []


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 12.5},  # a float, never money
        {"amount": "12.345"},
        {"amount": "-5.00"},
        {"status": "approved"},
        {"approvals": [{"approver_id": "mgr_east"}]},
        {"spent": "0.00"},
        {"payment_status": "paid"},
        {"user_id": "rep_b"},
    ],
)
def test_create_expense_with_invalid_or_mass_assigned_field_is_400(api, body):
    base = {"amount": "10.00", "category": "travel", "occurred_on": "2026-11-03", "unit": EAST}
    status, error = api.post("/v1/expenses", {**base, **body})
    assert status == 400
    assert error["error"]["code"] == "invalid_body"


def test_create_expense_with_zero_amount_is_422(api):
    status, error = api.post(
        "/v1/expenses", {"amount": "0", "category": "travel", "occurred_on": "2026-11-03", "unit": EAST}
    )
    assert status == 422 and error["error"]["code"] == "invalid_amount"


@pytest.mark.parametrize(
    "unit", [{"type": "department", "id": "nope"}, {"type": "project", "id": "nope"}, {"type": "person", "id": "x"}]
)
def test_create_expense_with_unknown_unit_is_422(api, unit):
    status, error = api.post(
        "/v1/expenses", {"amount": "1.00", "category": "travel", "occurred_on": "2026-11-03", "unit": unit}
    )
    assert status == 422 and error["error"]["code"] == "unknown_unit"


def test_patch_draft_changes_fields_and_refuses_state_fields(api):
    expense = draft(api)
    status, patched = api.patch(f"/v1/expenses/{expense['id']}", {"amount": "99.99", "category": "meals"})
    assert status == 200 and patched["amount"] == "99.99" and patched["category"] == "meals"
    status, error = api.patch(f"/v1/expenses/{expense['id']}", {"status": "approved"})
    assert status == 400
    status, error = api.patch(f"/v1/expenses/{expense['id']}", {"amount": "1.00"}, as_="rep_b")
    assert status == 404  # a peer cannot even see it


def test_patch_submitted_expense_is_409(api):
    expense = submitted(api)
    status, error = api.patch(f"/v1/expenses/{expense['id']}", {"amount": "1.00"})
    assert status == 409 and error["error"]["code"] == "invalid_state"


def test_submit_below_limit_routes_to_manager_and_notifies(api):
    expense = submitted(api, "100.00")
    assert expense["status"] == "submitted"
    assert expense["approver_ids"] == ["mgr_east"]
    requests = messages_of(api, "mgr_east", "expense_approval_request")
    assert [m["ref"] for m in requests] == [{"type": "expense", "id": expense["id"]}]


def test_submit_twice_is_409_and_reserves_once(api):
    api.put("/v1/budgets/department/east/2026-11", {"amount": "1000", "currency": "CNY", "mode": "block"}, as_="fin")
    expense = submitted(api, "100.00")
    status, error = api.post(f"/v1/expenses/{expense['id']}/submit")
    assert status == 409 and error["error"]["code"] == "invalid_state"
    _, budget = api.get("/v1/budgets/department/east/2026-11", as_="fin")
    assert budget["reserved"] == "100.00"


def test_submit_by_someone_else_is_404_or_403(api):
    expense = draft(api)
    assert api.post(f"/v1/expenses/{expense['id']}/submit", as_="rep_b")[0] == 404
    assert api.post(f"/v1/expenses/{expense['id']}/submit", as_="mgr_east")[0] == 403


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_approve_above_limit_needs_two_levels_and_stays_submitted_after_first(api):
    expense = submitted(api, "6000.00")
    assert expense["approver_ids"] == ["mgr_east", "vp"]
    status, error = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="vp")
    assert status == 403 and error["error"]["code"] == "not_approver"  # level 2 waits for level 1
    status, first = api.post(f"/v1/expenses/{expense['id']}/approve", {"comment": "fine"}, as_="mgr_east")
    assert status == 200 and first["status"] == "submitted"
    assert [a["approver_id"] for a in first["approvals"]] == ["mgr_east"]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 1
    assert messages_of(api, "rep_a", "expense_result") == []
    status, second = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="vp")
    assert status == 200 and second["status"] == "approved"
    assert [a["level"] for a in second["approvals"]] == [1, 2]
    assert len(messages_of(api, "rep_a", "expense_result")) == 1


def test_approve_at_limit_needs_one_level(api):
    expense = submitted(api, "5000.00")
    assert expense["approver_ids"] == ["mgr_east"]
    status, approved = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")
    assert status == 200 and approved["status"] == "approved"


def test_approve_by_peer_is_404_and_by_skip_level_manager_is_403(api):
    expense = submitted(api)
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="rep_b")[0] == 404
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_west")[0] == 404
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="vp")[0] == 403
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="rep_a")[0] == 403


def test_approve_draft_or_approved_expense_is_409(api):
    expense = draft(api)
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")[0] == 409
    expense = submitted(api)
    assert api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")[0] == 200
    status, error = api.post(f"/v1/expenses/{expense['id']}/approve", {}, as_="mgr_east")
    assert status == 409 and error["error"]["code"] == "invalid_state"
    assert api.post(f"/v1/expenses/{expense['id']}/reject", {"reason": "x"}, as_="mgr_east")[0] == 409


def test_reject_requires_reason_and_notifies_submitter(api):
    expense = submitted(api)
    assert api.post(f"/v1/expenses/{expense['id']}/reject", {}, as_="mgr_east")[0] == 400
    status, rejected = api.post(f"/v1/expenses/{expense['id']}/reject", {"reason": "no receipt"}, as_="mgr_east")
    assert status == 200 and rejected["status"] == "rejected"
    assert rejected["approvals"][0]["decision"] == "rejected"
    results = messages_of(api, "rep_a", "expense_result")
    assert len(results) == 1 and results[0]["body"] == "no receipt"


def test_submit_without_manager_is_422(api):
    status, expense = api.post(
        "/v1/expenses",
        {"amount": "1.00", "category": "travel", "occurred_on": "2026-11-03", "unit": {"type": "person", "id": "ceo"}},
        as_="ceo",
    )
    status, error = api.post(f"/v1/expenses/{expense['id']}/submit", as_="ceo")
    assert status == 422 and error["error"]["code"] == "no_approver"


def test_transition_with_same_idempotency_key_replays_and_applies_once(api):
    expense = draft(api)
    headers = {"Idempotency-Key": "submit-1"}
    first = api.post(f"/v1/expenses/{expense['id']}/submit", headers=headers)
    again = api.post(f"/v1/expenses/{expense['id']}/submit", headers=headers)
    assert first[0] == again[0] == 200 and first[1] == again[1]
    key = {"Idempotency-Key": "approve-1"}
    approved = api.post(f"/v1/expenses/{expense['id']}/approve", {"comment": "ok"}, as_="mgr_east", headers=key)
    replay = api.post(f"/v1/expenses/{expense['id']}/approve", {"comment": "ok"}, as_="mgr_east", headers=key)
    assert approved == replay and approved[1]["status"] == "approved"
    assert len(approved[1]["approvals"]) == 1
    status, error = api.post(f"/v1/expenses/{expense['id']}/approve", {"comment": "other"}, as_="mgr_east", headers=key)
    assert status == 422 and error["error"]["code"] == "idempotency_key_reused"


def test_create_with_same_idempotency_key_creates_once(api):
    body = {"amount": "10.00", "category": "travel", "occurred_on": "2026-11-03", "unit": EAST}
    a = api.post("/v1/expenses", body, headers={"Idempotency-Key": "k1"})
    b = api.post("/v1/expenses", body, headers={"Idempotency-Key": "k1"})
    assert a == b and a[0] == 201
    _, page = api.get("/v1/expenses")
    assert len(page["items"]) == 1


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_decide_on_stale_version_concurrently_one_wins_other_409(api, atomic_moto):
    """Approve and reject race on the same version: exactly one transition happens."""
    expense = submitted(api)
    manager = Principal("mgr_east", "acme", frozenset())
    outcomes: list[Any] = []
    barrier = threading.Barrier(2)

    def act(kind: str) -> None:
        barrier.wait()
        try:
            if kind == "approve":
                outcomes.append(expense_service.approve(manager, expense["id"], None).status)
            else:
                outcomes.append(expense_service.reject(manager, expense["id"], "no").status)
        except Exception as exc:  # noqa: BLE001 - the loser's error is the assertion
            outcomes.append(getattr(exc, "status", repr(exc)))

    threads = [threading.Thread(target=act, args=(k,)) for k in ("approve", "reject")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(map(str, outcomes)) in (["409", "approved"], ["409", "rejected"])
    final = expense_service.load("acme", expense["id"])
    assert final.status in ("approved", "rejected") and len(final.approvals) == 1


def test_decide_with_stale_model_is_409_version_conflict(api):
    """The optimistic lock itself: a write based on an old read loses."""
    expense = submitted(api)
    manager = Principal("mgr_east", "acme", frozenset())
    stale = expense_service.load("acme", expense["id"])
    expense_service.approve(manager, expense["id"], None)
    from chalicelib.models.base import Cancelled, Tx
    from chalicelib.models.expenses import Expense

    stale.status = "rejected"
    with pytest.raises(Cancelled) as caught:
        Tx().put("expense", stale, Expense.status == "submitted").commit()
    assert caught.value.failed == {"expense"}


def test_list_expenses_scopes_self_subordinates_and_finance(api):
    mine = submitted(api, "10.00")
    draft(api, "20.00", as_="rep_b")
    draft(api, "30.00", as_="rep_c", unit={"type": "department", "id": "west"})
    _, own = api.get("/v1/expenses")
    assert [e["id"] for e in own["items"]] == [mine["id"]]
    _, team = api.get("/v1/expenses?user_id=rep_b", as_="mgr_east")
    assert [e["amount"] for e in team["items"]] == ["20.00"]
    assert api.get("/v1/expenses?user_id=rep_b", as_="rep_a")[0] == 404
    assert api.get("/v1/expenses?user_id=rep_c", as_="mgr_east")[0] == 404
    _, everything = api.get("/v1/expenses", as_="fin")
    assert sorted(e["amount"] for e in everything["items"]) == ["10.00", "20.00", "30.00"]
    _, submitted_only = api.get("/v1/expenses?status=submitted", as_="fin")
    assert [e["id"] for e in submitted_only["items"]] == [mine["id"]]
    _, unit = api.get("/v1/expenses?unit_type=department&unit_id=east", as_="mgr_east")
    assert sorted(e["amount"] for e in unit["items"]) == ["10.00", "20.00"]  # rep_c charges the west
    assert api.get("/v1/expenses?unit_type=department&unit_id=east", as_="mgr_west")[0] == 404


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_list_expenses_pages_with_cursor_and_date_range(api):
    for day in range(1, 8):
        body = {"amount": f"{day}.00", "category": "travel", "occurred_on": f"2026-11-0{day}", "unit": EAST}
        assert api.post("/v1/expenses", body)[0] == 201
    seen: list[str] = []
    cursor = None
    while True:
        path = "/v1/expenses?limit=3&from=2026-11-02&to=2026-11-06" + (f"&cursor={cursor}" if cursor else "")
        status, page = api.get(path)
        assert status == 200
        seen += [e["occurred_on"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ["2026-11-06", "2026-11-05", "2026-11-04", "2026-11-03", "2026-11-02"]
    status, error = api.get(f"/v1/expenses?limit=3&cursor={cursor or 'x'}", as_="rep_b")
    assert status == 422 and error["error"]["code"] == "invalid_cursor"


def test_stats_by_category_stage_and_unit_follow_submit_and_reject(api):
    a = submitted(api, "100.00")
    submitted(api, "50.25", category="meals")
    draft(api, "999.00")  # drafts do not count
    body = {
        "amount": "7.00",
        "category": "travel",
        "occurred_on": "2026-11-04",
        "unit": {"type": "person", "id": "rep_b"},
    }
    _, other = api.post("/v1/expenses", body, as_="rep_b")
    api.post(f"/v1/expenses/{other['id']}/submit", as_="rep_b")
    status, by_cat = api.get("/v1/expense-stats?period=2026-11&group_by=category", as_="fin")
    assert status == 200
    assert {g["key"]: (g["total"], g["count"]) for g in by_cat["groups"]} == {
        "travel": ("107.00", 2),
        "meals": ("50.25", 1),
    }
    _, by_unit = api.get("/v1/expense-stats?period=2026-11&group_by=unit", as_="fin")
    assert {g["key"]: g["total"] for g in by_unit["groups"]} == {"department:east": "150.25", "person:rep_b": "7.00"}
    _, by_stage = api.get("/v1/expense-stats?period=2026-11&group_by=stage", as_="admin")
    assert {g["key"]: g["count"] for g in by_stage["groups"]} == {"none": 3}
    api.post(f"/v1/expenses/{a['id']}/reject", {"reason": "no"}, as_="mgr_east")
    _, unit_cat = api.get(
        "/v1/expense-stats?period=2026-11&group_by=category&unit_type=department&unit_id=east", as_="mgr_east"
    )
    assert {g["key"]: g["total"] for g in unit_cat["groups"]} == {"meals": "50.25"}


def test_stats_tenant_wide_for_rep_is_403_and_bad_query_is_400(api):
    assert api.get("/v1/expense-stats?period=2026-11", as_="rep_a")[0] == 403
    assert api.get("/v1/expense-stats?period=2026-13", as_="fin")[0] == 400
    assert api.get("/v1/expense-stats?period=2026-11&group_by=colour", as_="fin")[0] == 400


def test_stats_request_count_is_constant_in_the_number_of_expenses(api, ddb_requests):
    counts = []
    for n in (2, 12):
        while True:
            _, page = api.get("/v1/expense-stats?period=2026-11", as_="fin")
            if sum(g["count"] for g in page["groups"]) >= n:
                break
            submitted(api, "1.00")
        ddb_requests.reset()
        api.get("/v1/expense-stats?period=2026-11", as_="fin")
        counts.append(ddb_requests.total)
    assert counts[0] == counts[1] == 2  # the caller's identity, the statistics


def test_get_expense_visible_to_submitter_managers_and_finance_only(api):
    expense = draft(api)
    for user, status in (("rep_a", 200), ("mgr_east", 200), ("ceo", 200), ("fin", 200), ("rep_b", 404), ("rep_c", 404)):
        assert api.get(f"/v1/expenses/{expense['id']}", as_=user)[0] == status, user
    assert api.get(f"/v1/expenses/{expense['id']}", as_="boss", tenant="globex")[0] == 404


def _receipt(upload_id: str, sha: str, user: str = "rep_a", purpose: str = "receipt", status: str = "ready") -> None:
    from chalicelib.models.uploads import Upload

    Upload(
        tenant_id="acme",
        upload_id=upload_id,
        user_id=user,
        purpose=purpose,
        content_type="image/jpeg",
        size_bytes=1000,
        key=f"uploads/acme/{user}/{upload_id}",
        status=status,
        created_at="2026-11-03T00:00:00Z",
        expires_at="2026-11-03T00:15:00Z",
        sha256=sha,
    ).save()


def test_submit_with_receipt_file_already_on_another_expense_warns_duplicate_receipt(api):
    _receipt("upl_one", "a" * 64)
    _receipt("upl_two", "a" * 64)  # the same file uploaded again
    _receipt("upl_other", "b" * 64)
    first = submitted(api, "10.00", receipt_upload_ids=["upl_one"])
    assert first["warnings"] == [] and first["receipt_upload_ids"] == ["upl_one"]
    second = submitted(api, "10.00", receipt_upload_ids=["upl_two"])
    assert second["warnings"] == ["duplicate_receipt"]
    third = submitted(api, "10.00", receipt_upload_ids=["upl_other"])
    assert third["warnings"] == []


@pytest.mark.parametrize(
    "upload", [("upl_peer", "rep_b", "receipt", "ready"), ("upl_photo", "rep_a", "signin_photo", "ready")]
)
def test_create_with_receipt_of_someone_else_or_not_a_receipt_is_422(api, upload):
    upload_id, user, purpose, status = upload
    _receipt(upload_id, "c" * 64, user, purpose, status)
    body = {
        "amount": "1.00",
        "category": "x",
        "occurred_on": "2026-11-03",
        "unit": EAST,
        "receipt_upload_ids": [upload_id],
    }
    status_code, error = api.post("/v1/expenses", body)
    assert status_code == 422 and error["error"]["code"] == "unknown_upload"
