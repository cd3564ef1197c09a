"""Scale: schedules that fan out and aggregates that do not run hot (issue 29).

Drives the real code in-process against moto, with a simulated clock and a write counter
per partition key and simulated second:
- **digest**: ``tenants`` small tenants sharing one time zone, fired at their 08:00: every
  manager gets exactly one digest in that one firing;
- **reminders**: ``reminders`` due in one minute over ``tenants`` tenants, through two
  minute firings of the dispatcher: every one delivered once, within 90 s of its due time;
- **check-ins**: ``per_second`` check-ins a second for ``seconds`` seconds under one root
  department (the stream consumer's exactly-once transaction): exact actuals. Beside it, the
  tenant-wide feed partition (the admins' ``*`` scene ``all``, which every check-in's
  sign-in activity enters) at 1,000 check-ins a second with the index on 1 shard and on 16
  (``admin_feed_peaks``: the real shard choice and key builders, no requests).

Simulated time: each AWS request costs ``LATENCY_S`` of its invocation (an SQS batch send
``SQS_S``); the reminder worker's 8 threads divide its time by 8. Tasks run one after the
other here but are placed on the worker's ``CONCURRENCY`` slots in simulated time, each
write counted in the second its task reached. "Hottest" is the most writes any one
partition key took in one simulated second, in WCU (a transactional write costs 2 per 1 KB
item), compared with DynamoDB's 1,000 WCU per partition.

``run(sizes)`` at small sizes is what tests/integration/test_bench_scale.py runs, so the
benchmark cannot rot; ``python -m bench scale`` runs the issue's sizes once.
"""

from __future__ import annotations

import heapq
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

LATENCY_S = 0.010  # a DynamoDB request, as seen from Lambda in-region
SQS_S = 0.015  # an SQS (batch) request
CONCURRENCY = 50  # the fan-out worker's reserved concurrency (chalicelib/limits.py)
PARTITION_WCU = 1000  # DynamoDB's per-partition write limit a second
PARTITION_RCU = 3000
RCU_PER_READ = 0.5  # an eventually consistent read of an item under 4 KB
FIRING = datetime(2030, 3, 14, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai
ZONE = "Asia/Shanghai"
CHECK_IN_AT = "2030-03-14T01:00:00Z"  # 09:00 in Asia/Shanghai
WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem"}
BIG = {"tenants": 2000, "reminders": 20_000, "reminder_tenants": 3000, "per_second": 1000, "seconds": 2}


@dataclass
class Meter:
    """Requests and writes per partition key and simulated second."""

    clock: float = 0.0  # simulated seconds since the scenario's start
    parallel: int = 1  # threads dividing one invocation's time
    requests: int = 0
    writes: Counter = field(default_factory=Counter)  # (pk, second) -> WCU
    reads: Counter = field(default_factory=Counter)  # (pk, second) -> items read
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, operation: str, kwargs: dict[str, Any]) -> None:
        with self.lock:
            self.requests += 1
            self.clock += LATENCY_S / self.parallel
            second = int(self.clock)
            if operation in WRITE_OPS:
                self.writes[(_pk(kwargs.get("Key") or kwargs.get("Item")), second)] += 1
                self._index_writes(kwargs.get("Item"), second)
            elif operation == "TransactWriteItems":
                for entry in kwargs.get("TransactItems", []):
                    for kind, op in entry.items():
                        if kind != "ConditionCheck":  # a check reads; puts, updates, deletes write twice
                            self.writes[(_pk(op.get("Key") or op.get("Item")), second)] += 2
                            self._index_writes(op.get("Item"), second)
            elif operation == "GetItem":
                self.reads[(_pk(kwargs.get("Key")), second)] += 1
            elif operation == "BatchGetItem":
                for spec in kwargs.get("RequestItems", {}).values():
                    for key in spec.get("Keys", []):
                        self.reads[(_pk(key), second)] += 1
            elif operation == "Query":
                self.reads[(_query_pk(kwargs), second)] += 1

    def _index_writes(self, item: Any, second: int) -> None:
        """A put's index entries, each a write to its index partition (``GSIn:<key>``)."""
        for n in (1, 2, 3):
            value = (item or {}).get(f"GSI{n}PK")
            if isinstance(value, dict) and "S" in value:
                self.writes[(f"GSI{n}:{value['S']}", second)] += 1

    def reset(self) -> None:
        self.writes.clear()
        self.reads.clear()
        self.clock, self.parallel = 0.0, 1

    def hottest(self, counter: Counter) -> tuple[str, int]:
        if not counter:
            return "-", 0
        (pk, _), value = counter.most_common(1)[0]
        return pk, value


