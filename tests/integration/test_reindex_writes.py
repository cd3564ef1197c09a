"""Re-index jobs write only what changes, and pace their writes per partition.

A job over people whose org did not change writes no item; a manager move writes exactly
the index entries that differ between before and after (feed, list / search / nearby,
statistics shares); a step stops once one partition key has had its budget of writes in
the current second and its continuation waits (SQS DelaySeconds) instead of sleeping; a
live activity posted between two steps of a job reaches the new manager's scene as soon as
the stream processes it."""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import boto3
import pytest

from chalicelib.services.flows import orgjobs
from chalicelib.services.org import org
from chalicelib.services.platform import jobs, pacing
from local.writelog import logging_writes
from tests.support import ids_in

REP_B = {"name": "Liu Yang (rep)", "department_id": "east", "email": "rep_b@acme.example"}
SHANGHAI = {"lat": 31.2286, "lng": 121.4479}
# what re-index jobs write (bookkeeping such as Activity, ListIndexState and Job items is
# updated in place, not put)
ENTRIES = {"FeedEntry", "ListEntry", "GeoEntry", "OppStatsShare", "DirectoryEntry", "ActivityLink"}


def create(api, path: str, body: dict[str, Any], as_: str) -> str:
    status, out = api.post(path, body, as_=as_)
    assert status == 201, out
    return out["id"]


def history(api, owner: str = "rep_b") -> list[str]:
    """A located account with rep_a on its team, an opportunity, a lead, and activities on
    each; answers the activities' ids (the lead's last: it is not in business scenes)."""
    account = create(api, "/v1/accounts", {"name": "Moved One", "location": SHANGHAI}, owner)
    assert api.put(f"/v1/accounts/{account}/team/rep_a", {"role": "follow_up"}, as_=owner)[0] == 200
    deal = {"name": "Moved Deal", "account_id": account, "stage": "qualify", "amount": "900.00"}
    opp = create(api, "/v1/opportunities", deal, owner)
    lead = create(api, "/v1/leads", {"name": "Moved Lead"}, owner)
    refs = [("account", account), ("account", account), ("opportunity", opp), ("lead", lead)]
    return [
        create(
            api,
            "/v1/activities",
            {"type": "sales_record", "content": f"visit {n}", "related": [{"type": kind, "id": ref}]},
            owner,
        )
        for n, (kind, ref) in enumerate(refs)
    ]


def index_items() -> dict[tuple[str, str], str]:
    """Every index entry in the table, by key, with its content."""
    ddb, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    out = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table):
        for item in page["Items"]:
            if item.get("entity", {}).get("S") in ENTRIES:
                out[(item["PK"]["S"], item["SK"]["S"])] = json.dumps(item, sort_keys=True)
    return out


@pytest.mark.parametrize(
    ("kind", "params"), [("user_moved", {"user_id": "rep_b"}), ("department_head_changed", {"department_id": "east"})]
)
def test_reindex_job_without_org_change_writes_no_item(api, stream, kind, params):
    history(api)
    stream.pump()
    jobs.create("acme", kind, ("user", "rep_b"), params, "nothing changed")

    with logging_writes() as log:
        assert stream.jobs.drain() > 0

    assert log.requests > 0, "the job walked the history"
    assert log.items() == 0, Counter(w.pk for w in log.writes if w.kind != "update")


def test_manager_move_job_writes_exactly_the_entries_that_change(api, stream):
    acts = history(api)
    stream.pump()
    status, body = api.put("/v1/admin/users/rep_b", {**REP_B, "manager_id": "mgr_west"}, as_="admin")
    assert status == 200 and body["job_id"]
    stream.deliver(stream.read())  # the change's records: the same job, no re-index
    before = index_items()

    with logging_writes() as log:
        assert stream.jobs.drain() > 0

    after = index_items()
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    assert len(changed) > len(acts), "the new manager's scenes, lists and statistics"
    assert log.items() == len(changed)
    assert {pk for pk, _ in changed} >= {w.pk for w in log.writes if w.kind != "update"}
    assert set(acts[:-1]) <= ids_in(api, "mgr_west", "subordinates_business")
    assert set(acts) <= ids_in(api, "mgr_west", "all")
    assert not set(acts) & ids_in(api, "mgr_east", "subordinates_business"), "they left the old manager's scene"


class Clock:
    """The step's clock at a standstill (every write in one second) unless moved."""

    def __init__(self) -> None:
        self.left = 60_000

    def __call__(self) -> int:
        return self.left


def run_to_end(monkeypatch, clock: Clock) -> list[tuple[str, Counter[str], int]]:
    """Every step of the queued job through the step runner; per step: its outcome, its
    writes per partition key, and the delay its continuation was sent with."""
    delays: list[int] = []
    real = jobs.enqueue

    def enqueue(tenant_id: str, job_id: str, step: int = 0, delay_s: int = 0) -> None:
        delays.append(delay_s)
        real(tenant_id, job_id, step)  # at once: the test does not wait out the delay

    monkeypatch.setattr(jobs, "enqueue", enqueue)
    steps = []
    for _ in range(200):
        message = stream_message()
        if message is None:
            return steps
        with logging_writes() as log:
            outcome = jobs.run(message, 1, orgjobs.STEPS, clock)
        steps.append((outcome, log.per_key(("put", "delete")), delays[-1] if outcome in ("paced", "continued") else -1))
    raise AssertionError("the job did not end")


