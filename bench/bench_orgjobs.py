"""Org changes as jobs at the issue's sizes (#23 item 5).

A tenant with a 5-level reporting tree (CEO, VPs, directors, managers, reps) and four
levels of departments, and three org changes, each run as its job through the step runner:

- one rep with a year of history (750 objects, 2,400 activities) moved to a manager under
  the other VP;
- a department-head change over 20 reps with 300 activities each (6,000 activities);
- a department of 200 users (one object and two activities each) moved under another parent.

The history is written straight into moto with the entries the projections compute for it
(``desired_items``, ``activity_entries``: the index a tenant built in this org has), so the
section runs in minutes; the opportunities' statistics through ``oppstats.recompute``.

Modelled, not timed: each DynamoDB request costs ``MS_PER_REQUEST`` of the job worker's
deployed timeout (moto's in-process latency says nothing about DynamoDB's). An invocation's
length is its requests x 5 ms; the job's duration is the sum of its invocations plus the
delays of paced continuations; a write happens at its request's modelled time, and the
writes per partition key are counted per modelled second over the whole job. "Entries that
change" is the difference of the table's index entries (feed, list, search, nearby,
directory, statistics shares, links) before and after the job; "items written" counts the
job's puts and deletes (for a department move they include the change itself: each
member's ``dept_path`` and each sub-department's path, which are not index entries); the
index's bookkeeping (an activity's or object's index state, the
statistics buckets' counters, the job item) is updated in place and shown apart.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from bench.common import moto_stack, moto_table, straight_into_moto, table, verdict

TENANT = "bench"
MS_PER_REQUEST = 5
TIMEOUT_MS = 60_000  # the job worker's deployed timeout (infra/ messaging.JOB_WORKER_TIMEOUT_S)
REP_OBJECTS, REP_ACTIVITIES = 750, 2_400
HEAD_REPS, HEAD_OBJECTS, HEAD_ACTIVITIES = 20, 30, 300  # per rep
MOVED_USERS = 200
ENTRIES = {"FeedEntry", "ListEntry", "GeoEntry", "OppStatsShare", "DirectoryEntry", "ActivityLink"}
KINDS = ("account", "opportunity", "contact", "lead")

# department: (parent, head); user: (department, manager)
DEPARTMENTS = {
    "hq": (None, "ceo"),
    "div1": ("hq", "vp1"),
    "div2": ("hq", "vp2"),
    "reg1": ("div1", "dir1"),
    "reg2": ("div2", "dir2"),
    "team1": ("reg1", "mgr1"),
    "team2": ("reg1", "mgr2"),
    "team3": ("reg2", "mgr3"),
    "team4": ("reg2", "mgr4"),
}
LEADERS = {
    "ceo": ("hq", None),
    "vp1": ("div1", "ceo"),
    "vp2": ("div2", "ceo"),
    "dir1": ("reg1", "vp1"),
    "dir2": ("reg2", "vp2"),
    "mgr1": ("team1", "dir1"),
    "mgr2": ("team2", "dir1"),
    "mgr2b": ("team2", "dir1"),
    "mgr3": ("team3", "dir2"),
    "mgr4": ("team4", "dir2"),
}


# ---------------------------------------------------------------- the tenant
def _org() -> None:
    from chalicelib.services.org import org

    for dept, (parent, _head) in DEPARTMENTS.items():
        org.put_department(TENANT, dept, dept, parent, None)
    for user, (dept, manager) in LEADERS.items():
        org.put_user(TENANT, org.NewUser(user, user, dept, manager, None, None))
    for dept, (parent, head) in DEPARTMENTS.items():
        org.put_department(TENANT, dept, dept, parent, head)
    org.put_user(TENANT, org.NewUser("rep_x", "rep_x", "team1", "mgr1", None, None))
    for n in range(HEAD_REPS):
        org.put_user(TENANT, org.NewUser(f"t2_{n}", f"t2_{n}", "team2", "mgr2", None, None))
    for n in range(MOVED_USERS):
        org.put_user(TENANT, org.NewUser(f"t3_{n}", f"t3_{n}", "team3", "mgr3", None, None))


def _object(kind: str, owner: str, n: int, account: str) -> Any:
    from chalicelib.ids import new_id
    from chalicelib.models.crm import MODELS

    now = f"2026-01-01T00:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n % 10}00000Z"
    fields: dict[str, Any] = {"name": f"{kind} {owner} {n}", "owner_id": owner, "created_at": now, "updated_at": now}
    if kind == "opportunity":
        fields |= {"account_id": account, "stage": "qualify", "amount": "100.00", "currency": "CNY"}
    elif kind == "contact":
        fields |= {"account_id": account}
    obj = MODELS[kind](tenant_id=TENANT, object_id=new_id(kind[:3]), version=1, **fields)
    obj.set_keys()
    return obj


def _history(owner: str, objects: int, activities: int, resolver: Any, put: Any) -> list[str]:
    """``objects`` objects of ``owner`` and ``activities`` activities spread over them, with
    their index as the projections compute it; answers the opportunities' ids."""
    from chalicelib.models.feed import Activity
    from chalicelib.models.lists import ListIndexState
    from chalicelib.services.crm import list_index
    from chalicelib.services.feed import feed_index

    made, account, opps = [], "", []
    for n in range(objects):
        obj = _object(KINDS[n % 4], owner, n, account)
        account = obj.object_id if obj.object_type == "account" else account
        opps += [obj.object_id] if obj.object_type == "opportunity" else []
        put(obj)
        resolver.objects[(obj.object_type, obj.object_id)] = obj
        resolver.load_objects([(obj.object_type, obj.object_id)])  # its people (the object is known)
        items = list_index.desired_items(resolver, obj)
        for item in items.values():
            put(item)
        state = ListIndexState(tenant_id=TENANT, object_type=obj.object_type, object_id=obj.object_id)
        state.keys, state.state, state.rev, state.digest = set(items), "ok", 2, list_index.digest(items.values())
        state.set_keys()
        put(state)
        made.append(obj)
    for k in range(activities):
        obj = made[k % objects]
        entries = resolver.activity_entries(owner, [obj], "sales_record")
        at = f"2026-02-01T{k // 3600 % 24:02d}:{k // 60 % 60:02d}:{k % 60:02d}.000Z"
        activity_id = f"act_{owner}_{k:05d}"
        indexed = feed_index.indexed_keys(activity_id, entries, resolver.index_shards)
        activity = Activity(
            tenant_id=TENANT,
            activity_id=activity_id,
            type="sales_record",
            content=f"visit {k}",
            author_id=owner,
            related=[{"type": obj.object_type, "id": obj.object_id, "name": obj.name}],
            occurred_at=at,
            created_at=at,
            indexed=indexed,
            index_state="ok",
            index_rev=2,
        )
        activity.set_keys()
        feed = [feed_index.entry_item(activity, feed_index.parse_indexed(k)) for k in sorted(indexed)]
        for item in [activity, *feed_index.link_items(activity), *feed]:
            put(item)
    return opps