def _pk(key: Any) -> str:
    value = (key or {}).get("PK", {})
    return str(value.get("S", "?")) if isinstance(value, dict) else str(value)


def _query_pk(kwargs: dict[str, Any]) -> str:
    values = kwargs.get("ExpressionAttributeValues", {})
    first = next(iter(sorted(values)), None)
    return f"{kwargs.get('IndexName', 'table')}:{values[first].get('S', '?')}" if first else "?"


def install(meter: Meter) -> Callable[[], None]:
    """Count every DynamoDB request PynamoDB makes; answers the call that stops counting."""
    from pynamodb.connection.base import Connection

    original = Connection._make_api_call

    def counting(conn: Any, operation: str, kwargs: Any, *a: Any, **kw: Any) -> Any:
        meter.note(operation, kwargs)
        return original(conn, operation, kwargs, *a, **kw)

    Connection._make_api_call = counting  # type: ignore[method-assign]

    def uninstall() -> None:
        Connection._make_api_call = original  # type: ignore[method-assign]

    return uninstall


class Slots:
    """The worker's concurrent invocations in simulated time (earliest free slot first)."""

    def __init__(self, start: float, n: int = CONCURRENCY) -> None:
        self.free = [start] * n
        heapq.heapify(self.free)
        self.longest = 0.0

    def run(self, meter: Meter, step: Any, parallel: int = 1) -> Any:
        meter.clock, meter.parallel = heapq.heappop(self.free), parallel
        began = meter.clock
        out = step()
        self.longest = max(self.longest, meter.clock - began)
        heapq.heappush(self.free, meter.clock)
        return out


def _worker_batches(meter: Meter, slots: Slots, tasks: list[Any], parallel: int = 1) -> list[float]:
    """Queue the tasks as the dispatcher does, then hand them, 10 a batch, to the real worker
    (``fanout.work``) on the simulated slots; answers each batch's end time."""
    import boto3

    from chalicelib.config import work_queue_name
    from chalicelib.handlers.fanout import STEPS
    from chalicelib.services.platform import fanout

    meter.clock += SQS_S * (len(tasks) // 10 + 1)
    fanout.enqueue(tasks)
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName=work_queue_name())["QueueUrl"]
    ends = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return ends
        records = [(m["MessageId"], m["Body"]) for m in got]
        outcome = slots.run(meter, lambda r=records: fanout.work(r, STEPS, fanout.Deadline()), parallel)
        assert not outcome.failed, outcome
        ends.append(meter.clock)
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@contextmanager
def _events_accepted() -> Iterator[None]:
    """EventBridge takes every event (an accepted entry each, as on AWS) without moto's
    per-event work: its pattern matching and routing to the rules' targets cost about 90 ms
    an event here (its SQS target re-reads the whole queue per message, quadratic over a
    run of 20,000 reminders). That is the stand-in's cost, not the app's, and no scenario
    reads what the rules deliver."""
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def accepted(self: Any, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"EventId": str(uuid.uuid4())} for _ in events]

    EventsBackend.put_events = accepted  # type: ignore[method-assign]
    try:
        yield
    finally:
        EventsBackend.put_events = original  # type: ignore[method-assign]


# ---------------------------------------------------------------- seeding (straight into moto)
@contextmanager
def _seeding() -> Iterator[Callable[[Any], None]]:
    """``put(item)``: an item keyed by its entity, stored straight into moto's table."""
    from bench.common import straight_into_moto

    with straight_into_moto() as raw:

        def put(item: Any) -> None:
            item.set_keys()
            raw(item)

        yield put


def _seed_small_tenants(n: int, put: Any) -> int:
    """``n`` tenants of a manager and three reps, all quiet: every manager is due a digest."""
    from chalicelib.models.digest import LastCheckIn, TenantEntry
    from chalicelib.models.org import TenantSettings, User

    for i in range(n):
        tenant = f"s{i:05d}"
        put(TenantEntry(tenant_id=tenant, zone=ZONE))
        put(TenantSettings(tenant_id=tenant, timezone=ZONE))
        for user, path in (("mgr", "/mgr/"), ("r1", "/mgr/r1/"), ("r2", "/mgr/r2/"), ("r3", "/mgr/r3/")):
            put(User(tenant_id=tenant, user_id=user, name=user, department_id="d", path=path, dept_path="/d/"))
            if user != "mgr":
                put(LastCheckIn(tenant_id=tenant, user_id=user, day="2030-02-01"))
    return n  # one manager each


