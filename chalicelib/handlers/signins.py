"""Fieldwork sign-in: check-in / check-out, visits."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

bp = Blueprint(__name__)


@bp.schedule(Rate(15, unit=Rate.MINUTES), name="close_open_visits")
def close_open_visits(event: Any) -> None:
    """Close visits left open past the end of their day (placeholder)."""