def _tenant() -> None:
    from chalicelib.services.access.visibility import Resolver
    from chalicelib.services.performance import oppstats

    _org()
    resolver = Resolver(TENANT)
    with straight_into_moto() as put:
        opps = _history("rep_x", REP_OBJECTS, REP_ACTIVITIES, resolver, put)
        for n in range(HEAD_REPS):
            opps += _history(f"t2_{n}", HEAD_OBJECTS, HEAD_ACTIVITIES, resolver, put)
        for n in range(MOVED_USERS):
            opps += _history(f"t3_{n}", 1, 2, resolver, put)
    for opp in opps:
        oppstats.recompute(TENANT, opp)


# ---------------------------------------------------------------- measuring
def _index() -> dict[tuple[str, str], str]:
    """Every index entry in moto's table, by key, with its content."""
    out = {}
    for hash_key, items in moto_table().items.items():
        for range_key, item in items.items():
            entity = item.attrs.get("entity")
            if entity is not None and entity.value in ENTRIES:
                content = sorted((name, value.type, repr(value.value)) for name, value in item.attrs.items())
                out[(str(hash_key.value), str(range_key.value))] = json.dumps(content)
    return out


def _invoke(log: Any, body: dict[str, Any]) -> tuple[int, int, str]:
    """One invocation of the step runner with the modelled clock: (its first request's
    number, its requests, its outcome)."""
    from chalicelib.services.flows import orgjobs
    from chalicelib.services.platform import jobs

    first = log.requests
    outcome = jobs.run(body, 1, orgjobs.STEPS, lambda: TIMEOUT_MS - MS_PER_REQUEST * (log.requests - first))
    return first, log.requests - first, outcome


