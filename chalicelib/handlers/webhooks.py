"""Finance-system webhooks: inbound receiver and the outbound delivery worker."""

from __future__ import annotations

import os
from typing import Any

from chalice import Blueprint

bp = Blueprint(__name__)

WEBHOOK_QUEUE_NAME = os.environ.get("WEBHOOK_QUEUE_NAME", "fieldsales-webhooks")


@bp.on_sqs_message(queue=WEBHOOK_QUEUE_NAME, batch_size=1, name="webhook_deliveries")
def webhook_deliveries(event: Any) -> None:
    """Deliver one signed outbound webhook; raise to retry with backoff (placeholder)."""
