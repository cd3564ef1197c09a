"""The collaboration items' after-commit effects, deferred (every try failed), are finished
by their stream records: list entries, messages, feed activities."""

from __future__ import annotations

import pytest

from chalicelib.models.messages import Message
from chalicelib.services.collab import instructions, requests, tasks
from chalicelib.services.inbox.messages import inbox_pk
from tests.support import Stream


@pytest.fixture
def deferred(api, chalice_client, monkeypatch):
    """Every after-commit effect of the collaboration services is deferred to the stream."""
    stream = Stream(chalice_client)
    for module in (tasks, instructions, requests):
        monkeypatch.setattr(module, "settle", lambda *args, **kwargs: None)
    return stream


def kinds(user: str) -> list[str]:
    return sorted(m.kind for m in Message.query(inbox_pk("acme", user), Message.SK.startswith("MSG#")))


def items(api, path: str, as_: str) -> list[str]:
    return [i["id"] for i in api.get(path, as_=as_)[1]["items"]]


def test_stream_finishes_deferred_entries_messages_and_activities(api, deferred):
    acc = api.post("/v1/accounts", {"name": "Acme"})[1]
    related = [{"type": "account", "id": acc["id"]}]
    task = api.post("/v1/tasks", {"title": "T", "assignee_ids": ["rep_a"], "related": related}, as_="mgr_east")[1]
    note = api.post("/v1/instructions", {"content": "Go", "recipient_ids": ["rep_a"]}, as_="mgr_east")[1]
    asked = api.post("/v1/approval-requests", {"kind": "other", "title": "New laptop"})[1]
    assert items(api, "/v1/tasks", "rep_a") == [] and kinds("rep_a") == [] and kinds("mgr_east") == []
    deferred.pump()
    assert items(api, "/v1/tasks", "rep_a") == [task["id"]] == items(api, "/v1/tasks?role=team", "vp")
    assert items(api, "/v1/instructions?unacked=true", "rep_a") == [note["id"]]
    assert items(api, "/v1/approval-requests?role=waiting", "mgr_east") == [asked["id"]]
    assert kinds("rep_a") == ["instruction", "task_assigned"] and kinds("mgr_east") == ["approval_request"]
    assert [a["task_id"] for a in api.get("/v1/feed?types=task")[1]["items"]] == [task["id"]]
    api.post(f"/v1/instructions/{note['id']}/ack")
    api.post(f"/v1/approval-requests/{asked['id']}/approve", {}, as_="mgr_east")
    deferred.pump()
    assert items(api, "/v1/instructions?role=sent&unacked=true", "mgr_east") == []
    assert kinds("rep_a") == ["approval_result", "instruction", "task_assigned"]
    deferred.pump()  # a second delivery changes nothing
    assert kinds("rep_a") == ["approval_result", "instruction", "task_assigned"]
