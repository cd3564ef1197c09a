"""Approval requests on the expense approver chain: levels, queue, delegation, reorg, leave."""

from __future__ import annotations

from datetime import date, timedelta

from chalicelib.models.messages import Message
from chalicelib.services.collab import leave
from chalicelib.services.inbox.messages import inbox_pk

LEAVE = {"kind": "leave", "title": "Annual leave", "from_date": "2030-03-04", "to_date": "2030-03-06"}


def inbox(user: str, kind: str) -> list[Message]:
    return [m for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")) if m.kind == kind]


def ask(api, body=None, as_="rep_a") -> dict:
    status, made = api.post("/v1/approval-requests", body or LEAVE, as_=as_)
    assert status == 201, made
    return made


def waiting(api, as_: str) -> list[str]:
    status, page = api.get("/v1/approval-requests?role=waiting", as_=as_)
    assert status == 200, page
    return [r["id"] for r in page["items"]]


def test_leave_request_waits_for_the_manager_in_its_own_queue_and_approval_books_the_days(api):
    made = ask(api)
    assert (made["status"], made["next_approver_id"], made["requester_id"]) == ("submitted", "mgr_east", "rep_a")
    assert [m.ref_id for m in inbox("mgr_east", "approval_request")] == [made["id"]]
    assert waiting(api, "mgr_east") == [made["id"]]
    assert api.get("/v1/approvals", as_="mgr_east")[1]["items"] == []  # expenses only
    for user, code in (("rep_a", 200), ("mgr_east", 200), ("vp", 200), ("admin", 200), ("rep_b", 404), ("rep_c", 404)):
        assert api.get(f"/v1/approval-requests/{made['id']}", as_=user)[0] == code, user
    status, done = api.post(f"/v1/approval-requests/{made['id']}/approve", {"comment": "Enjoy"}, as_="mgr_east")
    assert (status, done["status"], done["approvals"][0]["approver_id"]) == (200, "approved", "mgr_east")
    assert [m.ref_id for m in inbox("rep_a", "approval_result")] == [made["id"]]
    assert waiting(api, "mgr_east") == []
    assert leave.on_leave("acme", "rep_a", "2030-03-05") and not leave.on_leave("acme", "rep_a", "2030-03-07")
    assert leave.leave_days("acme", "rep_a", "2030-03-01", "2030-03-31") == {"2030-03-04", "2030-03-05", "2030-03-06"}
    status, mine = api.get("/v1/approval-requests?role=mine&status=approved")
    assert [r["id"] for r in mine["items"]] == [made["id"]]
    assert api.get("/v1/approval-requests?role=mine&status=submitted")[1]["items"] == []


def test_amount_above_the_approval_limit_needs_the_managers_manager_too(api):
    made = ask(api, {"kind": "discount", "title": "20% for Acme", "amount": "8000.00"})
    path = f"/v1/approval-requests/{made['id']}"
    status, body = api.post(path + "/approve", {}, as_="vp")
    assert (status, body["error"]["code"]) == (403, "not_approver")
    assert api.post(path + "/approve", {}, as_="rep_b")[0] == 404
    first = api.post(path + "/approve", {}, as_="mgr_east")[1]
    assert (first["status"], first["next_approver_id"]) == ("submitted", "vp")
    assert waiting(api, "vp") == [made["id"]] and waiting(api, "mgr_east") == []
    assert api.post(path + "/approve", {}, as_="vp")[1]["status"] == "approved"
    assert not leave.on_leave("acme", "rep_a", "2030-03-05")  # not a leave
    small = ask(api, {"kind": "discount", "title": "5% for Acme", "amount": "100.00"})
    assert api.post(f"/v1/approval-requests/{small['id']}/approve", {}, as_="mgr_east")[1]["status"] == "approved"


def test_reject_and_withdraw_end_the_wait_and_a_decided_request_is_409(api):
    rejected, withdrawn = ask(api), ask(api)
    status, body = api.post(f"/v1/approval-requests/{rejected['id']}/reject", {"reason": "Expo"}, as_="mgr_east")
    assert (status, body["status"]) == (200, "rejected")
    assert not leave.on_leave("acme", "rep_a", "2030-03-05")
    status, body = api.post(f"/v1/approval-requests/{withdrawn['id']}/withdraw", as_="mgr_east")
    assert (status, body["error"]["code"]) == (403, "not_owner")
    assert api.post(f"/v1/approval-requests/{withdrawn['id']}/withdraw")[1]["status"] == "withdrawn"
    assert api.post(f"/v1/approval-requests/{withdrawn['id']}/approve", {}, as_="mgr_east")[0] == 409
    assert api.post(f"/v1/approval-requests/{withdrawn['id']}/withdraw")[0] == 409
    assert waiting(api, "mgr_east") == []
    assert {m.ref_id for m in inbox("rep_a", "approval_result")} == {rejected["id"]}


def test_delegation_and_a_reporting_change_move_the_waiting_request(api):
    made = ask(api)
    today = date.today()
    delegation = {"delegate_id": "vp", "from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    assert api.put("/v1/me/delegate", delegation, as_="mgr_east")[0] == 200
    assert waiting(api, "vp") == [made["id"]] and waiting(api, "mgr_east") == []
    assert api.delete("/v1/me/delegate", as_="mgr_east")[0] == 200
    assert waiting(api, "mgr_east") == [made["id"]]
    moved = {"name": "Zhang Min (rep)", "department_id": "west", "manager_id": "mgr_west"}
    assert api.put("/v1/admin/users/rep_a", moved, as_="admin")[0] == 200
    assert waiting(api, "mgr_west") == [made["id"]] and waiting(api, "mgr_east") == []
    assert [m.ref_id for m in inbox("mgr_west", "approval_request")] == [made["id"]]
    assert api.post(f"/v1/approval-requests/{made['id']}/approve", {}, as_="mgr_west")[1]["status"] == "approved"


def test_bad_requests_are_422_and_write_nothing(api):
    cases = [
        ({"kind": "leave", "title": "x"}, "dates_required"),
        ({**LEAVE, "to_date": "2030-03-01"}, "invalid_range"),
        ({**LEAVE, "related": [{"type": "opportunity", "id": "opp_nope"}]}, "unknown_opportunity"),
        ({"kind": "discount", "title": "x", "amount": "10.00", "currency": "USD"}, "no_exchange_rate"),
        # red-team pass: the money rules' one currency list, as for expenses (was no_exchange_rate)
        ({"kind": "discount", "title": "x", "amount": "10.00", "currency": "QQQ"}, "unknown_currency"),
    ]
    for body, code in cases:
        status, error = api.post("/v1/approval-requests", body)
        assert (status, error["error"]["code"]) == (422, code), body
    status, error = api.post("/v1/approval-requests", LEAVE, as_="ceo")
    assert (status, error["error"]["code"]) == (422, "no_approver")
    assert api.get("/v1/approval-requests?role=mine")[1]["items"] == []
    assert waiting(api, "mgr_east") == [] and inbox("mgr_east", "approval_request") == []


def test_waiting_queue_page_cost_does_not_grow_with_the_org(api, ddb_requests):
    from chalicelib.services.org import org

    for _ in range(3):
        ask(api)

    def cost() -> int:
        ddb_requests.reset()
        assert len(waiting(api, "mgr_east")) == 3
        return ddb_requests.total

    before = cost()
    for n in range(30):
        org.put_user("acme", org.NewUser(f"extra_{n}", f"Extra {n}", "west", "mgr_west", None, None))
    for n in range(0, 30, 3):
        ask(api, as_=f"extra_{n}")
    assert cost() == before <= 4
