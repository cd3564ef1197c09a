"""Approved leave: which days a user is away (the team digest does not call them quiet).

An approved ``leave`` request stores one ``LeaveSpan`` (its first and last day) in the
same transaction as the final approval (services/collab/requests.py).
"""

from __future__ import annotations

from datetime import timedelta

from chalicelib.models.collab import ApprovalRequest, LeaveSpan
from chalicelib.timeutil import format_date, parse_date


def span_of(req: ApprovalRequest) -> LeaveSpan:
    span = LeaveSpan(
        tenant_id=req.tenant_id,
        user_id=req.user_id,
        request_id=req.request_id,
        from_date=req.from_date,
        to_date=req.to_date,
    )
    span.set_keys()
    return span


def leave_days(tenant_id: str, user_id: str, lo: str, hi: str) -> set[str]:
    """The days from ``lo`` to ``hi`` (inclusive, ``YYYY-MM-DD``) the user is on approved
    leave: 1 Query of the leaves ending on or after ``lo``."""
    out: set[str] = set()
    for span in LeaveSpan.ending_from(tenant_id, user_id, lo):
        day, last = parse_date(max(span.from_date, lo)), parse_date(min(span.to_date, hi))
        while day <= last:
            out.add(format_date(day))
            day += timedelta(days=1)
    return out


def on_leave(tenant_id: str, user_id: str, date: str) -> bool:
    """Is the user on approved leave that day (1 Query)."""
    return bool(leave_days(tenant_id, user_id, date, date))
