"""Expenses, budgets and statistics."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.HOURS), name="budget_alerts")
def budget_alerts(event: Any) -> None:
    """Every hour: send any budget threshold alert not yet sent (placeholder)."""
