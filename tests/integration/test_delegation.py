"""Approval delegation (PUT/GET/DELETE /v1/me/delegate): within the tenant-local dates the
delegate decides the caller's approvals (new and already waiting; queue and message
follow), outside them or after DELETE the original approver decides again, nobody
approves their own expense, and delegation chains do not loop."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.models.org import Delegation
from chalicelib.services.expenses import approvals, delegation, expenses
from tests.support import approve, delegate, messages_of, move, ok_delegate, queue, submitted, today


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set "now" for the modules that resolve delegations and queues (and answer whether
    a delegation is active: approvals.delegation_to_dict)."""

    def at(instant: datetime) -> None:
        for module in (delegation, approvals, expenses):
            monkeypatch.setattr(module, "utcnow", lambda: instant)

    return at


def test_delegate_decides_waiting_and_new_approvals_with_queue_and_message(api):
    waiting = submitted(api, "10.00")
    d = ok_delegate(api, "mgr_east", "vp", today(), today() + timedelta(days=2))
    assert d == {
        "delegate_id": "vp",
        "from": today().isoformat(),
        "to": (today() + timedelta(days=2)).isoformat(),
        "active": True,
    }
    assert api.get("/v1/me/delegate", as_="mgr_east")[1] == {"delegation": d}
    assert queue(api, "mgr_east") == [] and queue(api, "vp") == [waiting["id"]]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 1
    new = submitted(api, "20.00", as_="rep_b")
    assert new["approver_ids"] == ["vp"]
    assert queue(api, "vp") == [waiting["id"], new["id"]]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 2
    assert approve(api, waiting["id"], "mgr_east")[0] == 403
    for expense in (waiting, new):
        status, out = approve(api, expense["id"], "vp")
        assert status == 200 and out["status"] == "approved", out
        assert [a["approver_id"] for a in out["approvals"]] == ["vp"]
    assert queue(api, "vp") == []


def test_after_delete_the_original_approver_decides_again(api):
    expense = submitted(api, "10.00")
    ok_delegate(api, "mgr_east", "vp", today(), today())
    assert queue(api, "vp") == [expense["id"]]
    status, out = api.delete("/v1/me/delegate", as_="mgr_east")
    assert status == 200 and out == {"delegation": None}
    assert api.get("/v1/me/delegate", as_="mgr_east")[1] == {"delegation": None}
    assert queue(api, "vp") == [] and queue(api, "mgr_east") == [expense["id"]]
    assert approve(api, expense["id"], "vp")[0] == 403
    status, out = approve(api, expense["id"], "mgr_east")
    assert status == 200 and out["status"] == "approved"
    assert api.delete("/v1/me/delegate", as_="mgr_east")[0] == 200  # nothing set: still fine


def test_a_future_delegation_leaves_the_decision_with_the_approver_until_it_starts(api):
    expense = submitted(api, "10.00")
    d = ok_delegate(api, "mgr_east", "vp", today() + timedelta(days=1), today() + timedelta(days=3))
    assert d["active"] is False
    assert queue(api, "mgr_east") == [expense["id"]] and queue(api, "vp") == []
    assert approve(api, expense["id"], "vp")[0] == 403
    assert approve(api, expense["id"], "mgr_east")[0] == 200


def test_first_and_last_day_are_inclusive_in_the_tenant_zone(api, clock):
    day = date(2026, 12, 10)
    ok_delegate(api, "mgr_east", "vp", day, day + timedelta(days=1))
    stored = delegation.get("acme", "mgr_east")
    assert stored is not None
    # Shanghai (UTC+8): 2026-12-10 00:00 local is 2026-12-09 16:00Z; the end is 2026-12-11 24:00 local
    assert (stored.starts_at, stored.ends_at) == ("2026-12-09T16:00:00Z", "2026-12-11T16:00:00Z")
    resolve = lambda at: delegation.resolve("acme", "mgr_east", "rep_a", at)[0]  # noqa: E731
    assert resolve("2026-12-09T15:59:59Z") == "mgr_east"
    assert resolve("2026-12-09T16:00:00Z") == "vp"  # first local day, first second
    assert resolve("2026-12-11T15:59:59Z") == "vp"  # last local day, last second
    assert resolve("2026-12-11T16:00:00Z") == "mgr_east"
    clock(datetime(2026, 12, 9, 16, 0, tzinfo=UTC))
    inside = submitted(api, "10.00")
    assert inside["approver_ids"] == ["vp"]
    clock(datetime(2026, 12, 9, 15, 59, 59, tzinfo=UTC))
    before = submitted(api, "11.00")
    assert before["approver_ids"] == ["mgr_east"]
    clock(datetime(2026, 12, 11, 16, 0, tzinfo=UTC))  # the day after: the delegate no longer decides
    assert queue(api, "vp") == []  # the delegated wait expired (not shown to one who may not decide)
    assert approve(api, inside["id"], "vp")[0] == 403
    assert approve(api, inside["id"], "mgr_east")[0] == 200


