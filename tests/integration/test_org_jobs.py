"""Org changes at any size: each kind of change (a rep moved to another manager, a
department's new head, a department moved under another parent, a deactivation) answers
at once with a ``job_id``; the job, run in tiny steps (one object or one activity per
step), leaves every scene, list, search, nearby, statistics, sync and team-day answer equal to a tenant
built directly in the final org: with a crash injected at every step of the job (before
its work, or after its writes and before its checkpoint, alternately) plus one inside a
step's writes, and with overlapping jobs. The admins' job routes: who may read them, their shape, paging."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any, Callable

import boto3
import pytest

from chalicelib.services.access.visibility import SCENES
from chalicelib.services.flows import offboarding, orgjobs
from chalicelib.services.platform import jobs
from local.resources import JOBS_QUEUE
from local.seed import seed_org
from tests.support import Stream, today_local

SHANGHAI = {"lat": 31.2286, "lng": 121.4479}
VIEWERS = ("rep_a", "rep_b", "rep_c", "mgr_east", "mgr_west", "vp", "ceo", "admin")
LISTS = ("accounts", "contacts", "opportunities", "leads")
REP_B = {"name": "Liu Yang (rep)", "department_id": "east", "email": "rep_b@acme.example"}
EAST = {"name": "Sales East", "parent_id": "sales", "head_user_id": "mgr_east"}

# kind -> (the admin's request, the owner of the history in the final org)
CHANGES: dict[str, tuple[Callable[[Any], tuple[int, Any]], str]] = {
    "user_moved": (
        lambda api: api.put("/v1/admin/users/rep_b", {**REP_B, "manager_id": "mgr_west"}, as_="admin"),
        "rep_b",
    ),
    "department_head_changed": (
        lambda api: api.put("/v1/admin/departments/east", {**EAST, "head_user_id": "rep_a"}, as_="admin"),
        "rep_b",
    ),
    "department_moved": (
        lambda api: api.put("/v1/admin/departments/east", {**EAST, "parent_id": "hq"}, as_="admin"),
        "rep_b",
    ),
    "user_deactivated": (
        lambda api: api.post("/v1/admin/users/rep_b/deactivate", {"handover_to": "rep_c"}, as_="admin"),
        "rep_c",
    ),
}


@pytest.fixture
def stream(api, chalice_client):
    return Stream(chalice_client)


@pytest.fixture
def tiny_steps(monkeypatch):
    """One page per invocation, one activity / path / handover item per page."""
    monkeypatch.setattr(jobs, "MAX_PAGES", 1)
    for name in ("ACTIVITY_PAGE", "PATH_PAGE", "HANDOVER_PAGE"):
        monkeypatch.setattr(orgjobs, name, 1)


def create(api, path: str, body: dict[str, Any], as_: str) -> str:
    status, out = api.post(path, body, as_=as_)
    assert status == 201, out
    return out["id"]


def make_history(api, owner: str) -> None:
    """A small history: two accounts (one located, one with rep_a on its team), a contact,
    two opportunities, a lead, and activities on each."""
    one = create(api, "/v1/accounts", {"name": "Hist One", "location": SHANGHAI}, owner)
    two = create(api, "/v1/accounts", {"name": "Hist Two"}, owner)
    assert api.put(f"/v1/accounts/{two}/team/rep_a", {"role": "follow_up"}, as_=owner)[0] == 200
    contact = create(api, "/v1/contacts", {"name": "Hist Contact", "account_id": one}, owner)
    deal = {"name": "Hist Deal", "account_id": one, "stage": "qualify", "amount": "1000.00"}
    opp = create(api, "/v1/opportunities", deal, owner)
    won = create(api, "/v1/opportunities", {**deal, "name": "Hist Won", "account_id": two, "amount": "250.00"}, owner)
    assert api.patch(f"/v1/opportunities/{won}", {"stage": "won"}, as_=owner)[0] == 200
    create(api, "/v1/leads", {"name": "Hist Lead"}, owner)
    refs = [("account", one), ("account", one), ("account", two), ("contact", contact), ("opportunity", opp)]
    for n, (kind, ref) in enumerate(refs):
        body = {"type": "sales_record", "content": f"history {n}", "related": [{"type": kind, "id": ref}]}
        create(api, "/v1/activities", body, owner)


def names(api, path: str, as_: str) -> list[str]:
    status, page = api.get(path, as_=as_)
    assert status == 200, (path, page)
    return sorted(i.get("name") or i.get("content") for i in page["items"])


def views(api, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every scene, list, search, nearby and statistics answer of each viewer (by name or
    content: ids differ between two worlds)."""
    out: dict[str, Any] = {}
    for who in (v for v in VIEWERS if v not in skip):
        for scene in SCENES:
            out[f"{who} feed {scene}"] = names(api, f"/v1/feed?scene={scene}&limit=100", who)
        for kind in LISTS:
            for scope in ("all", "mine", "team"):
                out[f"{who} {kind} {scope}"] = names(api, f"/v1/{kind}?scope={scope}&limit=100", who)
        out[f"{who} search"] = names(api, "/v1/accounts?q=hist&limit=100", who)
        out[f"{who} nearby"] = names(api, f"/v1/accounts/nearby?lat={SHANGHAI['lat']}&lng={SHANGHAI['lng']}", who)
        for scope in ("all", "team", "mine"):
            for group in ("stage", "owner"):
                out[f"{who} stats {scope} {group}"] = api.get(
                    f"/v1/opportunity-stats?scope={scope}&group_by={group}", as_=who
                )[1]
        out[f"{who} sync"] = synced(api, who)
        day = api.get(f"/v1/team/day?date={today_local()}&limit=100", as_=who)[1]
        out[f"{who} team day"] = sorted((row["name"], row["depth"]) for row in day["items"])
    return out