def _seed_reminders(n: int, tenants: int, due_minute: datetime, put: Any) -> None:
    from chalicelib.models.schedule import Plan

    for i in range(n):
        at = due_minute + timedelta(seconds=(i * 59) // max(1, n - 1))
        plan = Plan(
            tenant_id=f"r{i % tenants:05d}",
            plan_id=f"p{i:06d}",
            user_id=f"u{i % 7}",
            date=at.date().isoformat(),
            title="Visit",
            start_time=(at + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            remind_minutes_before=15,
            remind_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            zone=ZONE,
            created_at="2030-03-01T00:00:00Z",
            updated_at="2030-03-01T00:00:00Z",
        )
        put(plan)


def _seed_deep_org(put: Any, users: int) -> list[str]:
    """One tenant: root > 9 divisions > reps (``users`` of them), each rep 3 departments deep."""
    from chalicelib.models.org import TenantSettings, User

    put(TenantSettings(tenant_id="big", timezone=ZONE))
    ids = []
    for i in range(users):
        division = f"div{i % 9}"
        ids.append(f"u{i:05d}")
        put(
            User(
                tenant_id="big",
                user_id=ids[-1],
                name=ids[-1],
                department_id=f"team{i % 90}",
                path=f"/ceo/{division}m/{ids[-1]}/",
                dept_path=f"/root/{division}/team{i % 90}/",
            )
        )
    return ids


# ---------------------------------------------------------------- scenarios
def digest_scenario(meter: Meter, tenants: int) -> dict[str, Any]:
    from chalicelib.services.performance import digest

    with _seeding() as put:
        managers = _seed_small_tenants(tenants, put)
    meter.reset()
    tasks = digest.due_tasks(FIRING + timedelta(minutes=1))
    dispatcher_s = meter.clock + SQS_S * (len(tasks) // 10 + 1)
    slots = Slots(dispatcher_s)
    ends = _worker_batches(meter, slots, tasks)
    sent = len(_messages("team_digest"))
    again = digest.due_tasks(FIRING + timedelta(minutes=1))  # a second firing sends nothing more
    _worker_batches(meter, Slots(max(ends or [0])), again)
    resent = len(_messages("team_digest"))
    return {
        "tenants": tenants,
        "tasks": len(tasks),
        "managers": managers,
        "sent": sent,
        "after a second firing": resent,
        "dispatcher_s": round(dispatcher_s, 2),
        "all sent by_s": round(max(ends or [0]), 1),
        "longest invocation_s": round(slots.longest, 2),
        "ok": len(tasks) == tenants and sent == resent == managers,
    }


def reminders_scenario(meter: Meter, count: int, tenants: int) -> dict[str, Any]:
    from chalicelib.services.schedule import reminders

    due_minute = FIRING + timedelta(hours=1)
    with _seeding() as put:
        _seed_reminders(count, tenants, due_minute, put)
    reminders._advance_checkpoint(reminders.iso(due_minute - timedelta(seconds=1)), due_minute)
    meter.reset()
    delivered, late, longest, covered_from = 0, 0.0, 0.0, 0.0
    for firing in (1, 2):  # the dispatcher fires on each wall-clock minute
        fired = due_minute + timedelta(minutes=firing)
        start = (fired - due_minute).total_seconds()
        meter.clock = start
        tasks = reminders.due_tasks(fired)
        slots = Slots(start + SQS_S * 2)
        before = _messages("plan_reminder")
        _worker_batches(meter, slots, tasks, parallel=reminders.WORKERS)
        longest = max(longest, slots.longest)
        new = _messages("plan_reminder") - before
        if new:  # worst case: one due at the start of what this firing covers, sent by its last task
            late = max(late, max(slots.free) - covered_from)
        delivered += len(new)
        covered_from = start - reminders.LAG_S  # the next firing covers from this one's end
    return {
        "reminders": count,
        "tenants": tenants,
        "delivered": delivered,
        "at most after due_s": round(late, 1),
        "longest invocation_s": round(longest, 2),
        "ok": delivered == count and late <= 90,
    }


def _messages(kind: str) -> set[str]:
    """The ids of every stored message of ``kind``, read straight from moto's table (a Scan
    through the API would deserialize every item of 20,000 tenants' data, several times)."""
    from bench.common import moto_table

    found = set()
    for partition in list(moto_table().items.values()):
        for item in list(partition.values()):
            attrs = item.attrs
            if attrs.get("entity") and attrs["entity"].value == "Message" and attrs["kind"].value == kind:
                found.add(str(attrs["message_id"].value))
    return found


def checkins_scenario(meter: Meter, per_second: int, seconds: int) -> dict[str, Any]:
    """Each check-in as the stream consumer takes it: the goal actuals' exactly-once
    transaction and the user's last check-in (the digest's index), every user's first of
    the day (the 09:00 burst)."""
    from chalicelib.models.base import BaseItem
    from chalicelib.models.digest import LastCheckIn
    from chalicelib.models.goals import Actuals
    from chalicelib.models.signins import SignIn
    from chalicelib.services.org import org
    from chalicelib.services.performance import actuals, digest

    total = per_second * seconds
    with _seeding() as put:
        users = _seed_deep_org(put, total)
    org.raise_aggregate_shards("big", org.shards_for_users(100_000))
    org.raise_index_shards("big", org.index_shards_for_users(100_000))
    shards, index_shards = org.aggregate_shards("big"), org.get_settings("big").index_shards
    with _seeding() as put:
        for user in users:
            put(LastCheckIn(tenant_id="big", user_id=user, day="2030-03-01", shards=index_shards))
    meter.reset()
    for i in range(total):
        meter.clock, meter.parallel = i / per_second, 1  # records arrive evenly; each its own invocation
        changes = {(users[i], "2030-03"): {"visits": 1}}
        assert actuals.apply("big", f"evt-{i}", changes, shards)
        digest.note_check_in(SignIn(tenant_id="big", user_id=users[i], kind="check_in", server_time=CHECK_IN_AT))
    stored = list(BaseItem.batch_get(Actuals.keys_of("big", "department", "root", "2030-03")))
    counted = sum(int(a.visits) for a in stored if isinstance(a, Actuals))
    still_quiet = LastCheckIn.quiet_before("big", CHECK_IN_AT[:10], int(index_shards))
    return {
        "check-ins": total,
        "shards": shards,
        "index shards": index_shards,
        "root actuals": counted,
        "last check-ins missed": len(still_quiet),
        **admin_feed_peaks(per_second, seconds),
        "ok": counted == total and not still_quiet,
    }


def admin_feed_peaks(per_second: int, seconds: int) -> dict[str, int]:
    """The peak WCU a second of the tenant-wide feed partitions (``*``, scene ``all``: one
    entry per check-in's sign-in activity) during the burst, scaled to 1,000 check-ins a
    second, with the tenant's index on 1 shard and on 16: each entry placed by the real
    shard choice and key builder (``feed_index.indexed_keys`` / ``entry_item``); counted,
    not written (the scenario's own writes stay what the meter measures)."""
    from chalicelib.ids import new_id
    from chalicelib.models.feed import ADMIN_VIEWER, Activity
    from chalicelib.services.feed import feed_index

    out = {}
    for shards in (1, 16):
        writes: Counter = Counter()
        for i in range(per_second * seconds):
            activity = Activity(tenant_id="big", activity_id=new_id("act"), type="signin", occurred_at=CHECK_IN_AT)
            for key in feed_index.indexed_keys(activity.activity_id, [(ADMIN_VIEWER, "all")], shards):
                writes[(feed_index.entry_item(activity, feed_index.parse_indexed(key)).PK, i // per_second)] += 1
        peak = max(writes.values()) * BIG["per_second"] / per_second
        out[f"`*` feed WCU/s at 1,000 check-ins/s on {shards} index shard{'s' if shards > 1 else ''}"] = round(peak)
    return out


def run_sizes(
    sizes: dict[str, int], stack: Callable[[], AbstractContextManager[Any]] | None = None
) -> dict[str, dict[str, Any]]:
    """The three scenarios at ``sizes``, each in a fresh ``stack`` (moto with every resource;
    a test passes its own), with its hottest partitions."""
    from bench.common import moto_stack

    out = {}
    meter = Meter()
    uninstall = install(meter)
    try:
        for name, scenario in _scenarios(meter, sizes):
            with (stack or moto_stack)(), _events_accepted():
                started = time.perf_counter()
                figures = scenario()
                hot_pk, hot_wcu = meter.hottest(meter.writes)
                read_pk, read_items = meter.hottest(meter.reads)
                figures.update(
                    {
                        "hottest write partition": hot_pk,
                        "its WCU in one second": hot_wcu,
                        "hottest read partition": read_pk,
                        "its reads in one second": read_items,
                        "wall_s": round(time.perf_counter() - started, 1),
                    }
                )
                out[name] = figures
                print(f"bench scale: {name}: {figures}", flush=True)  # an interrupted run keeps what it measured
    finally:
        uninstall()
    return out


def _scenarios(meter: Meter, sizes: dict[str, int]) -> Iterator[tuple[str, Callable[[], dict[str, Any]]]]:
    """Cheapest first: an interrupted run at the issue's sizes keeps the most scenarios."""
    yield "check-ins", lambda: checkins_scenario(meter, sizes["per_second"], sizes["seconds"])
    yield "reminders", lambda: reminders_scenario(meter, sizes["reminders"], sizes["reminder_tenants"])
    yield "digest", lambda: digest_scenario(meter, sizes["tenants"])


def _extrapolated(name: str, figures: dict[str, Any], sizes: dict[str, int]) -> tuple[float, str]:
    """The hottest partition's WCU a second at the issue's sizes (it grows only with the
    check-in rate: the digest's and reminders' hottest keys are one tenant's own), and what
    else changes at 10,000 tenants of 50."""
    wcu = float(figures["its WCU in one second"])
    if name == "check-ins":
        at_size = wcu * BIG["per_second"] / sizes["per_second"]
        share = 100 * at_size / PARTITION_WCU
        return at_size, f"{at_size:.0f} WCU/s at 1,000 check-ins/s ({share:.0f}% of a partition)"
    if name == "digest":
        by = float(figures["all sent by_s"]) * 10_000 / max(1, sizes["tenants"])
        return wcu, f"{wcu:.0f} WCU/s (one tenant's own key); 10,000 tenants in one zone: all sent by ~{by:.0f} s"
    per_shard = BIG["reminders"] / 16
    return wcu, f"{wcu:.0f} WCU/s (one user's inbox); 20,000 in a minute: ~{per_shard:.0f} due-index items per shard"


def render(results: dict[str, dict[str, Any]], sizes: dict[str, int]) -> str:
    """The report section of ``run_sizes``' figures."""
    lines = ["## Scale: fan-out schedules and sharded aggregates (issue 29)", ""]
    lines += [
        f"Sizes: {sizes}. Simulated: {LATENCY_S * 1000:.0f} ms a DynamoDB request, "
        f"{CONCURRENCY} worker invocations at once.",
        "",
    ]
    lines += ["| scenario | figures | hottest partition (one second) | extrapolated |", "| --- | --- | --- | --- |"]
    passed = True
    for name, figures in results.items():
        at_size, told = _extrapolated(name, figures, sizes)
        passed &= bool(figures["ok"]) and at_size <= PARTITION_WCU / 2
        shown = ", ".join(f"{k}: {v}" for k, v in figures.items() if "hottest" not in k and "its " not in k)
        reads = float(figures["its reads in one second"]) * (
            BIG["per_second"] / sizes["per_second"] if name == "check-ins" else 1
        )
        passed &= reads * RCU_PER_READ <= PARTITION_RCU / 2
        hot = (
            f"`{figures['hottest write partition']}` {figures['its WCU in one second']} WCU; "
            f"reads: `{figures['hottest read partition']}` {figures['its reads in one second']} reads"
        )
        lines.append(f"| {name} | {shown} | {hot} | {told} |")
    longest = max(float(f.get("longest invocation_s", 0)) for f in results.values())
    passed &= longest <= 60  # half the worker's 120 s timeout
    lines += ["", f"Longest worker invocation: {longest:.1f} s simulated (limit: 60 s, half its timeout)."]
    if sizes != BIG:
        lines += ["", f"Not the issue's sizes ({BIG}): a PASS here is at these sizes only."]
    lines += ["", f"**{'PASS' if passed else 'FAIL'}**"]
    return "\n".join(lines) + "\n"


def run(sizes: dict[str, int] | None = None) -> str:
    sizes = sizes or BIG
    os.environ.setdefault("TENANT_RATE", "off")
    return render(run_sizes(sizes), sizes)


def tiny() -> dict[str, int]:
    return {"tenants": 12, "reminders": 60, "reminder_tenants": 9, "per_second": 20, "seconds": 2}


__all__ = ["run", "run_sizes", "render", "tiny", "BIG", "Meter"]
