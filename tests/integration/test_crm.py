"""Accounts, contacts, opportunities, leads; ownership; teams; stage feedback; activities."""

from __future__ import annotations

import pytest

from chalicelib.auth import Principal
from chalicelib.errors import NotFound
from chalicelib.services.crm import crm
from chalicelib.services.feed import feed


def test_create_account_defaults_owner_to_caller_and_keeps_location(api):
    status, acc = api.post(
        "/v1/accounts", {"name": "Jing'an Store", "address": "Nanjing Rd", "location": {"lat": 31.23, "lng": 121.47}}
    )
    assert status == 201
    assert acc["owner_id"] == "rep_a" and acc["id"].startswith("acc_")
    assert acc["location"] == {"lat": 31.23, "lng": 121.47}
    status, again = api.get(f"/v1/accounts/{acc['id']}", as_="rep_a")
    assert status == 200 and again == acc


def test_create_each_object_type_returns_contract_fields(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    cases = {
        "contacts": {"name": "Ms Li", "account_id": acc["id"], "phone": "+86 21 5555"},
        "opportunities": {"name": "Deal", "account_id": acc["id"], "stage": "qualify", "amount": "1200.50"},
        "leads": {"name": "Lead", "company": "Foo Ltd"},
    }
    for path, body in cases.items():
        status, out = api.post(f"/v1/{path}", body)
        assert status == 201, out
        for field in ("id", "name", "owner_id", "created_at", "updated_at"):
            assert out[field]
        for field, value in body.items():
            assert out[field] == value
    _, opp = api.post("/v1/opportunities", cases["opportunities"])
    assert opp["currency"] == "CNY"  # tenant default


def test_create_with_unknown_fields_or_float_amount_is_400(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    assert api.post("/v1/accounts", {"name": "A", "status": "vip"})[0] == 400
    assert (
        api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "lead", "amount": 12.5})[0] == 400
    )
    assert (
        api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "lead", "amount": "1.234"})[0]
        == 400
    )


def test_create_opportunity_on_invisible_or_unknown_account_is_422(api):
    _, acc = api.post("/v1/accounts", {"name": "C's"}, as_="rep_c")
    status, body = api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "lead"}, as_="rep_a")
    assert status == 422 and body["error"]["code"] == "unknown_account"
    assert api.post("/v1/opportunities", {"name": "D", "account_id": "acc_nope", "stage": "lead"})[0] == 422


def test_create_with_unknown_owner_is_422(api):
    status, body = api.post("/v1/accounts", {"name": "A", "owner_id": "ghost"})
    assert status == 422 and body["error"]["code"] == "unknown_user"


def test_get_object_outside_visible_range_or_tenant_is_404(api):
    _, acc = api.post("/v1/accounts", {"name": "A"}, as_="rep_a")
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_b")[0] == 404
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_c")[0] == 404
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_x", tenant="globex")[0] == 404
    assert api.get(f"/v1/accounts/{acc['id']}", as_="boss", tenant="globex")[0] == 404
    for viewer in ("rep_a", "mgr_east", "vp", "ceo", "admin"):
        assert api.get(f"/v1/accounts/{acc['id']}", as_=viewer)[0] == 200, viewer
    assert api.get(f"/v1/contacts/{acc['id']}", as_="rep_a")[0] == 404  # wrong type


def test_patch_transfers_ownership_and_updates_fields(api):
    _, acc = api.post("/v1/accounts", {"name": "A", "location": {"lat": 31.0, "lng": 121.0}})
    status, out = api.patch(f"/v1/accounts/{acc['id']}", {"owner_id": "rep_b", "name": "A2", "location": None})
    assert status == 200
    assert (out["owner_id"], out["name"], out["location"]) == ("rep_b", "A2", None)
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_b")[0] == 200
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_a")[0] == 404


def test_patch_with_field_of_another_type_is_400(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    assert api.patch(f"/v1/accounts/{acc['id']}", {"stage": "won"})[0] == 400
    assert api.patch(f"/v1/accounts/{acc['id']}", {"owner_id": "ghost"})[0] == 422
    assert api.patch(f"/v1/accounts/{acc['id']}", {"name": None})[0] == 422


def test_patch_stage_records_stage_feedback_with_note(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    _, opp = api.post("/v1/opportunities", {"name": "D", "account_id": acc["id"], "stage": "qualify"})
    status, out = api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "proposal", "stage_note": "sent quote"})
    assert status == 200 and out["stage"] == "proposal"
    status, page = api.get("/v1/feed?scene=my_opportunities&types=stage_feedback", as_="rep_a")
    assert status == 200 and len(page["items"]) == 1
    act = page["items"][0]
    assert act["content"] == "sent quote"
    assert (act["from_stage"], act["to_stage"]) == ("qualify", "proposal")
    assert {r["id"] for r in act["related"]} == {opp["id"], acc["id"]}
    # same stage again: no new feedback
    api.patch(f"/v1/opportunities/{opp['id']}", {"stage": "proposal"})
    assert len(feed.activities_for_opportunity(Principal("rep_a", "acme", frozenset()), opp["id"])) == 1