def synced(api, who: str) -> list[tuple[str, str]]:
    """The phone's offline copy, synced from scratch: (type, name) of each object it holds
    (changes applied in order: an upsert may come again, a remove takes the object out)."""
    copy: dict[tuple[str, str], str] = {}
    since = ""
    for _ in range(20):
        status, page = api.get(f"/v1/sync?types={','.join(LISTS)}&limit=500{since}", as_=who)
        assert status == 200, page
        for change in page["changes"]:
            if change["op"] == "upsert":
                copy[change["type"], change["id"]] = change["object"]["name"]
            else:
                copy.pop((change["type"], change["id"]), None)
        if not page["has_more"]:
            return sorted((kind, name) for (kind, _), name in copy.items())
        since = f"&since={page['next']}"
    raise AssertionError("the sync did not end")


def wipe(stream: Stream) -> None:
    """An empty table and queue, then the demo org again: a second world in one test."""
    ddb, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="PK, SK"):
        for start in range(0, len(page["Items"]), 25):
            batch = [{"DeleteRequest": {"Key": k}} for k in page["Items"][start : start + 25]]
            ddb.batch_write_item(RequestItems={table: batch})
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=JOBS_QUEUE)["QueueUrl"])
    seed_org()
    stream.read()  # the wipe and the seed: history, not changes


def final_world(api, stream: Stream, kinds: tuple[str, ...]) -> dict[str, Any]:
    """The org changed first, then the history written: what the job must converge to."""
    for kind in kinds:
        assert CHANGES[kind][0](api)[0] == 200
    stream.pump()
    make_history(api, CHANGES[kinds[-1]][1])
    stream.pump()
    return views(api, skip=("rep_b",) if "user_deactivated" in kinds else ())