def test_two_levels_stay_two_people_when_the_first_is_delegated_to_the_second(api):
    ok_delegate(api, "mgr_east", "vp", today(), today())
    big = submitted(api, "6000.00")  # above the approval limit: two levels
    assert big["approver_ids"] == ["vp", "ceo"]
    assert approve(api, big["id"], "vp")[0] == 200
    assert approve(api, big["id"], "vp")[0] == 403  # level 2 is the CEO's
    status, out = approve(api, big["id"], "ceo")
    assert status == 200 and out["status"] == "approved", out


def test_the_delegates_own_expense_passes_to_the_next_level(api):
    ok_delegate(api, "mgr_east", "rep_a", today(), today())
    own = submitted(api, "10.00", as_="rep_a")  # rep_a's approver mgr_east delegated to rep_a
    assert own["approver_ids"] == ["vp"]  # mgr_east's manager
    assert approve(api, own["id"], "rep_a")[0] == 403
    other = submitted(api, "10.00", as_="rep_b")
    assert other["approver_ids"] == ["rep_a"]  # for others, the delegate decides
    assert queue(api, "rep_a") == [other["id"]] and queue(api, "vp") == [own["id"]]
    assert approve(api, own["id"], "vp")[0] == 200
    assert approve(api, other["id"], "rep_a")[0] == 200


def test_a_chain_follows_and_a_cycle_is_refused_or_resolved(api):
    ok_delegate(api, "mgr_east", "vp", today(), today())
    ok_delegate(api, "vp", "ceo", today(), today())
    expense = submitted(api, "10.00")
    assert expense["approver_ids"] == ["ceo"]  # mgr_east -> vp -> ceo
    status, error = delegate(api, "ceo", "mgr_east", today(), today())
    assert status == 422 and error["error"]["code"] == "delegation_cycle"
    assert delegation.get("acme", "ceo") is None
    # a loop stored anyway (e.g. written before the check): resolution still ends
    Delegation(**{**_item("ceo", "mgr_east").attribute_values}).save()
    who, _ = delegation.resolve("acme", "mgr_east", "rep_a")
    assert who in {"mgr_east", "vp", "ceo"}
    assert approve(api, expense["id"], who)[0] == 200


def _item(user: str, to_user: str) -> Delegation:
    d = delegation.get("acme", "mgr_east")
    assert d is not None
    item = Delegation(tenant_id="acme", user_id=user, delegate_id=to_user, date_from=d.date_from, date_to=d.date_to)
    item.starts_at, item.ends_at, item.created_at = d.starts_at, d.ends_at, d.created_at
    item.set_keys()
    return item


