"""Deactivation end to end: the user's token is refused at once, everything they own passes
to ``handover_to`` as a transfer (feed history re-indexed through the stream), reminders
are cancelled, direct reports move up with their waiting approvals; reactivation."""

from __future__ import annotations

from typing import Any

from chalicelib.models.digest import LastCheckIn
from chalicelib.models.schedule import Plan
from chalicelib.services.flows import offboarding
from chalicelib.services.org import org
from chalicelib.timeutil import local_date, utcnow
from tests.support import ids_in, messages_of, queue, submitted

HANDOVER = {"handover_to": "rep_b"}


def owned(api: Any, as_: str) -> dict[str, str]:
    ids = {}
    for kind, body in (
        ("accounts", {"name": "Jing'an Flagship"}),
        ("leads", {"name": "Walk-in"}),
    ):
        status, out = api.post(f"/v1/{kind}", body, as_=as_)
        assert status == 201, out
        ids[kind] = out["id"]
    status, out = api.post("/v1/contacts", {"name": "Ms Wu", "account_id": ids["accounts"]}, as_=as_)
    assert status == 201, out
    ids["contacts"] = out["id"]
    body = {"name": "Renewal", "account_id": ids["accounts"], "stage": "lead"}
    status, out = api.post("/v1/opportunities", body, as_=as_)
    assert status == 201, out
    ids["opportunities"] = out["id"]
    return ids


def test_deactivated_users_token_is_refused_at_once_on_every_route(api):
    assert api.get("/v1/me", as_="rep_a")[0] == 200
    status, out = api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="admin")
    assert status == 200, out
    for path in ("/v1/me", "/v1/users", "/v1/feed", "/v1/approvals"):
        status, error = api.get(path, as_="rep_a")
        assert status == 403 and error["error"]["code"] == "unknown_user", (path, error)
    status, _ = api.post("/v1/accounts", {"name": "x"}, as_="rep_a")
    assert status == 403
    assert api.get("/v1/users/rep_a", as_="rep_b")[1]["active"] is False
    assert api.post("/v1/admin/users/rep_a/reactivate", as_="admin")[0] == 200
    assert api.get("/v1/me", as_="rep_a")[0] == 200


def test_handover_target_must_be_an_active_user_of_the_tenant(api):
    for target in ("ghost", "rep_x", "rep_a"):
        status, error = api.post("/v1/admin/users/rep_a/deactivate", {"handover_to": target}, as_="admin")
        assert status == 422 and error["error"]["code"] == "unknown_user", target
    assert api.post("/v1/admin/users/rep_b/deactivate", {"handover_to": "rep_c"}, as_="admin")[0] == 200
    status, error = api.post("/v1/admin/users/rep_a/deactivate", {"handover_to": "rep_b"}, as_="admin")
    assert status == 422 and error["error"]["code"] == "unknown_user"
    assert api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="mgr_east")[0] == 403
    assert api.post("/v1/admin/users/nobody/deactivate", HANDOVER, as_="admin")[0] == 404
    status, error = api.post("/v1/admin/users/admin/deactivate", HANDOVER, as_="admin")
    assert status == 422 and error["error"]["code"] == "cannot_deactivate_self"
    assert api.get("/v1/me", as_="rep_a")[0] == 200  # nothing was stored


def test_ownership_passes_to_handover_and_history_is_reindexed(api, stream):
    ids = owned(api, "rep_a")
    status, act = api.post(
        "/v1/activities",
        {"type": "sales_record", "content": "visit", "related": [{"type": "account", "id": ids["accounts"]}]},
        as_="rep_a",
    )
    assert status == 201
    stream.pump()
    assert api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="admin")[0] == 200
    for kind, object_id in ids.items():
        status, obj = api.get(f"/v1/{kind}/{object_id}", as_="rep_b")
        assert status == 200 and obj["owner_id"] == "rep_b", (kind, obj)
    stream.pump()  # the transfers' records re-index the history; the user's record re-runs the handover
    assert act["id"] in ids_in(api, "rep_b", "my_accounts")


def test_handover_is_idempotent_and_finished_by_the_stream(api, stream, monkeypatch):
    ids = owned(api, "rep_a")
    monkeypatch.setattr(offboarding, "INLINE_HANDOVER", 1)  # the request hands over one object
    assert api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="admin")[0] == 200
    owners = {k: api.get(f"/v1/{k}/{v}", as_="admin")[1]["owner_id"] for k, v in ids.items()}
    assert sorted(owners.values()) == ["rep_a", "rep_a", "rep_a", "rep_b"]
    stream.pump()
    stream.pump()
    assert all(api.get(f"/v1/{k}/{v}", as_="admin")[1]["owner_id"] == "rep_b" for k, v in ids.items())
    assert offboarding.finish_handover("acme", "rep_a") == 0  # a re-run changes nothing