def crash_once(target: Any, name: str, at_call: int) -> SimpleNamespace:
    """A stand-in for a module whose ``name`` raises once, at its ``at_call``-th call."""
    calls = {"n": 0}
    real = getattr(target, name)

    def flaky(*args: Any, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == at_call:
            raise ConnectionError("the storage went away between two steps")
        return real(*args, **kw)

    return SimpleNamespace(**{name: flaky}, calls=calls)


def crash_at_every_step(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Every step of every org job crashes once and runs again on the message's next
    delivery: odd steps before their work, even steps after their writes and before the
    runner saves their cursor (the work is done, the checkpoint is not)."""
    seen: set[tuple[str, str]] = set()
    crashes = {"before": 0, "after": 0}

    def crashing(step: jobs.StepFn) -> jobs.StepFn:
        def crash_once(job: Any, position: Any) -> jobs.Page:
            here = (job.job_id, json.dumps(position, sort_keys=True))
            if here in seen:
                return step(job, position)
            seen.add(here)
            if len(seen) % 2:
                crashes["before"] += 1
                raise ConnectionError("crashed before the step's work")
            step(job, position)
            crashes["after"] += 1
            raise ConnectionError("crashed after the step's writes, before its checkpoint")

        return crash_once

    for kind, step in list(orgjobs.STEPS.items()):
        monkeypatch.setitem(orgjobs.STEPS, kind, crashing(step))
    return crashes


def job(api, job_id: str) -> dict[str, Any]:
    status, body = api.get(f"/v1/admin/jobs/{job_id}", as_="admin")
    assert status == 200, body
    return body


@pytest.mark.parametrize("kind", list(CHANGES))
def test_org_change_job_in_tiny_steps_with_a_crash_equals_a_tenant_built_in_the_final_org(
    api, stream, tiny_steps, monkeypatch, kind
):
    expected = final_world(api, stream, (kind,))
    wipe(stream)
    make_history(api, "rep_b")
    stream.pump()
    before, failed_before = stream.jobs.invocations, stream.jobs.failures
    if kind == "user_deactivated":
        monkeypatch.setattr(offboarding, "INLINE_HANDOVER", 0)  # the request hands over nothing: all in the job
        inside = crash_once(orgjobs.crm, "update_object", 3)
        monkeypatch.setattr(orgjobs, "crm", inside)
    else:
        inside = crash_once(orgjobs.feed_index, "reindex_activity", 3)
        monkeypatch.setattr(orgjobs, "feed_index", inside)
    crashes = crash_at_every_step(monkeypatch)

    status, body = CHANGES[kind][0](api)

    assert status == 200 and body["job_id"], body
    assert job(api, body["job_id"])["status"] == "queued"
    stream.pump()
    done = job(api, body["job_id"])
    assert done["status"] == "done" and done["kind"] == kind, done
    steps_run = (stream.jobs.invocations - before) - (stream.jobs.failures - failed_before)
    assert steps_run > 5, "bounded steps: one object or activity each"
    assert crashes["before"] >= 3 and crashes["after"] >= 3 and inside.calls["n"] >= 3, crashes
    crashed = crashes["before"] + crashes["after"] + 1  # every step once, and once inside a step's writes
    assert done["error_count"] == crashed and "ConnectionError" in done["last_error"], "each crash is on the job"
    assert done["progress"]["done"] == done["progress"]["total"] > 0
    assert views(api, skip=("rep_b",) if kind == "user_deactivated" else ()) == expected


def test_overlapping_jobs_over_the_same_people_leave_the_result_of_one(api, stream, tiny_steps):
    kinds = ("user_moved", "department_head_changed")
    expected = final_world(api, stream, kinds)
    wipe(stream)
    make_history(api, "rep_b")
    stream.pump()
    ids = [CHANGES[kind][0](api)[1]["job_id"] for kind in kinds]
    # a second job over the same person, as a redelivered or repeated change would start
    extra = jobs.create("acme", "user_moved", ("user", "rep_b"), {"user_id": "rep_b"}, "again").job_id

    stream.pump()  # the queue hands their steps out interleaved

    assert {job(api, i)["status"] for i in [*ids, extra]} == {"done"}
    assert views(api) == expected


def test_a_redelivered_change_record_starts_no_second_job(api, stream):
    status, body = CHANGES["user_moved"][0](api)
    assert status == 200
    records = stream.read()
    stream.deliver(records)
    stream.deliver(records)  # redelivered: the same change names the same job
    listed = api.get("/v1/admin/jobs?limit=100", as_="admin")[1]["items"]
    assert [j["id"] for j in listed] == [body["job_id"]]
    assert listed[0]["cause"] == {"type": "user", "id": "rep_b"}


def test_an_org_write_without_index_work_answers_no_job(api):
    status, body = api.put(
        "/v1/admin/users/rep_b", {**REP_B, "name": "Liu Yang", "manager_id": "mgr_east"}, as_="admin"
    )
    assert status == 200 and body["job_id"] is None
    assert api.get("/v1/admin/jobs", as_="admin")[1]["items"] == []


def test_jobs_routes_are_for_admins_and_page_newest_first(api, stream):
    made = [CHANGES[k][0](api)[1]["job_id"] for k in ("user_moved", "department_head_changed", "department_moved")]
    for who in ("rep_a", "mgr_east", "ceo", "fin"):
        assert api.get("/v1/admin/jobs", as_=who)[0] == 403
        assert api.get(f"/v1/admin/jobs/{made[0]}", as_=who)[0] == 403
    assert api.get("/v1/admin/jobs/job_nope", as_="admin")[0] == 404

    first = api.get("/v1/admin/jobs?limit=2", as_="admin")[1]
    second = api.get(f"/v1/admin/jobs?limit=2&cursor={first['next_cursor']}", as_="admin")[1]
    assert len(first["items"]) == 2 and first["next_cursor"] and second["next_cursor"] is None
    assert sorted(j["id"] for j in first["items"] + second["items"]) == sorted(made)
    assert api.get(f"/v1/admin/jobs?status=done&cursor={first['next_cursor']}", as_="admin")[0] == 422
    queued = api.get("/v1/admin/jobs?status=queued", as_="admin")[1]["items"]
    assert sorted(j["id"] for j in queued) == sorted(made)
    assert {j["progress"]["done"] for j in queued} == {0} and {j["started_at"] for j in queued} == {None}

    stream.pump()

    assert api.get("/v1/admin/jobs?status=queued", as_="admin")[1]["items"] == []
    done = api.get("/v1/admin/jobs?status=done&limit=100", as_="admin")[1]["items"]
    assert sorted(j["id"] for j in done) == sorted(made)
    assert all(j["started_at"] and j["finished_at"] and j["error_count"] == 0 for j in done)
