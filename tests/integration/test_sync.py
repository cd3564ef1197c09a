"""Offline sync: first sync, incremental changes, removes, the cursor's 410s."""

from __future__ import annotations

import pytest

from chalicelib.services.sync import changelog
from tests.integration.test_feed_reindex import Stream


@pytest.fixture
def stream(api, chalice_client):
    return Stream(chalice_client)


@pytest.fixture(autouse=True)
def no_lag(monkeypatch):
    monkeypatch.setattr(changelog, "SAFE_LAG_S", 0.0)


def test_smoke(api, stream):
    st, acc = api.post("/v1/accounts", {"name": "A"})
    assert st == 201
    stream.pump()
    st, page = api.get("/v1/sync")
    assert st == 200, page
    print(page)
    st, page2 = api.get(f"/v1/sync?since={page['next']}")
    assert st == 200, page2
    print(page2)
    st, acc2 = api.patch(f"/v1/accounts/{acc['id']}", {"name": "A2"})
    stream.pump()
    st, page3 = api.get(f"/v1/sync?since={page2['next']}")
    print(page3)
    st, page4 = api.get(f"/v1/sync?since={page2['next']}", as_="rep_b")
    print(st, page4)
