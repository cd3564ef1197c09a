"""One context per request (services/access/context.py): the review's three traces read
the caller's user item, the tenant's settings and each item of the caller's visibility data
once, and a request that needs none of them reads none."""

from __future__ import annotations

from chalicelib.auth import Principal
from chalicelib.services.access import context
from tests.support import draft, sign

CALLER = "T#acme#USER#rep_a|PROFILE"
SETTINGS = "T#acme#TENANT|SETTINGS"


def read_twice(counts: dict[str, int]) -> dict[str, int]:
    return {key: n for key, n in counts.items() if n > 1}


def test_sign_in_at_an_account_reads_caller_settings_and_visibility_once(api, ddb_requests):
    _, account = api.post("/v1/accounts", {"name": "Shop", "location": {"lat": 31.2286, "lng": 121.4479}})
    ddb_requests.reset()
    status, out = sign(api, account_id=account["id"])
    assert status == 201, out
    counts = ddb_requests.read_counts()
    assert read_twice(counts) == {}
    assert counts[CALLER] == 1 and counts[SETTINGS] == 1
    assert counts[f"T#acme#ACCOUNT#{account['id']}|OBJ"] == 1  # the reference check and the activity share it
    departments = {key for key in counts if "#DEPT#" in key}
    assert departments == {f"T#acme#DEPT#{d}|DEPT" for d in ("hq", "sales", "east")}


def test_expense_submit_reads_caller_settings_and_visibility_once(api, ddb_requests):
    expense = draft(api)
    ddb_requests.reset()
    status, out = api.post(f"/v1/expenses/{expense['id']}/submit")
    assert status == 200, out
    counts = ddb_requests.read_counts()
    assert read_twice(counts) == {}
    assert counts[CALLER] == 1 and counts[SETTINGS] == 1
    assert ddb_requests.calls.count("GetItem") + ddb_requests.calls.count("BatchGetItem") <= 9


def test_feed_read_reads_the_caller_and_settings_once_in_one_request(api, ddb_requests):
    sign(api)
    ddb_requests.reset()
    status, page = api.get("/v1/feed", as_="rep_a")
    assert status == 200 and page["items"], page
    counts = ddb_requests.read_counts()
    assert read_twice(counts) == {}
    assert counts[CALLER] == counts[SETTINGS] == 1  # read together at the edge (the index shards)
    assert ddb_requests.calls.count("GetItem") == 0


def test_the_context_reads_each_thing_on_first_use_and_keeps_it(aws, demo_org, ddb_requests):
    ctx = context.of(Principal("mgr_east", "acme", frozenset()))
    assert ctx.resolver.users == {}  # the visibility loader holds only what was read already
    assert ddb_requests.reads == []  # built: nothing read yet
    for _ in range(2):
        assert ctx.zone.key == ctx.settings.timezone
        assert "rep_a" in ctx.subordinate_ids
        assert ctx.caller is not None and ctx.caller.user_id == "mgr_east"
    assert read_twice(ddb_requests.read_counts()) == {}
    assert context.of(ctx) is ctx  # passed down: the same context, nothing read again
    assert context.of(Principal("mgr_east", "acme", frozenset())) is not ctx  # no cache between requests
