"""expenses capability (placeholder until its issue lands)."""

from __future__ import annotations

from chalice import Blueprint

bp = Blueprint(__name__)
