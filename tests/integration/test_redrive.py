"""Effects after a commit point that keep failing: the request still answers its success
(its own write is stored), the effect is missing until the table's stream re-drives it,
and then it exists exactly once, however often the records are delivered again.

Each test breaks one effect for the whole request (beyond the in-request retries of
services/platform/aftercommit.py), heals it, and pumps the stream as Lambda would.
"""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.services.feed import activities
from chalicelib.services.inbox import messages
from chalicelib.services.org import org
from tests.support import Stream, approved_expense, draft, ids_in, messages_of, paid_event, post_webhook, sign, signed


@pytest.fixture
def broken():
    """``broken(module, name)``: every call fails until the test heals it (``.heal()``)."""
    patches = pytest.MonkeyPatch()

    class Breaker:
        calls = 0

        def __call__(self, module: Any, name: str) -> Breaker:
            def fail(*args: Any, **kwargs: Any) -> Any:
                Breaker.calls += 1
                raise RuntimeError(f"{name} is down")

            patches.setattr(module, name, fail)
            return self

        def heal(self) -> None:
            patches.undo()

    yield Breaker()
    patches.undo()


def _replayed(stream: Stream, records: list[dict[str, Any]]) -> None:
    """At-least-once: Lambda may hand the same records over again."""
    assert records
    stream.deliver(records)


def _account(api: Any) -> str:
    status, account = api.post("/v1/accounts", {"name": "Redrive Ltd"}, as_="rep_a")
    assert status == 201
    return account["id"]


def test_activity_whose_fan_out_keeps_failing_is_201_and_reaches_the_feed_from_its_stream_insert(api, stream, broken):
    account = _account(api)
    status, opp = api.post("/v1/opportunities", {"name": "Deal", "account_id": account, "stage": "qualify"})
    assert status == 201
    stream.pump()
    broken(activities, "write_entries")
    status, act = api.post(
        "/v1/activities",
        {"type": "sales_record", "content": "visit", "related": [{"type": "opportunity", "id": opp["id"]}]},
        as_="rep_a",
    )
    assert status == 201 and broken.calls == 3  # tried in the request, then deferred
    assert act["id"] not in ids_in(api, "mgr_east")
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    assert act["id"] in ids_in(api, "mgr_east") and act["id"] in ids_in(api, "rep_a")
    feed_ids = [a["id"] for a in api.get("/v1/feed?limit=100", as_="rep_a")[1]["items"]]
    assert feed_ids.count(act["id"]) == 1
    status, overview = api.get(f"/v1/opportunities/{opp['id']}/overview", as_="rep_a")
    assert status == 200 and [a["id"] for a in overview["activities"]] == [act["id"]]  # its link too


def test_comment_whose_message_keeps_failing_is_201_and_the_author_hears_once_from_the_stream(api, stream, broken):
    account = _account(api)
    act = api.post(
        "/v1/activities",
        {"type": "post", "content": "hello", "related": [{"type": "account", "id": account}]},
        as_="rep_a",
    )[1]
    stream.pump()
    broken(messages, "send")
    status, comment = api.post(f"/v1/activities/{act['id']}/comments", {"content": "well done"}, as_="mgr_east")
    assert status == 201
    assert messages_of(api, "rep_a", "comment") == []
    broken.heal()
    records = stream.pump()
    assert [m["ref"] for m in messages_of(api, "rep_a", "comment")] == [{"type": "activity", "id": act["id"]}]
    _replayed(stream, records)
    assert len(messages_of(api, "rep_a", "comment")) == 1
    status, comments = api.get(f"/v1/activities/{act['id']}/comments", as_="rep_a")
    assert [c["id"] for c in comments["items"]] == [comment["id"]]


def test_stage_change_commits_its_feedback_and_the_stream_fans_it_out_when_the_request_could_not(api, stream, broken):
    account = _account(api)
    status, opp = api.post(
        "/v1/opportunities", {"name": "Deal", "account_id": account, "stage": "qualify"}, as_="rep_a"
    )
    assert status == 201
    stream.pump()
    broken(activities, "write_entries")
    status, _ = api.patch(
        f"/v1/opportunities/{opp['id']}", {"stage": "proposal", "stage_note": "sent the quote"}, as_="rep_a"
    )
    assert status == 200
    broken.heal()
    stream.pump()
    status, page = api.get("/v1/feed?types=stage_feedback&limit=100", as_="mgr_east")
    feedback = [a for a in page["items"] if any(r["id"] == opp["id"] for r in a["related"])]
    assert len(feedback) == 1 and feedback[0]["content"] == "sent the quote"


