"""Schedule management: plans, logs, calendar, plan-vs-log comparison, plan reminders."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.MINUTES), name="plan_reminders")
def plan_reminders(event: Any) -> None:
    """Every minute: deliver the plan reminders that are due (placeholder)."""
