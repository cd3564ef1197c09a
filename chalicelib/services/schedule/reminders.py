"""Reminders: the ``plan_reminders`` schedule (every minute, all tenants) delivers every
kind of reminder that sits in the due index: plans' own (here) and any other kind its
caller passes as ``senders`` (``{entity class: send}``; tasks: services/collab/tasks.py).
Each kind keys its items into the same minute buckets (``remind_at``, GSI2), and its
``send(item, zone)`` answers True when it delivered (False: already delivered), with its
messages deduplicated per reminder and due time: everything below holds for every kind.

How it stays cheap, exact and complete:
- **Cost proportional to what is due.** Armed reminders sit in a sparse, minute-bucketed
  index (GSI2 of the plan item, ``T#~system#REMIND#<minute>[#<shard>]``, sorted by
  ``remind_at``), spread over ``REMIND_SHARDS`` shards by plan id. A run of one shard reads
  only its buckets of the minutes since its last run: one query per minute (paged only by
  the number of reminders due), never a scan, whatever the table holds.
- **Fan-out.** Every minute the dispatcher (``due_tasks``, no read) queues one task per
  shard; the ``fanout_worker`` runs each (``work``) with a deadline. The message text's
  time zone is stored with the reminder when it is armed: no per-tenant lookup.
- **Catch-up.** A checkpoint item per shard records ``done_until``: every reminder of the
  shard due at or before it has been delivered. A run covers ``(done_until, now - LAG]``,
  so a missed, failed or timed-out run is made up by the next one (or by the task's
  continuation). The checkpoint only moves forward (conditional write).
- **Exactly once.** Delivery is ``messages.send(NewMessage(..., dedupe_key=plan_reminder:<plan>:<due>))``:
  a second delivery of the same reminder (double-fired schedule, retried run, two runs
  racing over the same window) writes nothing and returns None; the EventBridge event
  ``plan.reminder_due`` is emitted only by the call that created the message.
- **Moves and cancels.** The index keys are derived from the plan's current state, so
  editing the start or the lead time moves the reminder to its new minute (a new due
  time is a new dedupe key) and cancelling or completing the plan removes it.
- ``LAG_S`` leaves index propagation time: a reminder is delivered at most
  ``60 s (cadence) + LAG_S`` after it is due, inside the contract's 90 s.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Optional

from pynamodb.exceptions import PutError

from chalicelib.models.base import condition_failed, item_of
from chalicelib.models.schedule import REMIND_SHARDS, Plan, ReminderCheckpoint, due_reminders
from chalicelib.observability import count, is_corrupt_item, logger, skip_bad_item
from chalicelib.services.inbox import messages
from chalicelib.services.org import org
from chalicelib.services.platform import events, fanout
from chalicelib.timeutil import format_local, format_minute, iso, parse_timestamp, utcnow

LAG_S = 10
SKIPPED = "skipped"
FIRST_RUN_LOOKBACK = timedelta(minutes=30)
MAX_WINDOW = timedelta(hours=24)  # per run; a longer outage is caught up over several runs
WORKERS = 8
PARALLEL_FROM = 4  # fewer due reminders than this are sent inline
SYSTEM_TENANT = "~system"
KIND = "plan_reminders"  # the fan-out task kind


@dataclass
class RunResult:
    since: str
    until: str
    buckets: int = 0
    due: int = 0
    delivered: int = 0
    duplicates: int = 0
    skipped: int = 0
    event_failures: int = 0
    complete: bool = True
    errors: list[str] = field(default_factory=list)
    out_of_time: bool = False  # stopped by the deadline (not by a failure)

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    def merge(self, other: RunResult) -> RunResult:
        """Two shards' results as one (the earliest window bounds, the sums)."""
        return RunResult(
            since=min(self.since, other.since),
            until=min(self.until, other.until),
            buckets=self.buckets + other.buckets,
            due=self.due + other.due,
            delivered=self.delivered + other.delivered,
            duplicates=self.duplicates + other.duplicates,
            skipped=self.skipped + other.skipped,
            event_failures=self.event_failures + other.event_failures,
            complete=self.complete and other.complete,
            errors=self.errors + other.errors,
            out_of_time=self.out_of_time or other.out_of_time,
        )


def read_checkpoint(shard: int = 0) -> Optional[str]:
    checkpoint = ReminderCheckpoint.fetch(shard)
    return checkpoint.done_until if checkpoint is not None else None


