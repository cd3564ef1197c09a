"""Background jobs: work too large for one request or one stream record, run in bounded
steps by a queue worker (``handlers/jobs.py``), resumable and visible to admins.

A job is one ``Job`` item (models/jobs.py) plus one message at a time on the jobs queue,
``{tenant_id, job_id, step}``. Its kind names a *step function* (the capability that owns
the work supplies it; the worker's handler maps kinds to them): ``fn(job, cursor) ->
(next cursor | None, done, found)``, one bounded page of work from a JSON cursor,
idempotent (every page recomputes from current state), so re-running a page after a crash
changes nothing.

One invocation (:func:`run`):

1. reads the job; a finished job, or a message of another step, is dropped (a message of
   the step before, arriving when that step's continuation was lost, re-sends it);
2. takes the job's lease (conditional: no live lease, ``steps`` equal to the message's):
   two deliveries of one message never run it at once;
3. runs pages while the invocation would still have half its time left (and
   ``SAFETY_MS``) after one more page as long as its longest so far, and no partition key
   has had its share of writes for the current second (``platform/pacing.py``: the
   projections report each write's partition), saving the cursor and progress after each
   page (conditional on the lease), so a crash or a timeout loses at most one page, which
   the redelivered message runs again;
4. finishes the job (``done``), or releases the lease with ``steps + 1`` and sends the
   next step's message (``paced``: with ``DelaySeconds``, so the hot partition's next
   writes fall in a later second; no invocation sleeps).

A page that raises records ``error_count`` and ``last_error`` on the job and is retried by
SQS (the message stays); at the ``MAX_ATTEMPTS``-th receive the job becomes ``failed``
(metric ``JobFailed``, alarmed): a failure is always on the job, never only in a queue. The
queue's redrive (``MAX_ATTEMPTS + 1`` receives) takes a message whose every invocation was
killed (timeouts) to the DLQ only after the receive that records the failure.

Jobs are created idempotently: the id follows the change that causes it (:func:`create`),
so a redelivered stream record or a retried request finds the job it already made.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Optional

from pynamodb.exceptions import PutError, UpdateError

from chalicelib import cursor as cursors
from chalicelib.aws import client
from chalicelib.config import jobs_queue_name, jobs_queue_url
from chalicelib.errors import NotFound
from chalicelib.models.base import condition_failed
from chalicelib.models.jobs import Job, job_page
from chalicelib.observability import count, logger
from chalicelib.services.platform import pacing, steps
from chalicelib.services.platform.aftercommit import settle
from chalicelib.services.platform.projections import INSERT, Change, Projection, reads
from chalicelib.timeutil import iso, utcnow

MAX_ATTEMPTS = 5  # receives of one step's message; the queue's redrive is one more
SAFETY_MS = 10_000  # never start a page with less than this left
SHARE = 0.5  # of the time left at the start a step may use (``steps.Deadline``)
MAX_PAGES = 200  # pages per invocation (tests set it to 1 to force tiny steps)
FINISHED = ("done", "failed")

Page = tuple[Optional[dict[str, Any]], int, int]  # (next cursor | None, done, found)
StepFn = Callable[[Job, Optional[dict[str, Any]]], Page]


def _now_ms() -> int:
    return int(time.time() * 1000)


# ---------------------------------------------------------------- creating and queueing
def job_id_for(tenant_id: str, kind: str, key: str) -> str:
    """The id of the job a change causes: the same change always names the same job."""
    return "job_" + hashlib.sha256(f"{tenant_id}|{kind}|{key}".encode()).hexdigest()[:24]


@lru_cache(maxsize=1)
def _queue_url() -> str:
    return jobs_queue_url() or str(client("sqs").get_queue_url(QueueName=jobs_queue_name())["QueueUrl"])


def enqueue(tenant_id: str, job_id: str, step: int = 0, delay_s: int = 0) -> None:
    """The step's message (``delay_s``: SQS DelaySeconds, a paced step's continuation)."""
    body = {"tenant_id": tenant_id, "job_id": job_id, "step": step}
    client("sqs").send_message(
        QueueUrl=_queue_url(), MessageBody=json.dumps(body, separators=(",", ":")), DelaySeconds=delay_s
    )


def create(tenant_id: str, kind: str, cause: tuple[str, str], params: dict[str, Any], key: str) -> Job:
    """The job ``key`` names (created queued, its first step's message sent), or the one
    already made for it. 1 conditional PutItem (+ 1 GetItem when it existed) + 1 send."""
    job = Job(
        tenant_id=tenant_id,
        job_id=job_id_for(tenant_id, kind, key),
        kind=kind,
        cause_type=cause[0],
        cause_id=cause[1],
        params=Job.encode(params),
        created_at=iso(utcnow()),
    )
    try:
        job.save(condition=Job.PK.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise
        return Job.fetch(tenant_id, job.job_id) or job
    count("JobCreated")
    settle("job.enqueue", lambda: enqueue(tenant_id, job.job_id), job_id=job.job_id)
    return job


def handle_change(change: Change) -> bool:
    """The durable re-drive of a new job's first message (its stream INSERT): a duplicate
    message is harmless (see :func:`run`)."""
    job = change.new
    if not isinstance(job, Job) or job.status in FINISHED:
        return False
    enqueue(job.tenant_id, job.job_id)
    return True


PROJECTION = Projection(
    name="jobs",
    reads=(reads("Job", events=[INSERT]),),
    kept="after_commit",
    writes=("jobs queue: a new job's first step",),
    apply=handle_change,
    doc="re-sends a new job's first message",
)


# ---------------------------------------------------------------- the lease
def _status(job: Job, status: str) -> list[Any]:
    """The actions that move the job to ``status`` (its per-status listing follows)."""
    job.status = status
    return [Job.status.set(status), Job.GSI1PK.set(Job.list_pk(job.tenant_id, status))]


def _take(job: Job, step: int, token: str, remaining_ms: int) -> bool:
    now = _now_ms()
    try:
        job.update(
            actions=[
                Job.lease.set(token),
                Job.lease_until.set(now + remaining_ms),
                *_status(job, "running"),
                Job.started_at.set(job.started_at or iso(utcnow())),
                Job.updated_at.set(iso(utcnow())),
            ],
            condition=(Job.lease_until < now) & (Job.steps == step) & Job.status.is_in("queued", "running"),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def _save(job: Job, token: str, actions: list[Any]) -> None:
    """One update of the job under this invocation's lease."""
    job.update(actions=[*actions, Job.updated_at.set(iso(utcnow()))], condition=Job.lease == token)


def _finish(job: Job, token: str) -> None:
    _save(
        job,
        token,
        [
            *_status(job, "done"),
            Job.finished_at.set(iso(utcnow())),
            Job.lease.remove(),
            Job.lease_until.set(0),
            Job.steps.set(int(job.steps) + 1),
        ],
    )


def _fail(job: Job, reason: str) -> None:
    """Record the job failed (its step's deliveries are used up); metric ``JobFailed``."""
    try:
        job.update(
            actions=[
                *_status(job, "failed"),
                Job.finished_at.set(iso(utcnow())),
                Job.last_error.set(job.last_error or reason),
                Job.lease.remove(),
                Job.lease_until.set(0),
            ],
            condition=Job.status.is_in("queued", "running"),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return  # finished meanwhile
        raise
    count("JobFailed")
    logger.error("job failed", extra={"job_id": job.job_id, "kind": job.kind, "error": job.last_error})


# ---------------------------------------------------------------- running
def _pages(job: Job, token: str, fn: StepFn, deadline: steps.Deadline) -> str:
    """Pages while there is time and the pacer lets it: ``complete`` when the job's walk is
    done, ``paced`` when a partition had its writes for this second, else ``time``."""
    position = job.position
    longest = 0  # the longest page so far: the next one must end within the deadline too
    with pacing.pacing(pacing.Pacer(deadline.elapsed_ms)) as pacer:
        for _ in range(MAX_PAGES):
            before = deadline.elapsed_ms()
            position = _page(job, token, fn, position)
            if position is None:
                return "complete"
            if pacer.exhausted():
                count("JobPaced")
                return "paced"
            longest = max(longest, deadline.elapsed_ms() - before)
            if deadline.expired(longest):
                return "time"
    return "time"


def _page(job: Job, token: str, fn: StepFn, position: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """One page of the walk, its cursor and progress saved under the lease."""
    position, done, found = fn(job, position)
    job.cursor = Job.encode(position)
    _save(
        job,
        token,
        [
            Job.cursor.set(job.cursor) if job.cursor else Job.cursor.remove(),
            Job.done.add(done),
            Job.total.add(found),
        ],
    )
    return position


def _record_error(job: Job, token: str, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"[:500]
    logger.exception("job step failed", extra={"job_id": job.job_id, "kind": job.kind})
    try:
        job.update(
            actions=[Job.error_count.add(1), Job.last_error.set(message), Job.lease.remove(), Job.lease_until.set(0)],
            condition=Job.lease == token,
        )
    except UpdateError:  # noqa: PERF203 - the lease moved on: the error is logged above
        logger.warning("job error not recorded: lease lost", extra={"job_id": job.job_id})


def run(message: Mapping[str, Any], attempt: int, kinds: Mapping[str, StepFn], remaining_ms: Callable[[], int]) -> str:
    """One delivery of a job's step message (see the module docstring); answers what it did:
    ``done``, ``continued``, ``paced``, ``failed``, ``busy``, ``stale`` or ``finished``."""
    tenant_id, job_id, step = str(message["tenant_id"]), str(message["job_id"]), int(message.get("step", 0))
    job = Job.fetch(tenant_id, job_id)
    if job is None or job.status in FINISHED:
        return "finished"
    if int(job.steps) != step:
        if int(job.steps) == step + 1 and int(job.lease_until) < _now_ms():
            enqueue(tenant_id, job_id, step + 1)  # the continuation this step sent may be lost
        return "stale"
    if attempt > MAX_ATTEMPTS or job.kind not in kinds:
        _fail(job, f"gave up after {MAX_ATTEMPTS} attempts" if job.kind in kinds else f"unknown kind {job.kind}")
        return "failed"
    token, deadline = uuid.uuid4().hex, steps.Deadline(remaining_ms, SHARE, SAFETY_MS)
    if not _take(job, step, token, deadline.initial_ms):
        return "busy"
    try:
        ended = _pages(job, token, kinds[job.kind], deadline)
    except Exception as exc:
        _record_error(job, token, exc)
        if attempt >= MAX_ATTEMPTS:
            _fail(Job.fetch(tenant_id, job_id) or job, f"{type(exc).__name__}: {exc}"[:500])
            return "failed"
        raise
    if ended == "complete":
        _finish(job, token)
        count("JobDone")
        return "done"
    _save(job, token, [Job.lease.remove(), Job.lease_until.set(0), Job.steps.set(step + 1)])
    enqueue(tenant_id, job_id, step + 1, delay_s=pacing.DELAY_S if ended == "paced" else 0)
    return "paced" if ended == "paced" else "continued"


# ---------------------------------------------------------------- reading (admins)
def job_to_dict(job: Job) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.job_id,
        "kind": job.kind,
        "status": job.status,
        "cause": {"type": job.cause_type, "id": job.cause_id},
        "progress": {"done": int(job.done), "total": max(int(job.total), int(job.done))},
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error_count": int(job.error_count),
    }
    if job.last_error:
        out["last_error"] = job.last_error
    return out


def get(tenant_id: str, job_id: str) -> Job:
    job = Job.fetch(tenant_id, job_id)
    if job is None:
        raise NotFound("job not found")
    return job


def page(
    tenant_id: str, user_id: str, status: Optional[str], limit: int, cursor: Optional[str]
) -> tuple[list[Job], Optional[str]]:
    """A page of the tenant's jobs, newest first: 1 Query."""
    scope = f"jobs:{tenant_id}:{user_id}:{status or ''}"
    start = cursors.decode(cursor, scope)
    jobs, last = job_page(tenant_id, status, start.get("k") if start else None, limit)
    return jobs, cursors.encode({"k": last}, scope) if last else None