def test_sign_in_whose_activity_keeps_failing_is_201_and_its_activity_comes_from_the_stream(api, stream, broken):
    from chalicelib.services.fieldwork import signins

    broken(signins, "record_activity")
    status, signin = sign(api)
    assert status == 201
    assert not any(a["type"] == "signin" for a in api.get("/v1/feed?limit=100", as_="rep_a")[1]["items"])
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    mine = api.get("/v1/feed?types=signin&limit=100", as_="rep_a")[1]["items"]
    assert [a["signin_id"] for a in mine] == [signin["id"]]


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_submitted_expense_whose_approval_request_keeps_failing_reaches_the_approver_once_from_the_stream(
    api, stream, broken
):
    expense = draft(api)
    broken(messages, "send")
    status, _ = api.post(f"/v1/expenses/{expense['id']}/submit", as_="rep_a")
    assert status == 200
    assert messages_of(api, "mgr_east", "expense_approval_request") == []
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    asked = messages_of(api, "mgr_east", "expense_approval_request")
    assert [m["ref"] for m in asked] == [{"type": "expense", "id": expense["id"]}]
    assert any(a["type"] == "expense" for a in api.get("/v1/feed?limit=100", as_="rep_a")[1]["items"])


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_decision_whose_result_message_keeps_failing_reaches_the_submitter_once_from_the_stream(
    api, stream, broken, decision
):
    expense = draft(api)
    assert api.post(f"/v1/expenses/{expense['id']}/submit", as_="rep_a")[0] == 200
    stream.pump()
    broken(messages, "send")
    body = {"reason": "no receipt"} if decision == "reject" else {}
    status, decided = api.post(f"/v1/expenses/{expense['id']}/{decision}", body, as_="mgr_east")
    assert status == 200, decided
    assert messages_of(api, "rep_a", "expense_result") == []
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    results = messages_of(api, "rep_a", "expense_result")
    assert len(results) == 1 and ("approved" if decision == "approve" else "rejected") in results[0]["title"]


def test_payment_whose_paid_message_keeps_failing_reaches_the_submitter_once_from_the_stream(api, stream, broken):
    from chalicelib.services.org import org

    secret = org.put_finance_integration("acme", "http://127.0.0.1:9/hook").secret
    expense_id = approved_expense()
    stream.pump()
    broken(messages, "send")
    raw, headers = signed(secret, paid_event(expense_id), webhook_id="wh_redrive")
    status, _ = post_webhook(api, raw, headers)
    assert status < 300
    assert messages_of(api, "rep_a", "expense_paid") == []
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    assert len(messages_of(api, "rep_a", "expense_paid")) == 1


def test_moved_approval_whose_request_keeps_failing_reaches_the_new_approver_once_from_the_stream(api, stream, broken):
    expense = draft(api)
    assert api.post(f"/v1/expenses/{expense['id']}/submit", as_="rep_a")[0] == 200
    stream.pump()
    broken(messages, "send")
    body = {"name": "Zhang Min (rep)", "department_id": "west", "manager_id": "mgr_west"}
    assert api.put("/v1/admin/users/rep_a", body, as_="admin")[0] == 200
    assert messages_of(api, "mgr_west", "expense_approval_request") == []
    broken.heal()
    records = stream.pump()
    _replayed(stream, records)
    asked = messages_of(api, "mgr_west", "expense_approval_request")
    assert [m["ref"] for m in asked] == [{"type": "expense", "id": expense["id"]}]


def test_project_whose_memberships_keep_failing_is_200_and_mine_comes_from_the_stream(api, stream, broken):
    def mine(user: str) -> list[str]:
        status, page = api.get("/v1/projects?mine=true", as_=user)
        assert status == 200, page
        return [p["id"] for p in page["items"]]

    body = {"name": "Launch", "owner_id": "mgr_east", "member_ids": ["rep_a"]}
    assert api.put("/v1/admin/projects/redrive", body, as_="admin")[0] == 200
    stream.pump()
    broken(org, "_sync_memberships")
    body = {"name": "Launch", "owner_id": "mgr_east", "member_ids": ["rep_b"]}  # rep_a leaves, rep_b joins
    assert api.put("/v1/admin/projects/redrive", body, as_="admin")[0] == 200
    assert broken.calls == 3  # tried in the request, then deferred
    assert (mine("rep_a"), mine("rep_b")) == (["redrive"], [])
    broken.heal()
    records = stream.pump()
    assert (mine("rep_a"), mine("rep_b"), mine("mgr_east")) == ([], ["redrive"], ["redrive"])
    _replayed(stream, records)
    assert (mine("rep_a"), mine("rep_b"), mine("mgr_east")) == ([], ["redrive"], ["redrive"])
