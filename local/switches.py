"""The local stand-in's switches read from the environment, importable without moto (the
infra tests' venv has none and shares tests/conftest.py)."""

from __future__ import annotations

import os


def patches_wanted() -> bool:
    """False when the environment says ``MOTO_PATCHES=off`` (or 0, false, no): moto as
    shipped, without local/motoserver.py's speed-ups."""
    return os.environ.get("MOTO_PATCHES", "on").strip().lower() not in {"off", "0", "false", "no"}
