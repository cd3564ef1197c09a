"""The local stand-in's switches read from the environment, importable without moto (the
infra tests' venv has none and shares tests/conftest.py)."""

from __future__ import annotations

import os

# moto as shipped copies a whole table for each transaction, and the local moto server
# applies one request at a time: a stack's start (its demo seed) took 27 s with the patches
# and 220 s without them. Where the local stack and its tests count time (a function's
# timeout, the app's AWS read timeout, a test's wait for an answer), moto as shipped gets
# this factor, so that "work that would not fit on Lambda fails locally too" still measures
# the app's work and not moto's copies.
AS_SHIPPED_SLOWDOWN = 8


def patches_wanted() -> bool:
    """False when the environment says ``MOTO_PATCHES=off`` (or 0, false, no): moto as
    shipped, without local/motoserver.py's speed-ups."""
    return os.environ.get("MOTO_PATCHES", "on").strip().lower() not in {"off", "0", "false", "no"}


def time_scale() -> int:
    """1 with the patches; ``AS_SHIPPED_SLOWDOWN`` on moto as shipped."""
    return 1 if patches_wanted() else AS_SHIPPED_SLOWDOWN
