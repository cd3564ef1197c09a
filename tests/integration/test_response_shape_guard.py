"""A response its own model refuses (issue 24 item 0's class: a stored value the model does
not list) is answered with the data as stored, never a 500, and counted as the metric
``ResponseShapeInvalid`` (alarmed: tests/infra/test_template.py) with a log line naming the
route; and every cursor is bound to the user it was issued to, on every list."""

from __future__ import annotations

import pytest

from chalicelib import web
from chalicelib.services.inbox import messages


@pytest.fixture
def responses_match_their_models() -> None:
    """This module checks what happens when a response does NOT match: the suite's
    automatic contract check (tests/conftest.py) is off here."""


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    names: list[str] = []
    monkeypatch.setattr(web, "count", lambda name, value=1: names.append(name))
    return names


def test_a_stored_value_the_model_does_not_list_is_answered_and_counted_not_a_500(api, counted, monkeypatch):
    monkeypatch.setattr(messages, "KINDS", (*messages.KINDS, "kind_from_the_future"))
    messages.send(messages.NewMessage("acme", "rep_a", "kind_from_the_future", "Hello"))
    messages.send(messages.NewMessage("acme", "rep_a", "comment", "A comment"))
    status, page = api.get("/v1/messages")
    assert status == 200, page
    assert [m["kind"] for m in page["items"]] == ["comment", "kind_from_the_future"]
    assert page["unread_count"] == 2
    assert counted.count("ResponseShapeInvalid") == 1
    status, _ = api.get("/v1/me")
    assert status == 200 and counted.count("ResponseShapeInvalid") == 1  # a good answer counts nothing


@pytest.mark.parametrize("path", ["/v1/departments?limit=1", "/v1/users?limit=1", "/v1/messages?limit=1"])
def test_a_cursor_issued_to_one_user_is_422_for_another(api, path):
    if "messages" in path:
        for kind in ("comment", "mention"):
            messages.send(messages.NewMessage("acme", "rep_a", kind, "x"))
    status, page = api.get(path, as_="rep_a")
    assert status == 200 and page["next_cursor"], page
    status, again = api.get(f"{path}&cursor={page['next_cursor']}", as_="rep_a")
    assert status == 200, again
    status, error = api.get(f"{path}&cursor={page['next_cursor']}", as_="rep_b")
    assert status == 422 and error["error"]["code"] == "invalid_cursor"
    status, error = api.get(f"{path}&cursor={page['next_cursor']}", as_="admin")
    assert status == 422 and error["error"]["code"] == "invalid_cursor"
