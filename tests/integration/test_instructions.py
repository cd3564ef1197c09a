"""Instructions: recipients, acknowledgement receipts, the author's view of who is pending."""

from __future__ import annotations

from chalicelib.models.messages import Message
from chalicelib.services.inbox.messages import inbox_pk


def inbox(user: str, kind: str) -> list[Message]:
    return [m for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")) if m.kind == kind]


def send(api, as_="mgr_east", **fields) -> dict:
    body = {"content": "Visit every key account before Friday", "recipient_ids": ["rep_a", "rep_b"], **fields}
    status, made = api.post("/v1/instructions", body, as_=as_)
    assert status == 201, made
    return made


def ids(api, path: str, as_: str) -> list[str]:
    status, page = api.get(path, as_=as_)
    assert status == 200, page
    return [i["id"] for i in page["items"]]


def test_instruction_reaches_each_recipient_and_the_author_sees_who_is_pending(api):
    made = send(api)
    assert made["pending_ids"] == ["rep_a", "rep_b"] and made["acks"] == []
    assert (
        [m.ref_id for m in inbox("rep_a", "instruction")]
        == [made["id"]]
        == [m.ref_id for m in inbox("rep_b", "instruction")]
    )
    path = f"/v1/instructions/{made['id']}"
    status, acked = api.post(path + "/ack", as_="rep_a")
    assert status == 200 and [a["user_id"] for a in acked["acks"]] == ["rep_a"] and acked["pending_ids"] == []
    again = api.post(path + "/ack", as_="rep_a")[1]
    assert again["acks"] == acked["acks"]  # idempotent: the first time stays
    for viewer in ("mgr_east", "vp"):
        status, seen = api.get(path, as_=viewer)
        assert status == 200 and seen["pending_ids"] == ["rep_b"] and len(seen["acks"]) == 1, viewer
    status, own = api.get(path, as_="rep_b")
    assert status == 200 and own["acks"] == [] and own["pending_ids"] == ["rep_b"]
    assert api.get(path, as_="rep_c")[0] == 404
    status, body = api.post(path + "/ack", as_="mgr_east")
    assert (status, body["error"]["code"]) == (403, "not_recipient")


def test_unacked_lists_follow_acknowledgements(api):
    first, second = send(api), send(api, recipient_ids=["rep_a"])
    assert ids(api, "/v1/instructions?role=received", "rep_a") == [second["id"], first["id"]]
    assert ids(api, "/v1/instructions?role=sent&unacked=true", "mgr_east") == [second["id"], first["id"]]
    api.post(f"/v1/instructions/{second['id']}/ack", as_="rep_a")
    assert ids(api, "/v1/instructions?role=received&unacked=true", "rep_a") == [first["id"]]
    assert ids(api, "/v1/instructions?role=sent&unacked=true", "mgr_east") == [first["id"]]
    assert ids(api, "/v1/instructions?role=sent", "mgr_east") == [second["id"], first["id"]]
    status, page = api.get("/v1/instructions?role=received&limit=1", as_="rep_a")
    assert (
        page["next_cursor"]
        and api.get(f"/v1/instructions?role=sent&cursor={page['next_cursor']}", as_="rep_a")[0] == 422
    )


def test_addressing_refuses_oneself_outsiders_and_unknown_users_writing_nothing(api):
    for recipients, code in (
        (["mgr_east"], "recipient_not_allowed"),
        (["rep_c"], "recipient_not_allowed"),
        (["ghost"], "unknown_user"),
    ):
        status, body = api.post("/v1/instructions", {"content": "x", "recipient_ids": recipients}, as_="mgr_east")
        assert (status // 100, body["error"]["code"]) == (4, code), recipients
    assert ids(api, "/v1/instructions?role=sent", "mgr_east") == []
    assert inbox("rep_c", "instruction") == []
    assert api.post("/v1/instructions", {"content": "x", "recipient_ids": ["rep_c"]}, as_="admin")[0] == 201


def test_instruction_list_page_cost_does_not_grow_with_the_org(api, ddb_requests):
    from chalicelib.services.org import org

    for _ in range(3):
        send(api)

    def cost() -> int:
        ddb_requests.reset()
        assert api.get("/v1/instructions?role=received&limit=2", as_="rep_a")[0] == 200
        return ddb_requests.total

    before = cost()
    for n in range(30):
        org.put_user("acme", org.NewUser(f"extra_{n}", f"Extra {n}", "east", "mgr_east", None, None))
    send(api, recipient_ids=[f"extra_{n}" for n in range(30)])
    send(api)
    assert cost() == before <= 4
