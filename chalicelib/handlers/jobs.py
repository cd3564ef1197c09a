"""Background jobs: the queue worker that runs them in bounded steps, and the admins' view.

The worker maps each job kind to the step function of the capability that owns the work
(org changes: ``services/flows/orgjobs.py``); the step runner, lease, retries and failure
recording are ``services/platform/jobs.py``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from chalice import Blueprint

from chalicelib.config import jobs_queue_name
from chalicelib.observability import logger
from chalicelib.schemas import Page, PageQuery, Response
from chalicelib.services.flows import orgjobs
from chalicelib.services.org import org
from chalicelib.services.platform import jobs
from chalicelib.vocabulary import JobCauseType, JobKind, JobStatus
from chalicelib.web import Req, route

bp = Blueprint(__name__)

JOBS_QUEUE_NAME = jobs_queue_name()


class JobCause(Response):
    type: JobCauseType
    id: str


class JobProgress(Response):
    done: int
    total: int


class JobOut(Response):
    id: str
    kind: JobKind
    status: JobStatus
    cause: JobCause
    progress: JobProgress
    started_at: Optional[str] = None
    finished_at: Optional[str] = None
    error_count: int
    last_error: Optional[str] = None


class JobPage(Page):
    items: list[JobOut]


class JobQuery(PageQuery):
    status: Optional[JobStatus] = None


@route(
    bp,
    "/v1/admin/jobs",
    summary="Background jobs of the tenant (org changes' re-index), newest first",
    tag="organisation",
    query=JobQuery,
    response=JobPage,
)
def list_jobs(req: Req) -> JobPage:
    org.require_admin(req.principal)
    q: JobQuery = req.query
    items, next_cursor = jobs.page(req.tenant_id, req.user_id, q.status, q.limit, q.cursor)
    return JobPage(items=[JobOut(**jobs.job_to_dict(j)) for j in items], next_cursor=next_cursor)


@route(
    bp,
    "/v1/admin/jobs/{job_id}",
    summary="One background job: status, cause and progress",
    tag="organisation",
    response=JobOut,
    name="get_job",
)
def get_job(req: Req) -> JobOut:
    org.require_admin(req.principal)
    return JobOut(**jobs.job_to_dict(jobs.get(req.tenant_id, req.path["job_id"])))


@bp.on_sqs_message(queue=JOBS_QUEUE_NAME, batch_size=1, name="job_worker")
def job_worker(event: Any) -> None:
    """One step of a job per message, within this invocation's deadline. A step that fails
    raises (the message is retried, then recorded failed on the job: see jobs.run)."""
    for record in event:
        attempt = int((record.to_dict().get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        try:
            body = json.loads(record.body)
            message = {"tenant_id": str(body["tenant_id"]), "job_id": str(body["job_id"]), "step": int(body["step"])}
        except (ValueError, KeyError, TypeError):
            logger.error("undecodable job message dropped", extra={"body": str(record.body)[:200]})
            continue
        outcome = jobs.run(message, attempt, orgjobs.STEPS, event.context.get_remaining_time_in_millis)
        logger.info("job step", extra={**message, "attempt": attempt, "outcome": outcome})
