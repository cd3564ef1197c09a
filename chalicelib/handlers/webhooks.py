"""Finance-system webhooks: inbound receiver and the outbound delivery worker."""

import json
from collections.abc import Callable
from typing import Any

from chalice import Blueprint

from chalicelib.config import webhook_queue_name
from chalicelib.observability import logger
from chalicelib.schemas import Response
from chalicelib.services.expenses import budgets, expenses, fx
from chalicelib.services.integrations import webhooks
from chalicelib.web import Req, route

bp = Blueprint(__name__)

WEBHOOK_QUEUE_NAME = webhook_queue_name()


# Each inbound event type (see webhooks.EVENT_MODELS) and the service function applying it.
APPLY: dict[str, Callable[[webhooks.Inbound, str], bool | str]] = {
    "expense.payment_updated": lambda inbound, tenant_id: expenses.apply_payment_update(
        tenant_id, inbound.webhook_id, inbound.event, inbound.digest, inbound.stated_at
    ),
    "budget.updated": lambda inbound, tenant_id: budgets.apply_push(
        tenant_id, inbound.webhook_id, inbound.event, inbound.digest, inbound.stated_at
    ),
    "fx.rates_updated": lambda inbound, tenant_id: fx.apply_rates_webhook(tenant_id, inbound),
}


class WebhookAck(Response):
    webhook_id: str
    status: str  # applied | duplicate | stale


@route(
    bp,
    "/v1/webhooks/finance/{tenant_id}",
    method="POST",
    summary=(
        "Finance system events (Standard Webhooks 1.0: webhook-id, webhook-timestamp, webhook-signature). "
        "Body {type, timestamp?, data}; types expense.payment_updated, budget.updated and fx.rates_updated. "
        "A repeated webhook-id is acknowledged and applied once; the same webhook-id with another "
        "event is 422 webhook_id_reused. Bodies over 256 KiB: 413."
    ),
    tag="webhooks",
    auth=False,
    response=WebhookAck,
    errors=(401, 404, 409, 413),
    name="receive_finance_webhook",
)
def finance_webhook(req: Req) -> dict[str, Any]:
    return receive_finance(req.path["tenant_id"], req.raw_body, req.headers)


def receive_finance(tenant_id: str, raw_body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Verify and parse (the body only after its signature: anything unsigned is 401), then
    hand each event type to the service that owns its effect."""
    inbound = webhooks.receive(tenant_id, raw_body, headers)
    applied = APPLY[inbound.type](inbound, tenant_id)
    return webhooks.acknowledge(inbound, applied)


@bp.on_sqs_message(queue=WEBHOOK_QUEUE_NAME, batch_size=1, name="webhook_deliveries")
def webhook_deliveries(event: Any) -> None:
    """Deliver one signed outbound webhook. On failure the message's visibility becomes the
    backoff delay and the invocation raises, so SQS redelivers it then (same webhook-id);
    after the queue's maxReceiveCount it moves to the dead-letter queue."""
    for record in event:
        raw = record.to_dict()
        attempt = int((raw.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
        try:
            body = json.loads(record.body)
        except ValueError:
            logger.error("undecodable webhook message dropped")
            continue
        try:
            outcome = webhooks.deliver(body, attempt)
        except webhooks.RetryLater as retry:
            logger.warning(
                "webhook delivery failed",
                extra={"webhook_id": body.get("webhook_id"), "attempt": attempt, "retry_in_s": retry.delay_s},
            )
            webhooks.delay_retry(record.receipt_handle, retry.delay_s)
            raise
        logger.info("webhook delivery", extra={"webhook_id": body.get("webhook_id"), "outcome": outcome.outcome})