def _run_job(log: Any) -> dict[str, Any]:
    """Every step message through the step runner; a paced continuation is sent at once
    and its delay added to the modelled time."""
    import boto3

    from chalicelib.services.platform import jobs

    sqs, url = boto3.client("sqs"), jobs._queue_url()
    delays: list[int] = []
    real = jobs.enqueue

    def enqueue(tenant_id: str, job_id: str, step: int = 0, delay_s: int = 0) -> None:
        delays.append(delay_s)
        real(tenant_id, job_id, step)

    jobs.enqueue = enqueue  # type: ignore[assignment]
    clock_ms, per_second, invocations, outcomes = 0, Counter[tuple[str, int]](), [], Counter[str]()
    try:
        while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            seen = len(log.writes)
            first, requests, outcome = _invoke(log, json.loads(got[0]["Body"]))
            for w in log.writes[seen:]:
                per_second[(w.pk, (clock_ms + (w.request - first) * MS_PER_REQUEST) // 1000)] += 1
            invocations.append(requests)
            outcomes[outcome] += 1
            clock_ms += requests * MS_PER_REQUEST + (1000 * delays[-1] if outcome == "paced" else 0)
    finally:
        jobs.enqueue = real  # type: ignore[assignment]
    return {"invocations": invocations, "outcomes": outcomes, "ms": clock_ms, "per_second": per_second}


def _change(name: str, act: Any) -> dict[str, Any]:
    from local.writelog import logging_writes

    with logging_writes() as log:
        act()
        request = log.requests
        before = _index()
        log.reset()
        job = _run_job(log)
        after = _index()
    changed = sum(1 for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    hottest = max(job["per_second"].items(), key=lambda kv: kv[1], default=(("-", 0), 0))
    return {
        "name": name,
        "request": request,
        "requests": sum(job["invocations"]),
        "written": log.items(),
        "updated": log.items(("update",)),
        "changed": changed,
        "longest": max(job["invocations"], default=0),
        "invocations": len(job["invocations"]),
        "outcomes": dict(job["outcomes"]),
        "hot": hottest[1],
        "hot_pk": hottest[0][0],
        "ms": job["ms"],
    }


def _measure() -> list[dict[str, Any]]:
    from chalicelib.auth import Principal
    from chalicelib.services.flows import orgjobs

    admin = Principal("ceo", TENANT, frozenset({"admin"}))
    with moto_stack():
        backend = moto_table()
        backend.stream_shard = None  # no consumer runs here: the jobs are what is measured
        _tenant()
        move = {"name": "rep_x", "department_id": "team1", "manager_id": "mgr3"}
        head = {"name": "team2", "parent_id": "reg1", "head_user_id": "mgr2b"}
        moved = {"name": "team3", "parent_id": "reg1", "head_user_id": "mgr3"}
        return [
            _change(
                f"a rep with {REP_OBJECTS} objects, {REP_ACTIVITIES:,} activities to another manager",
                lambda: orgjobs.put_user(admin, "rep_x", move),
            ),
            _change(
                f"a new head over {HEAD_REPS} reps x {HEAD_ACTIVITIES} activities",
                lambda: orgjobs.put_department(admin, "team2", head),
            ),
            _change(
                f"a department of {MOVED_USERS} users (2 activities each) under another parent",
                lambda: orgjobs.put_department(admin, "team3", moved),
            ),
        ]


def _row(m: dict[str, Any]) -> list[Any]:
    longest_s = m["longest"] * MS_PER_REQUEST / 1000
    return [
        m["name"],
        m["request"],
        f"{m['requests']:,} in {m['invocations']} ({', '.join(f'{k} {v}' for k, v in sorted(m['outcomes'].items()))})",
        f"{longest_s:.1f} s ({100 * longest_s * 1000 / TIMEOUT_MS:.0f}%)",
        f"{m['hot']} ({m['hot_pk'].split('#', 2)[-1][:40]})",
        f"{m['ms'] / 1000:.0f} s",
        f"{m['written']:,} / {m['changed']:,} = {m['written'] / max(m['changed'], 1):.2f}x",
        f"{m['updated']:,}",
    ]


def run() -> str:
    runs = _measure()
    ok = all(
        m["longest"] * MS_PER_REQUEST <= TIMEOUT_MS / 2
        and m["hot"] <= 500
        and m["changed"] > 0
        and m["written"] <= 1.2 * m["changed"]
        and m["outcomes"].get("done") == 1
        for m in runs
    )
    headers = [
        "org change",
        "request (DynamoDB requests)",
        "job: requests in invocations",
        f"longest invocation (of {TIMEOUT_MS // 1000} s)",
        "most writes to one partition in one second",
        "job duration with pacing",
        "items written / entries that change",
        "index state updates",
    ]
    return (
        "## Org change as a job, at the issue's sizes (#23)\n\n"
        f"A 5-level tree; modelled at {MS_PER_REQUEST} ms per DynamoDB request against the job worker's "
        f"{TIMEOUT_MS // 1000} s timeout (see bench/bench_orgjobs.py for what is counted how).\n\n"
        + table(headers, [_row(m) for m in runs])
        + "\n\n"
        + verdict(
            ok,
            "every invocation within half the worker's timeout, no partition above 500 writes/s (50% of "
            "DynamoDB's per-partition limit), items written within 1.2x of the entries that change, each job done",
        )
        + "\n"
    )