def _advance_checkpoint(done_until: str, now: datetime, shard: Optional[int] = None) -> bool:
    """Move the checkpoint of ``shard`` (every shard when None) forward; never back (a
    slower racing run loses quietly)."""
    moved = False
    for one in range(REMIND_SHARDS) if shard is None else [shard]:
        checkpoint = ReminderCheckpoint(tenant_id=SYSTEM_TENANT, done_until=done_until, updated_at=iso(now), shard=one)
        try:
            checkpoint.save(
                condition=ReminderCheckpoint.PK.does_not_exist() | (ReminderCheckpoint.done_until < done_until)
            )
            moved = True
        except PutError as exc:
            if not condition_failed(exc):
                raise
    return moved


def _minutes(since: datetime, until: datetime) -> list[str]:
    """The UTC minute buckets that can hold a reminder due in ``(since, until]``."""
    first = since.replace(second=0)
    out, minute = [], first
    while minute <= until:
        out.append(format_minute(minute))
        minute += timedelta(minutes=1)
    return out


Sender = Callable[[Any, Any], bool]  # (item, time zone) -> delivered now


def due_in_bucket(minute: str, since: str, until: str, shard: int = 0) -> list[Any]:
    """Armed reminders (raw items, every kind) of one minute bucket's shard with
    ``since < remind_at <= until``."""
    return due_reminders(minute, since, until, shard)


def _key(raw: dict[str, Any]) -> tuple[str, str]:
    """(tenant, id) of a due-index item, from its GSI2SK ``<remind_at>#<tenant>#<id>``."""
    parts = str(raw.get("GSI2SK", {}).get("S", "")).split("#")
    return (parts[-2], parts[-1]) if len(parts) >= 3 else ("", "")


class _Zones:
    """Time zones for the message text: the one stored with the reminder; a reminder armed
    by an earlier release (none stored) reads its tenant's, once per tenant per run."""

    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}

    def __call__(self, item: Any) -> Any:
        if getattr(item, "zone", None):
            return org.zone_named(item.zone)
        if item.tenant_id not in self.cache:
            self.cache[item.tenant_id] = org.tenant_zone(item.tenant_id)
        return self.cache[item.tenant_id]


def deliver(plan: Plan, zone: Any) -> bool:
    """Send one reminder; True when this call delivered it (and emitted its event)."""
    start = parse_timestamp(plan.start_time, "start_time") if plan.start_time else None
    when = format_local(start.astimezone(zone))[11:16] if start else ""
    minutes = int(plan.remind_minutes_before or 0)
    message = messages.send(
        messages.NewMessage(
            plan.tenant_id,
            plan.user_id,
            kind="plan_reminder",
            title=f"Reminder: {plan.title}",
            body=f"Starts at {when} on {plan.date}" + (f" (in {minutes} min)" if minutes else ""),
            ref_type="plan",
            ref_id=plan.plan_id,
            dedupe_key=f"plan_reminder:{plan.plan_id}:{plan.remind_at}",
            push_expires_at=iso(start) if start else None,
        )
    )
    if message is None:
        return False
    detail = {
        "plan_id": plan.plan_id,
        "user_id": plan.user_id,
        "title": plan.title,
        "date": plan.date,
        "start_time": plan.start_time,
        "remind_at": plan.remind_at,
        "message_id": message.message_id,
    }
    for attempt in range(3):
        try:
            events.emit("plan.reminder_due", plan.tenant_id, detail)
            break
        except Exception as exc:  # noqa: BLE001 - the message is delivered; do not resend it
            if attempt == 2:
                count("PlanReminderEventFailed")
                logger.error("plan.reminder_due not published", extra={"plan_id": plan.plan_id, "error": str(exc)})
            else:
                _time.sleep(0.1 * (attempt + 1))
    return True


def run(
    now: Optional[datetime] = None,
    deadline: Optional[Callable[[], bool]] = None,
    senders: Optional[dict[type, Sender]] = None,
) -> RunResult:
    """Every shard in this process, one after the other (tests, the local control
    endpoint); deployed, the dispatcher queues one :func:`run_shard` per shard instead.
    ``senders`` adds the kinds other capabilities keep in the due index (tasks)."""
    total: Optional[RunResult] = None
    for shard in range(REMIND_SHARDS):
        one = run_shard(shard, now, deadline, senders)
        total = one if total is None else total.merge(one)
    assert total is not None
    return total


def due_tasks(now: Optional[datetime] = None) -> list[fanout.Task]:
    """The dispatcher's work every minute: one task per due-index shard, no read at all."""
    until = iso((now or utcnow()).astimezone(UTC).replace(microsecond=0))
    return [fanout.Task(KIND, f"{shard}#{until}", {"shard": shard, "now": until}) for shard in range(REMIND_SHARDS)]