def test_a_reorg_during_a_delegation_sends_the_approval_to_the_new_managers_delegate(api):
    expense = submitted(api, "10.00")
    ok_delegate(api, "mgr_east", "vp", today(), today())
    ok_delegate(api, "mgr_west", "ceo", today(), today())
    assert queue(api, "vp") == [expense["id"]]
    move(api, "rep_a", "Zhang Min (rep)", "west", "mgr_west")
    assert queue(api, "vp") == [] and queue(api, "ceo") == [expense["id"]]
    assert len(messages_of(api, "ceo", "expense_approval_request")) == 1
    assert approve(api, expense["id"], "vp")[0] == 403
    assert approve(api, expense["id"], "mgr_west")[0] == 403
    assert approve(api, expense["id"], "ceo")[0] == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"delegate_id": "nobody", "from": "2026-12-01", "to": "2026-12-02"}, "unknown_user"),
        ({"delegate_id": "x_rep_a", "from": "2026-12-01", "to": "2026-12-02"}, "unknown_user"),  # other tenant
        ({"delegate_id": "mgr_east", "from": "2026-12-01", "to": "2026-12-02"}, "invalid_delegate"),
        ({"delegate_id": "vp", "from": "2026-12-02", "to": "2026-12-01"}, "invalid_range"),
        ({"delegate_id": "vp", "from": "2026-01-01", "to": "2027-01-02"}, "invalid_range"),
        ({"delegate_id": "vp", "from": "2026-02-30", "to": "2026-03-02"}, "invalid_date"),
        ({"delegate_id": "vp", "from": "2026-12-01", "to": "9999-12-31"}, "out_of_range"),
        ({"delegate_id": "vp", "from": "0001-01-01", "to": "0001-01-02"}, "out_of_range"),
        ({"delegate_id": "vp", "from": "2026-12-01"}, None),
        ({"delegate_id": "vp", "from": "12/01/2026", "to": "2026-12-02"}, None),
    ],
)
def test_bad_input_is_4xx_and_stores_nothing(api, body, code):
    expense = submitted(api, "10.00")
    status, error = api.put("/v1/me/delegate", body, as_="mgr_east")
    assert 400 <= status < 500 and status != 404, error
    if code:
        assert error["error"]["code"] == code, error
    assert delegation.get("acme", "mgr_east") is None
    assert queue(api, "mgr_east") == [expense["id"]]


def test_deactivating_the_delegate_gives_the_approvals_back(api):
    expense = submitted(api, "10.00")
    ok_delegate(api, "mgr_east", "mgr_west", today(), today())
    assert queue(api, "mgr_west") == [expense["id"]]
    status, _ = api.post("/v1/admin/users/mgr_west/deactivate", {"handover_to": "vp"}, as_="admin")
    assert status == 200
    assert queue(api, "mgr_east") == [expense["id"]]
    assert approve(api, expense["id"], "mgr_east")[0] == 200


def test_a_deactivated_delegate_is_refused(api):
    status, _ = api.post("/v1/admin/users/rep_c/deactivate", {"handover_to": "rep_b"}, as_="admin")
    assert status == 200
    status, error = delegate(api, "mgr_east", "rep_c", today(), today())
    assert status == 422 and error["error"]["code"] == "unknown_user"


def tick(chalice_client: Any) -> None:
    event = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    for _ in range(2):  # the schedule may fire twice
        chalice_client.lambda_.invoke("delegation_boundaries", event)


def test_waits_move_to_the_delegate_when_it_starts_and_back_when_it_ends(api, clock, chalice_client):
    day = date(2026, 12, 10)  # Shanghai: 2026-12-09T16:00Z .. 2026-12-10T16:00Z
    clock(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))
    expense = submitted(api, "10.00")
    ok_delegate(api, "mgr_east", "vp", day, day)
    assert queue(api, "mgr_east") == [expense["id"]] and queue(api, "vp") == []
    clock(datetime(2026, 12, 9, 16, 5, tzinfo=UTC))  # the first day has begun
    assert queue(api, "mgr_east") == []  # hidden at once: mgr_east may not decide it now
    tick(chalice_client)
    assert queue(api, "vp") == [expense["id"]]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 1
    assert approve(api, expense["id"], "mgr_east")[0] == 403
    clock(datetime(2026, 12, 10, 16, 5, tzinfo=UTC))  # the day after the last
    assert queue(api, "vp") == []
    tick(chalice_client)
    assert queue(api, "vp") == [] and queue(api, "mgr_east") == [expense["id"]]
    assert len(messages_of(api, "mgr_east", "expense_approval_request")) >= 1
    assert approve(api, expense["id"], "vp")[0] == 403
    assert approve(api, expense["id"], "mgr_east")[0] == 200


def test_extending_a_delegation_keeps_the_wait_in_the_delegates_queue_past_the_old_end(api, clock):
    day = date(2026, 12, 10)
    clock(datetime(2026, 12, 10, 4, 0, tzinfo=UTC))
    expense = submitted(api, "10.00")
    ok_delegate(api, "mgr_east", "vp", day, day)
    ok_delegate(api, "mgr_east", "vp", day, day + timedelta(days=1))  # same delegate, one more day
    clock(datetime(2026, 12, 10, 16, 5, tzinfo=UTC))  # past the first end, inside the new one
    assert queue(api, "vp") == [expense["id"]]
    assert approve(api, expense["id"], "vp")[0] == 200