def test_team_put_and_delete_change_the_relevant_team(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    status, team = api.put(f"/v1/accounts/{acc['id']}/team/rep_b", {"role": "follow_up"})
    assert status == 200 and team["members"] == [{"user_id": "rep_b", "role": "follow_up"}]
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_b")[0] == 200
    assert api.put(f"/v1/accounts/{acc['id']}/team/rep_b", {"role": "boss"})[0] == 400
    assert api.put(f"/v1/accounts/{acc['id']}/team/ghost", {"role": "service"})[0] == 404
    status, team = api.delete(f"/v1/accounts/{acc['id']}/team/rep_b")
    assert status == 200 and team["members"] == []
    assert api.delete(f"/v1/accounts/{acc['id']}/team/rep_b")[0] == 404
    assert api.get(f"/v1/accounts/{acc['id']}", as_="rep_b")[0] == 404


def test_post_activity_for_system_type_or_invisible_object_is_refused(api):
    _, mine = api.post("/v1/accounts", {"name": "A"})
    _, theirs = api.post("/v1/accounts", {"name": "C"}, as_="rep_c")
    body = {"type": "signin", "content": "x", "related": [{"type": "account", "id": mine["id"]}]}
    assert api.post("/v1/activities", body)[0] == 400  # not a type clients may post
    body = {"type": "post", "content": "x", "related": [{"type": "account", "id": theirs["id"]}]}
    status, out = api.post("/v1/activities", body)
    assert status == 422 and out["error"]["code"] == "unknown_account"
    assert api.post("/v1/activities", {"type": "post", "content": "x", "related": []})[0] == 400


def test_post_activity_with_idempotency_key_replays(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    body = {"type": "post", "content": "hello", "related": [{"type": "account", "id": acc["id"]}]}
    first = api.post("/v1/activities", body, headers={"Idempotency-Key": "k1"})
    second = api.post("/v1/activities", body, headers={"Idempotency-Key": "k1"})
    assert first == second and first[0] == 201
    _, page = api.get("/v1/feed", as_="rep_a")
    assert len(page["items"]) == 1


def test_record_activity_with_activity_id_is_idempotent(api):
    _, acc = api.post("/v1/accounts", {"name": "A", "location": {"lat": 31.2, "lng": 121.4}})
    args = ("acme", "signin", "rep_a", "checked in", [("account", acc["id"])])
    a = feed.record_activity(feed.NewActivity(*args, extra={"distance_m": 12.5}, activity_id="act_signin_1"))
    b = feed.record_activity(feed.NewActivity(*args, extra={"distance_m": 99}, activity_id="act_signin_1"))
    assert a == b and a["distance_m"] == 12.5 and a["type"] == "signin"
    _, page = api.get("/v1/feed", as_="mgr_east")
    assert [i["id"] for i in page["items"]] == ["act_signin_1"]


def test_comment_notifies_the_author_but_not_self_comments(api):
    _, acc = api.post("/v1/accounts", {"name": "A"})
    _, act = api.post(
        "/v1/activities", {"type": "post", "content": "x", "related": [{"type": "account", "id": acc["id"]}]}
    )
    assert api.post(f"/v1/activities/{act['id']}/comments", {"content": "great"}, as_="mgr_east")[0] == 201
    assert api.post(f"/v1/activities/{act['id']}/comments", {"content": "thanks"}, as_="rep_a")[0] == 201
    from chalicelib.models.messages import Message, inbox_pk

    inbox = [m for m in Message.query(inbox_pk("acme", "rep_a")) if isinstance(m, Message)]
    assert [(m.kind, m.ref_type, m.ref_id, m.body) for m in inbox] == [("comment", "activity", act["id"], "great")]
    _, got = api.get(f"/v1/activities/{act['id']}", as_="rep_a")
    assert got["comment_count"] == 2


def test_require_visible_service_matches_http(api):
    from chalicelib.auth import Principal

    _, acc = api.post("/v1/accounts", {"name": "A"})
    p = Principal("rep_c", "acme", frozenset())
    with pytest.raises(NotFound):
        crm.require_visible(p, "account", acc["id"])
    seen = crm.require_visible(Principal("vp", "acme", frozenset()), "account", acc["id"])
    assert crm.to_dict(seen)["id"] == acc["id"]


def test_demo_seed_gives_each_rep_located_accounts_and_a_feed(api):
    from local.seed import seed_crm

    seed_crm()
    _, page = api.get("/v1/feed?scene=my_accounts&limit=100", as_="rep_c")
    assert len(page["items"]) == 4  # 2 accounts x (visit + stage feedback)
    _, page = api.get("/v1/feed?limit=100", as_="mgr_east")
    assert len(page["items"]) == 9  # rep_a's and rep_b's 3 accounts x 3
    acc_id = page["items"][0]["related"][0]["id"]
    kind = page["items"][0]["related"][0]["type"]
    status, obj = api.get(
        f"/v1/{kind}s/{acc_id}" if kind != "opportunity" else f"/v1/opportunities/{acc_id}", as_="mgr_east"
    )
    assert status == 200