def work(task: fanout.Task, deadline: fanout.Deadline, senders: Optional[dict[type, Sender]] = None) -> Optional[str]:
    """One shard's reminders up to the task's ``now``; a cursor (its checkpoint) when the
    deadline stopped it before the end."""
    now = parse_timestamp(task.params["now"], "now")
    result = run_shard(int(task.params["shard"]), now, deadline.expired, senders)
    if result.out_of_time:
        return result.until
    if not result.complete:  # a failure: the message is redelivered (and the next minute's task retries it too)
        raise RuntimeError(f"plan reminders shard {task.params['shard']}: {'; '.join(result.errors[:3])}")
    return None


def _window(shard: int, now: datetime) -> tuple[str, datetime, datetime]:
    until_dt = now - timedelta(seconds=LAG_S)
    since = read_checkpoint(shard) or iso(until_dt - FIRST_RUN_LOOKBACK)
    since_dt = parse_timestamp(since, "checkpoint")
    if until_dt - since_dt > MAX_WINDOW:
        until_dt = since_dt + MAX_WINDOW
    return since, since_dt, until_dt


def run_shard(
    shard: int,
    now: Optional[datetime] = None,
    deadline: Optional[Callable[[], bool]] = None,
    senders: Optional[dict[type, Sender]] = None,
) -> RunResult:
    """Deliver every reminder of one due-index shard due since its checkpoint. ``now`` is
    injectable for tests; ``deadline()`` True stops early (the checkpoint then covers what
    was finished); ``senders`` adds the kinds other capabilities keep in the due index."""
    kinds: dict[type, Sender] = {Plan: deliver, **(senders or {})}
    now = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    since, since_dt, until_dt = _window(shard, now)
    until = iso(until_dt)
    result = RunResult(since=since, until=until)
    if until_dt <= since_dt:
        return result
    zones = _Zones()
    done_until = since
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for minute in _minutes(since_dt, until_dt):
            if deadline is not None and deadline():
                result.complete, result.out_of_time = False, True
                break
            due = due_in_bucket(minute, since, until, shard)
            result.buckets += 1
            result.due += len(due)
            send = lambda raw: _deliver_safely(raw, kinds, zones, result)  # noqa: E731
            outcomes = list(pool.map(send, due)) if len(due) >= PARALLEL_FROM else [send(p) for p in due]
            if any(o is None for o in outcomes):
                result.complete = False  # a failure: leave the checkpoint before this minute
                break
            result.delivered += sum(1 for o in outcomes if o is True)
            result.duplicates += sum(1 for o in outcomes if o is False)
            result.skipped += sum(1 for o in outcomes if o is SKIPPED)
            bucket_end = iso(parse_timestamp(f"{minute}:59Z", "bucket"))
            done_until = min(bucket_end, until)
    if done_until > since:
        _advance_checkpoint(done_until, now, shard)
    result.until = done_until if not result.complete else until
    if result.delivered:
        count("PlanRemindersDelivered", result.delivered)
    if result.duplicates:
        count("PlanRemindersDuplicate", result.duplicates)
    if result.due or not result.complete:
        logger.info("plan reminders run", extra={"shard": shard, **result.as_dict()})
    return result


def _deliver_safely(
    raw: dict[str, Any], kinds: dict[type, Sender], zones: _Zones, result: RunResult
) -> Optional[bool | str]:
    """True delivered, False already delivered, None failed (the run retries it later),
    ``SKIPPED`` unreadable or of a kind nobody sends (logged and counted; the run goes on)."""
    tenant_id, key = _key(raw)
    for attempt in range(3):
        try:
            item = item_of(raw)
            send = kinds.get(type(item))
            if send is None:
                raise TypeError(f"no sender for reminders of {type(item).__name__}")
            return send(item, zones(item))
        except Exception as exc:  # noqa: BLE001 - one bad reminder must not stop the others
            if is_corrupt_item(exc):  # its own data is bad: retrying (now or next run) cannot help
                skip_bad_item("plan_reminders", exc, tenant_id=tenant_id, key=key)
                result.errors.append(f"{tenant_id}/{key}: skipped ({type(exc).__name__})")
                return SKIPPED
            if attempt == 2:
                result.errors.append(f"{tenant_id}/{key}: {type(exc).__name__}")
                logger.warning("reminder failed", extra={"key": key, "error": str(exc)})
                return None
            _time.sleep(0.1 * (attempt + 1))
    return None  # pragma: no cover
