"""Domain events on EventBridge (``plan.reminder_due``, ``budget.threshold_crossed``...)."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.errors import ServiceUnavailable

SOURCE = "fieldsales"


def emit(detail_type: str, tenant_id: str, detail: dict[str, Any]) -> None:
    """Put one event on the bus; ``detail`` carries ``tenant_id`` for subscribers."""
    entry = {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps({"tenant_id": tenant_id, **detail}, separators=(",", ":"), default=str),
        "EventBusName": settings().event_bus_name,
    }
    result = client("events").put_events(Entries=[entry])
    if result.get("FailedEntryCount"):
        raise ServiceUnavailable("could not publish event", code="event_publish_failed")
