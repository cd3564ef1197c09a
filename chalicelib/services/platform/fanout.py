"""Schedules that fan out: a dispatcher finds what is due with bounded Queries and puts
one task per tenant (or per shard) on the work queue; the ``fanout_worker`` Lambda runs
each task's step with a deadline, and a step that runs out of time leaves a checkpoint
and a continuation task (same key) that resumes there.

Small on purpose (the org re-index jobs have their own mechanism, ``platform/jobs.py``):
- :class:`Task`: ``kind`` (which step runs it), ``key`` (unique per firing: the name of
  its checkpoint), ``params`` (what the step needs: tenant, shard, day, zone, ...),
  ``cursor`` (where a continuation resumes; the step's own format).
- :class:`Deadline`: from the Lambda context's remaining time (the time rule shared with
  the org jobs' step runner, ``steps.py``); a step checks it between units of work and
  stops at ``SHARE`` of the time it had, so no invocation runs past half its timeout.
- :func:`enqueue` (SendMessageBatch, 10 a call), :func:`run_task` (checkpoint read,
  step, checkpoint write), :func:`work` (one SQS batch), :func:`run_inline` (the same
  without a queue: tests and the local control endpoint).

Exactly once stays with the work itself (each message's dedupe key); the checkpoint only
saves repeating work: a redelivered finished task is acknowledged without running.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from chalicelib.aws import client
from chalicelib.config import work_queue_name, work_queue_url
from chalicelib.models.fanout import FanoutCheckpoint
from chalicelib.observability import count, logger
from chalicelib.services.platform import steps
from chalicelib.timeutil import iso, utcnow

SHARE = 0.4  # of the remaining time at the start: stop then (the unit in flight ends < 50%)
BATCH = 10  # SendMessageBatch's limit
SYSTEM_TENANT = "~system"


@dataclass(frozen=True)
class Task:
    kind: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)
    cursor: Optional[str] = None

    def body(self) -> str:
        return json.dumps(
            {"kind": self.kind, "key": self.key, "params": self.params, "cursor": self.cursor}, separators=(",", ":")
        )

    @classmethod
    def from_body(cls, body: str) -> Task:
        raw = json.loads(body)
        return cls(
            kind=str(raw["kind"]), key=str(raw["key"]), params=dict(raw.get("params") or {}), cursor=raw.get("cursor")
        )


class Deadline(steps.Deadline):
    """``expired()`` once ``SHARE`` of the time left at the start has passed (the one time
    rule of background steps: ``steps.Deadline``)."""

    def __init__(self, remaining_ms: Optional[Callable[[], int]] = None, share: float = SHARE) -> None:
        super().__init__(remaining_ms, share)

    @classmethod
    def of(cls, context: Any, share: float = SHARE) -> Deadline:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        return cls(remaining if callable(remaining) else None, share)


NEVER = Deadline()
Step = Callable[[Task, Deadline], Optional[str]]  # answers the cursor to resume at, None when done


def _queue_url() -> str:
    return work_queue_url() or client("sqs").get_queue_url(QueueName=work_queue_name())["QueueUrl"]


def enqueue(tasks: Iterable[Task]) -> int:
    """Put the tasks on the work queue (one SendMessageBatch per 10); answers how many."""
    pending = list(tasks)
    if not pending:
        return 0
    url, sqs = _queue_url(), client("sqs")
    for start in range(0, len(pending), BATCH):
        entries = [{"Id": str(i), "MessageBody": t.body()} for i, t in enumerate(pending[start : start + BATCH])]
        failed = sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
        if failed:  # the dispatcher fails: its schedule's retry sends them again (steps are idempotent)
            raise RuntimeError(f"{len(failed)} fan-out tasks not queued: {failed[0].get('Code')}")
    count("FanoutTasksQueued", len(pending))
    return len(pending)


def _save(task: Task, cursor: Optional[str], done: bool) -> None:
    FanoutCheckpoint(
        tenant_id=SYSTEM_TENANT, kind=task.kind, key=task.key, cursor=cursor, done=done, updated_at=iso(utcnow())
    ).save()


def run_task(task: Task, step: Step, deadline: Deadline) -> Optional[Task]:
    """Run one task from its checkpoint; answers its continuation when the deadline stopped it."""
    checkpoint = FanoutCheckpoint.fetch(task.kind, task.key)
    if checkpoint is not None and checkpoint.done:
        count("FanoutTaskRepeatSkipped")
        return None
    resumed = replace(task, cursor=checkpoint.cursor) if checkpoint is not None and checkpoint.cursor else task
    cursor = step(resumed, deadline)
    _save(task, cursor, done=cursor is None)
    return replace(task, cursor=cursor) if cursor is not None else None


@dataclass
class Outcome:
    done: int = 0
    continued: int = 0
    failed: list[str] = field(default_factory=list)  # message ids

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done, "continued": self.continued, "failed": len(self.failed)}


def work(records: Sequence[tuple[str, str]], steps: Mapping[str, Step], deadline: Deadline) -> Outcome:
    """One SQS batch of ``(message id, body)``: each task run on its own (a failure is
    logged and named in ``failed``: its message is redelivered, the others are not);
    continuations are queued before the batch is acknowledged."""
    outcome, continuations = Outcome(), []
    for message_id, body in records:
        try:
            task = Task.from_body(body)
        except (ValueError, KeyError, TypeError):
            logger.error("undecodable fan-out task dropped", extra={"message_id": message_id})
            continue
        step = steps.get(task.kind)
        if step is None:
            logger.error("fan-out task of no known kind dropped", extra={"kind": task.kind, "key": task.key})
            continue
        try:
            follow = run_task(task, step, deadline)
        except Exception:  # noqa: BLE001 - one task's failure must not redo the others
            logger.exception("fan-out task failed", extra={"kind": task.kind, "key": task.key})
            count("FanoutTaskFailed")
            outcome.failed.append(message_id)
            continue
        if follow is not None:
            continuations.append(follow)
            outcome.continued += 1
        else:
            outcome.done += 1
    enqueue(continuations)
    return outcome


def run_inline(tasks: Iterable[Task], steps: Mapping[str, Step], deadline: Deadline = NEVER) -> int:
    """Every task and its continuations in this process, without a queue; answers how many
    task runs there were."""
    pending, runs = list(tasks), 0
    while pending:
        task = pending.pop(0)
        runs += 1
        follow = run_task(task, steps[task.kind], deadline)
        if follow is not None:
            pending.append(follow)
    return runs


__all__ = ["Task", "Deadline", "NEVER", "Step", "enqueue", "run_task", "work", "run_inline", "Outcome"]
