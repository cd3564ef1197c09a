"""Information center: send exactly once, inbox paging, unread filter and counter, read, read-all."""

from __future__ import annotations

import pytest

from chalicelib.models.messages import InboxCounter, Message
from chalicelib.services.inbox import messages
from chalicelib.vocabulary import MESSAGE_KINDS


def send(n: int, user: str = "rep_a", tenant: str = "acme", kind: str = "comment") -> list[str]:
    return [
        messages.send(messages.NewMessage(tenant, user, kind, f"message {i}", "body", "plan", f"p{i}")).message_id
        for i in range(n)
    ]


def test_send_same_dedupe_key_twice_delivers_once_and_counts_once(api):
    first = messages.send(messages.NewMessage("acme", "rep_a", "plan_reminder", "R", dedupe_key="plan_reminder:p1:t"))
    second = messages.send(messages.NewMessage("acme", "rep_a", "plan_reminder", "R", dedupe_key="plan_reminder:p1:t"))
    assert first is not None and second is None
    status, inbox = api.get("/v1/messages")
    assert status == 200
    assert [m["id"] for m in inbox["items"]] == [first.message_id]
    assert inbox["unread_count"] == 1


def test_send_unknown_kind_is_refused(aws):
    with pytest.raises(ValueError):
        messages.send(messages.NewMessage("acme", "rep_a", "gossip", "x"))


def test_list_messages_newest_first_pages_with_cursor(api):
    ids = send(7)
    seen, cursor = [], None
    while True:
        status, page = api.get("/v1/messages?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200
        assert len(page["items"]) == 3 or not page["next_cursor"]
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == list(reversed(ids))
    item = page["items"][0]
    assert set(item) == {"id", "kind", "title", "body", "ref", "created_at", "read"}
    assert item["ref"]["type"] == "plan"


def test_list_messages_unread_filters_and_read_filter_pages_full(api):
    ids = send(6)
    for message_id in ids[::2]:
        assert api.post(f"/v1/messages/{message_id}/read")[0] == 200
    _, unread = api.get("/v1/messages?unread=true")
    assert [m["id"] for m in unread["items"]] == list(reversed(ids[1::2]))
    assert unread["unread_count"] == 3
    _, read_page = api.get("/v1/messages?unread=false&limit=2")
    assert [m["id"] for m in read_page["items"]] == [ids[4], ids[2]]
    _, rest = api.get(f"/v1/messages?unread=false&limit=2&cursor={read_page['next_cursor']}")
    assert [m["id"] for m in rest["items"]] == [ids[0]] and rest["next_cursor"] is None


def test_read_message_twice_decrements_unread_once(api):
    [message_id] = send(1)
    send(1)
    first = api.post(f"/v1/messages/{message_id}/read")
    second = api.post(f"/v1/messages/{message_id}/read")
    assert first[0] == second[0] == 200
    assert first[1]["read"] is True and second[1]["unread_count"] == 1


def test_read_message_with_stale_view_under_a_race_decrements_once(api, monkeypatch):
    """Two requests both load the message unread; both try to flip it: the transaction's
    condition lets only one decrement the counter."""
    [message_id] = send(1)
    stale = messages.get_message("acme", "rep_a", message_id)
    messages.mark_read("acme", "rep_a", message_id)
    message, flipped = messages._mark_read("acme", "rep_a", stale)  # the racing twin
    assert message.read is True and flipped is False
    assert messages.unread_count("acme", "rep_a") == 0
    assert InboxCounter.get("T#acme#INBOX#rep_a", "COUNTER").unread == 0


def test_read_someone_elses_message_is_404(api):
    [message_id] = send(1, user="rep_b")
    status, body = api.post(f"/v1/messages/{message_id}/read", as_="rep_a")
    assert status == 404
    assert messages.unread_count("acme", "rep_b") == 1
    status, _ = api.post(f"/v1/messages/{message_id}/read", as_="boss", tenant="globex")
    assert status == 404


def test_read_all_marks_every_unread_and_zeroes_counter_idempotently(api):
    send(60)
    status, body = api.post("/v1/messages/read-all")
    assert status == 200 and body == {"marked_read": 60, "unread_count": 0}
    status, body = api.post("/v1/messages/read-all")
    assert status == 200 and body == {"marked_read": 0, "unread_count": 0}
    _, inbox = api.get("/v1/messages?unread=true")
    assert inbox["items"] == [] and inbox["unread_count"] == 0
    assert all(m.read for m in Message.query("T#acme#INBOX#rep_a", Message.SK.startswith("MSG#")))


def test_read_all_racing_a_single_read_keeps_counter_exact(api, monkeypatch):
    ids = send(5)
    original = messages.Message.gsi1.query

    def query_then_someone_reads_one(*args, **kwargs):
        found = list(original(*args, **kwargs))
        messages.mark_read("acme", "rep_a", ids[2])  # lands between read-all's query and its write
        return iter(found)

    monkeypatch.setattr(messages.Message.gsi1, "query", query_then_someone_reads_one)
    assert messages.mark_all_read("acme", "rep_a") == 4
    assert messages.unread_count("acme", "rep_a") == 0


def test_inbox_is_per_user_and_per_tenant(api):
    send(2, user="rep_a")
    send(1, user="rep_x", tenant="globex")
    _, a = api.get("/v1/messages", as_="rep_a")
    _, x = api.get("/v1/messages", as_="rep_x", tenant="globex")
    _, b = api.get("/v1/messages", as_="rep_b")
    assert (len(a["items"]), len(x["items"]), len(b["items"])) == (2, 1, 0)
    assert b["unread_count"] == 0


def test_list_messages_with_forged_cursor_is_422(api):
    send(3)
    status, body = api.get("/v1/messages?cursor=abc")
    assert status == 422 and body["error"]["code"] == "invalid_cursor"
    _, page = api.get("/v1/messages?limit=1")
    status, _ = api.get(f"/v1/messages?limit=1&unread=true&cursor={page['next_cursor']}")
    assert status == 422


@pytest.mark.parametrize("kind", MESSAGE_KINDS)
def test_list_messages_answers_every_kind_a_service_may_send(api, kind):
    """Every kind in the one vocabulary goes through the route and its response model
    (a kind the model lacked made every later inbox read of its recipient a 500)."""
    sent = messages.send(messages.NewMessage("acme", "rep_a", kind, "title", "body", "plan", "p1"))
    status, inbox = api.get("/v1/messages")
    assert status == 200
    assert [(m["id"], m["kind"]) for m in inbox["items"]] == [(sent.message_id, kind)]
