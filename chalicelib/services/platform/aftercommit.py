"""Effects after a commit point.

Once a request's own write is stored, its caller gets the answer of that write whatever
happens next: a 503 there would invite a retry that either does the thing twice or finds
nothing left to do (409). Every effect after the commit (a feed fan-out, a message, an
alert check, a webhook) is idempotent, so it is tried here, a few times, for the user to
see it at once; if it still fails it is left to its durable re-drive, which does it later
exactly once:

=========================  ===============================================================
effect                     re-drive
=========================  ===============================================================
feed fan-out of activity   the activity's stream INSERT (services/feed/feed_index.py)
message (comment, expense  the cause's stream record (services/flows/redrive.py); messages are
approval, result, paid)    deduplicated by key, so the re-drive after a success is a no-op
budget alert check         the budget's due marker, swept by the budget-alerts schedule
finance webhook            its outbox entry, committed with the cause, swept hourly
project memberships        the project's stream record (services/flows/redrive.py), from the
                           project as stored and the people of the record's old image
CRM list / nearby entries  the object's stream record (services/crm/list_index.py)
=========================  ===============================================================

A deferred effect is logged with its context and counted (``AfterCommitDeferred``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional, TypeVar

from chalicelib.observability import count, logger

T = TypeVar("T")
ATTEMPTS = 3
BACKOFF_S = 0.05


def settle(effect: str, step: Callable[[], T], **context: Any) -> Optional[T]:
    """Run ``step`` (idempotent) up to ``ATTEMPTS`` times; None when it is deferred."""
    for attempt in range(ATTEMPTS):
        try:
            return step()
        except Exception:  # noqa: BLE001 - the cause is committed; the re-drive finishes this
            if attempt + 1 == ATTEMPTS:
                logger.exception("after-commit effect deferred to its re-drive", extra={"effect": effect, **context})
                count("AfterCommitDeferred")
                return None
            time.sleep(BACKOFF_S * 2**attempt)
    return None  # pragma: no cover - the loop always returns
