"""Background jobs: bounded, resumable work a request starts and a queue worker finishes.

- ``Job``: ``PK = T#t#JOB#<job_id>``, ``SK = JOB``; listed per tenant newest first in GSI2
  (``T#t#JOBS``) and per status in GSI1 (``T#t#JOBS#<status>``), both sorted by
  ``<created_at>#<job_id>``. ``cursor`` and ``params`` are JSON (what the job's kind needs to
  resume and to know its subject); ``lease`` / ``lease_until`` name the invocation that runs
  it now, so two deliveries of one job never run it at once.
"""

from __future__ import annotations

import json
from typing import Any, Optional

from pynamodb.attributes import NumberAttribute, UnicodeAttribute

from chalicelib.models.base import BaseItem, tkey

JOB_SK = "JOB"


class Job(BaseItem, discriminator="Job"):
    job_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute(default="queued")  # queued | running | done | failed
    cause_type = UnicodeAttribute()
    cause_id = UnicodeAttribute()
    params = UnicodeAttribute(default="{}")  # JSON
    cursor = UnicodeAttribute(null=True)  # JSON; None: start (or finished)
    done = NumberAttribute(default=0)
    total = NumberAttribute(default=0)
    error_count = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    lease = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(default=0)  # epoch ms
    steps = NumberAttribute(default=0)  # invocations that ran a step
    created_at = UnicodeAttribute()
    started_at = UnicodeAttribute(null=True)
    finished_at = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)

    @classmethod
    def key_of(cls, tenant_id: str, job_id: str) -> tuple[str, str]:
        return tkey(tenant_id, "JOB", job_id), JOB_SK

    @classmethod
    def fetch(cls, tenant_id: str, job_id: str) -> Optional[Job]:
        """The job as stored now (read consistently: a worker decides from it)."""
        return cls.lookup(cls.key_of(tenant_id, job_id), consistent_read=True)

    @classmethod
    def list_pk(cls, tenant_id: str, status: Optional[str] = None) -> str:
        return tkey(tenant_id, "JOBS", status) if status else tkey(tenant_id, "JOBS")

    def set_keys(self) -> None:
        self.PK, self.SK = self.key_of(self.tenant_id, self.job_id)
        order = f"{self.created_at}#{self.job_id}"
        self.GSI1PK, self.GSI1SK = self.list_pk(self.tenant_id, self.status), order
        self.GSI2PK, self.GSI2SK = self.list_pk(self.tenant_id), order

    @property
    def param_map(self) -> dict[str, Any]:
        return dict(json.loads(self.params or "{}"))

    @property
    def position(self) -> Optional[dict[str, Any]]:
        return json.loads(self.cursor) if self.cursor else None

    @staticmethod
    def encode(value: Optional[dict[str, Any]]) -> Optional[str]:
        return json.dumps(value, separators=(",", ":"), sort_keys=True) if value is not None else None


def job_page(
    tenant_id: str, status: Optional[str], start: Optional[dict[str, Any]], limit: int
) -> tuple[list[Job], Optional[dict[str, Any]]]:
    """Up to ``limit`` jobs, newest first (per status, or all), and the key after the last
    one when more may follow. 1 Query (``limit + 1`` items, to know whether more follow)."""
    index = "GSI1" if status else "GSI2"
    result = Job.gsi1 if status else Job.gsi2
    rows = list(
        result.query(
            Job.list_pk(tenant_id, status),
            scan_index_forward=False,
            limit=limit + 1,
            page_size=limit + 1,
            last_evaluated_key=start,
        )
    )
    jobs = [r for r in rows if isinstance(r, Job)]
    if len(jobs) > limit:
        jobs = jobs[:limit]
        return jobs, jobs[-1].start_key(index)
    return jobs, None


__all__ = ["Job", "JOB_SK", "job_page"]
