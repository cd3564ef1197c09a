"""Operations an administrator runs by hand: the one-off index backfill after an upgrade.

Invoked directly (``aws lambda invoke``, or ``POST /backfill`` on the local stack's control
port), never by a schedule or a client: see README "Upgrading".
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.errors import AppError
from chalicelib.services.flows import backfill

bp = Blueprint(__name__)


@bp.lambda_function(name="backfill_indexes")
def backfill_indexes(event: Any, context: Any) -> dict[str, Any]:
    """Backfill the write-time indexes of one tenant (or every tenant) from a cursor, until
    done or 10 s before the invocation's time runs out; answers the cursor to go on from."""
    try:
        return backfill.handle_event(event, context.get_remaining_time_in_millis)
    except AppError as exc:
        return {"done": False, "error": {"code": exc.code, "message": exc.message}}