def stream_message() -> Any:
    sqs = boto3.client("sqs")
    url = jobs._queue_url()
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", [])
    if not got:
        return None
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    return json.loads(got[0]["Body"])


def test_job_step_stops_at_a_partitions_budget_and_continues_after_a_delay(api, stream, monkeypatch):
    acts = history(api)
    stream.pump()
    monkeypatch.setattr(pacing, "BUDGET", 2)  # writes per key and second
    monkeypatch.setattr(orgjobs, "ACTIVITY_PAGE", 1)
    status, body = api.put("/v1/admin/users/rep_b", {**REP_B, "manager_id": "mgr_west"}, as_="admin")
    assert status == 200

    steps = run_to_end(monkeypatch, Clock())

    paced = [s for s in steps if s[0] == "paced"]
    assert paced and {delay for _, _, delay in paced} == {pacing.DELAY_S}, steps
    feed = [n for _, per_key, _ in steps for pk, n in per_key.items() if "#FEED#" in pk]
    assert max(feed) <= 2 + 1, "a step passes the budget by at most one page's write to a key (one activity)"
    assert steps[-1][0] == "done"
    assert set(acts[:-1]) <= ids_in(api, "mgr_west", "subordinates_business")


def test_job_step_on_a_moving_clock_is_not_paced_below_the_budget(api, stream, monkeypatch):
    history(api)
    stream.pump()
    monkeypatch.setattr(pacing, "BUDGET", 2)
    monkeypatch.setattr(orgjobs, "ACTIVITY_PAGE", 1)
    clock = Clock()
    real_charge = pacing.Pacer.charge

    def charge_then_tick(self: pacing.Pacer, keys: Any) -> None:
        real_charge(self, keys)
        clock.left -= 1_000  # each write batch lands in a second of its own

    monkeypatch.setattr(pacing.Pacer, "charge", charge_then_tick)
    assert api.put("/v1/admin/users/rep_b", {**REP_B, "manager_id": "mgr_west"}, as_="admin")[0] == 200

    steps = run_to_end(monkeypatch, clock)

    assert [s[0] for s in steps] == ["done"], "no key reached its budget within one second"


def test_live_activity_posted_between_two_job_steps_reaches_the_new_managers_scene_at_once(api, stream, monkeypatch):
    history(api)
    stream.pump()
    monkeypatch.setattr(jobs, "MAX_PAGES", 1)
    monkeypatch.setattr(orgjobs, "ACTIVITY_PAGE", 1)
    status, body = api.put("/v1/admin/users/rep_b", {**REP_B, "manager_id": "mgr_west"}, as_="admin")
    assert status == 200
    stream.deliver(stream.read())
    assert stream.jobs.deliver(stream.jobs.receive())  # one step of the job
    account = create(api, "/v1/accounts", {"name": "Live One"}, "rep_b")
    live = create(
        api,
        "/v1/activities",
        {"type": "sales_record", "content": "live", "related": [{"type": "account", "id": account}]},
        "rep_b",
    )

    stream.deliver(stream.read())  # the stream, not the job

    assert api.get(f"/v1/admin/jobs/{body['job_id']}", as_="admin")[1]["status"] != "done"
    for viewer, scene in (("mgr_west", "subordinates_business"), ("mgr_west", "all"), ("vp", "all"), ("rep_b", "all")):
        assert live in ids_in(api, viewer, scene), (viewer, scene)
    assert live not in ids_in(api, "mgr_east", "subordinates_business")


def test_manager_move_subtree_follows_in_the_job_through_a_crash_mid_subtree(api, stream, monkeypatch):
    monkeypatch.setattr(org, "INLINE_SUBTREE", 0)  # the request moves no subordinate: all in the job
    monkeypatch.setattr(orgjobs, "PATH_PAGE", 1)
    monkeypatch.setattr(jobs, "MAX_PAGES", 1)
    calls, real = Counter(), org.save_user

    def flaky(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # 1: mgr_east in the request, 2: the first subordinate, 3: the second
            raise ConnectionError("the storage went away mid-subtree")
        return real(*args, **kw)

    monkeypatch.setattr(org, "save_user", flaky)
    mgr = {"name": "Wang Fang (East manager)", "department_id": "east", "manager_id": "ceo"}

    status, body = api.put("/v1/admin/users/mgr_east", mgr, as_="admin")

    assert status == 200 and body["job_id"]
    assert org.get_user("acme", "rep_a").path == "/ceo/vp/mgr_east/rep_a/", "the subtree follows in the job"
    stream.pump()
    done = api.get(f"/v1/admin/jobs/{body['job_id']}", as_="admin")[1]
    assert done["status"] == "done" and done["error_count"] == 1 and "ConnectionError" in done["last_error"]
    assert {org.get_user("acme", u).path for u in ("rep_a", "rep_b")} == {
        "/ceo/mgr_east/rep_a/",
        "/ceo/mgr_east/rep_b/",
    }
    assert set(org.subordinate_ids("acme", "vp")) == {"mgr_west", "rep_c"}
    assert {r["id"] for r in api.get("/v1/team?limit=100", as_="vp")[1]["items"]} == {"mgr_west", "rep_c"}