def test_open_plans_reminders_are_cancelled(api):
    body = {"title": "Call", "start_time": "2030-01-15T09:30:00+08:00", "remind_minutes_before": 15}
    status, plan = api.post("/v1/plans", {"date": "2030-01-15", **body}, as_="rep_a")
    assert status == 201, plan
    assert Plan.get(Plan.pk("acme", plan["id"]), "PLAN").GSI2PK  # armed: in the due index
    assert api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="admin")[0] == 200
    item = Plan.get(Plan.pk("acme", plan["id"]), "PLAN")
    assert item.remind_at is None and item.GSI2PK is None


def test_direct_reports_move_up_with_their_waiting_approvals(api):
    expense = submitted(api, "10.00", as_="rep_a")
    big = submitted(api, "6000.00", as_="rep_b")
    assert queue(api, "mgr_east") == [expense["id"], big["id"]]
    assert api.post("/v1/admin/users/mgr_east/deactivate", {"handover_to": "mgr_west"}, as_="admin")[0] == 200
    assert api.get("/v1/users/rep_a", as_="admin")[1]["manager_id"] == "vp"
    assert {r["id"] for r in api.get("/v1/team?depth=direct", as_="vp")[1]["items"]} >= {"rep_a", "rep_b"}
    assert queue(api, "vp") == [expense["id"], big["id"]]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 2
    status, out = api.post(f"/v1/expenses/{big['id']}/approve", {}, as_="vp")
    assert status == 200 and out["status"] == "submitted"  # level 2 is now the CEO
    assert queue(api, "ceo") == [big["id"]]


def test_reports_whose_move_keeps_failing_follow_from_the_stream_and_the_deactivation_stands(api, stream, monkeypatch):
    """A fault after the commit (the reports' move) is no 5xx inviting a retry that would be
    409 ``invalid_state`` with the reports left under a deactivated manager."""
    from chalicelib.services.org import org

    expense = submitted(api, "10.00", as_="rep_a")
    stream.pump()
    real = org.put_user
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1].user_id)  # (tenant_id, NewUser)
        raise RuntimeError("storage is down")

    monkeypatch.setattr(org, "put_user", failing)
    assert api.post("/v1/admin/users/mgr_east/deactivate", {"handover_to": "mgr_west"}, as_="admin")[0] == 200
    assert len(calls) == 3  # tried in the request, then left to the stream
    assert api.get("/v1/users/rep_a", as_="admin")[1]["manager_id"] == "mgr_east"
    monkeypatch.setattr(org, "put_user", real)
    stream.pump()
    assert api.get("/v1/users/rep_a", as_="admin")[1]["manager_id"] == "vp"
    assert {r["id"] for r in api.get("/v1/team?depth=direct", as_="vp")[1]["items"]} >= {"rep_a", "rep_b"}
    assert queue(api, "vp") == [expense["id"]]
    stream.pump()  # again: nothing moves twice
    assert queue(api, "vp") == [expense["id"]]
    assert len(messages_of(api, "vp", "expense_approval_request")) == 1


def test_a_deactivated_user_cannot_become_anyones_manager(api):
    assert api.post("/v1/admin/users/mgr_west/deactivate", {"handover_to": "vp"}, as_="admin")[0] == 200
    body = {"name": "Zhang Min (rep)", "department_id": "east", "manager_id": "mgr_west"}
    status, error = api.put("/v1/admin/users/rep_a", body, as_="admin")
    assert status == 422 and error["error"]["code"] == "unknown_manager"
    assert api.get("/v1/users/rep_c", as_="admin")[1]["manager_id"] == "vp"  # moved up


def last_check_ins() -> dict[str, str]:
    """What the team digest's quiet-people Query can return: every user's last check-in day."""
    return {
        r.user_id: r.day for r in LastCheckIn.gsi1.query(LastCheckIn.index_pk("acme")) if isinstance(r, LastCheckIn)
    }


def test_a_deactivated_users_last_check_in_leaves_the_digests_index_and_a_return_starts_afresh(api, stream):
    LastCheckIn(tenant_id="acme", user_id="rep_a", day="2020-01-06").save()
    assert last_check_ins()["rep_a"] == "2020-01-06"
    assert api.post("/v1/admin/users/rep_a/deactivate", HANDOVER, as_="admin")[0] == 200
    stream.pump()
    assert "rep_a" not in last_check_ins()  # no digest reads (or could report) the row again
    assert api.post("/v1/admin/users/rep_a/reactivate", as_="admin")[0] == 200
    stream.pump()
    today = local_date(utcnow(), org.tenant_zone("acme"))
    assert last_check_ins()["rep_a"] == today  # not "quiet since 2020" on the first morning back
