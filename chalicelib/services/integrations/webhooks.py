"""Finance-system webhooks, Standard Webhooks 1.0 in both directions.

Outbound: an event is put on the webhook queue as ``{tenant_id, webhook_id, type,
timestamp, data}``. The ``webhook_deliveries`` worker signs and POSTs it to the tenant's
finance URL. Every attempt carries the same ``webhook-id`` and body (only
``webhook-timestamp`` and the signature change), so the receiver can deduplicate. A non-2xx
answer or a timeout is retried with exponential backoff (the worker moves the message's
visibility to ``min(base * 2**attempt, 12 h)``); after ``MAX_ATTEMPTS`` receives the
queue's redrive policy moves it to the dead-letter queue. 410 Gone stops at once.
Deployed stages never call loopback, private, link-local or otherwise non-global targets.

Inbound: the signature is verified with the tenant's secret and the timestamp must be
within 5 minutes before anything is written. The effect and a receipt keyed by the
``webhook-id`` are one transaction, the receipt conditional on not existing: a repeated
``webhook-id`` (also ten at once) is acknowledged and applied once.
"""

import hashlib
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, ValidationError
from pynamodb.exceptions import PutError
from standardwebhooks import Webhook

from chalicelib.aws import client
from chalicelib.config import settings, webhook_backoff_base_s
from chalicelib.errors import BadRequest, Unauthorized, Unprocessable
from chalicelib.jsonsafe import check_depth
from chalicelib.models.base import condition_failed
from chalicelib.models.webhooks import DeliveryRecord, InboundReceipt, OutboxEntry
from chalicelib.observability import count, is_corrupt_item, logger, skip_bad_item
from chalicelib.services.org import org
from chalicelib.timeutil import iso, stated, utcnow

MAX_ATTEMPTS = 8  # the queue's maxReceiveCount (local/resources.py, infra)
MAX_BACKOFF_S = 12 * 3600
TIMEOUT_S = 5.0
RECEIPT_RETENTION_S = 7 * 24 * 3600
OUTBOX_GRACE_S = 120
USER_AGENT = "fieldsales-webhooks/1"


def backoff_base_s() -> float:
    return webhook_backoff_base_s()


def backoff_s(attempt: int) -> int:
    """Visibility before attempt ``attempt + 1``: base * 2**attempt, at most 12 h."""
    return int(min(backoff_base_s() * (2 ** max(attempt, 0)), MAX_BACKOFF_S))


def stable_id(kind: str, key: str) -> str:
    """The same event always gets the same ``webhook-id``."""
    return "msg_" + hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]


def _now_iso() -> str:
    return iso(utcnow())


# ---------------------------------------------------------------- outbound: queueing
def message_body(tenant_id: str, type_: str, data: dict[str, Any], webhook_id: str) -> dict[str, Any]:
    return {"tenant_id": tenant_id, "webhook_id": webhook_id, "type": type_, "timestamp": _now_iso(), "data": data}


def _send(body: dict[str, Any]) -> None:
    url = settings().webhook_queue_url
    if not url:
        logger.warning("WEBHOOK_QUEUE_URL is not set: outbound webhook dropped", extra={"type": body["type"]})
        return
    client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body, separators=(",", ":")))


def enqueue(tenant_id: str, type_: str, data: dict[str, Any], webhook_id: str) -> None:
    _send(message_body(tenant_id, type_, data, webhook_id))


def outbox_entry(tenant_id: str, type_: str, data: dict[str, Any], webhook_id: str) -> OutboxEntry:
    """An entry to commit in the same transaction as its cause; :func:`flush` queues it."""
    body = message_body(tenant_id, type_, data, webhook_id)
    return OutboxEntry(
        tenant_id=tenant_id, webhook_id=webhook_id, type=type_, payload=body, created_at=body["timestamp"]
    )


def flush(entry: OutboxEntry) -> None:
    _send(entry.payload)
    entry.set_keys()
    entry.delete()


def sweep_outbox(older_than_s: int = OUTBOX_GRACE_S) -> int:
    """Queue entries a crashed request left behind (the hourly job); same webhook-id.
    1 Query per outbox shard (``OUTBOX_SHARDS``) and a send + delete per entry."""
    cutoff = iso(utcnow() - timedelta(seconds=older_than_s))
    done = 0
    for entry in OutboxEntry.older_than(cutoff):
        try:
            flush(entry)
        except Exception as exc:  # noqa: BLE001 - a corrupt entry must not stop the others
            if not is_corrupt_item(exc):
                raise
            skip_bad_item("sweep_outbox", exc, tenant_id=entry.tenant_id, key=entry.webhook_id)
            continue
        done += 1
    return done


# ---------------------------------------------------------------- outbound: delivery
class RetryLater(Exception):
    def __init__(self, delay_s: int, reason: str) -> None:
        super().__init__(f"webhook delivery failed ({reason}); retry in {delay_s} s")
        self.delay_s = delay_s
        self.reason = reason


def target_allowed(url: str, allow_private: bool) -> tuple[bool, str]:
    """Refuse anything but public http(s) targets unless private ones are allowed (local)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        return False, "unsupported URL"
    if allow_private:
        return True, ""
    if parsed.scheme != "https":
        return False, "deployed stages deliver over https only"
    try:
        infos = socket.getaddrinfo(parsed.hostname, parsed.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, ValueError):
        return False, "host does not resolve"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        mapped = getattr(address, "ipv4_mapped", None)
        address = mapped or address
        if not address.is_global or address.is_multicast:
            return False, f"non-public target {address}"
    return True, ""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer (3xx, retried), never followed to another host


@cache
def _opener() -> urllib.request.OpenerDirector:
    """Built on first delivery: its TLS context loads the CA store (~100 ms of every cold
    start otherwise), which only the webhook worker needs."""
    return urllib.request.build_opener(_NoRedirects)


def sign(secret: str, webhook_id: str, timestamp: datetime, payload: str) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, timestamp, payload),
    }


def _post(url: str, payload: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(
        url,
        data=payload.encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    try:
        with _opener().open(request, timeout=TIMEOUT_S) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _record(body: dict[str, Any], outcome: str, attempts: int, status: Optional[int], detail: str = "") -> None:
    DeliveryRecord(
        tenant_id=body["tenant_id"],
        webhook_id=body["webhook_id"],
        type=body["type"],
        outcome=outcome,
        attempts=attempts,
        last_status=status,
        detail=detail[:500] or None,
        updated_at=_now_iso(),
    ).save()


@dataclass(frozen=True)
class Outcome:
    outcome: str  # delivered | gone | refused | no_integration
    status: Optional[int] = None


def deliver(body: dict[str, Any], attempt: int) -> Outcome:
    """One attempt (``attempt`` = the message's receive count). Raises :class:`RetryLater`."""
    integration = org.get_finance_integration(body["tenant_id"])
    if integration is None:
        return Outcome("no_integration")
    allowed, why = target_allowed(integration.url, settings().allow_private_webhook_targets)
    if not allowed:
        _record(body, "refused", attempt, None, why)
        count("WebhookRefused")
        return Outcome("refused")
    payload = json.dumps(
        {"type": body["type"], "timestamp": body["timestamp"], "data": body["data"]}, separators=(",", ":")
    )
    headers = sign(integration.secret, body["webhook_id"], datetime.now(UTC), payload)
    try:
        status: Optional[int] = _post(integration.url, payload, headers)
        reason = f"HTTP {status}"
    except (OSError, ValueError) as exc:  # timeouts, refused connections, bad URLs
        status, reason = None, type(exc).__name__
    if status is not None and 200 <= status < 300:
        _record(body, "delivered", attempt, status)
        count("WebhookDelivered")
        return Outcome("delivered", status)
    if status == 410:
        _record(body, "gone", attempt, status)
        return Outcome("gone", status)
    count("WebhookRetry")
    if attempt >= MAX_ATTEMPTS:
        _record(body, "dead", attempt, status, reason)
    raise RetryLater(backoff_s(attempt), reason)


def delay_retry(receipt_handle: str, delay_s: int) -> None:
    url = settings().webhook_queue_url
    if url and receipt_handle:
        client("sqs").change_message_visibility(QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s)


def delivery_record(tenant_id: str, webhook_id: str) -> Optional[DeliveryRecord]:
    return DeliveryRecord.fetch(tenant_id, webhook_id, consistent_read=True)


# ---------------------------------------------------------------- inbound
class PaymentUpdated(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    expense_id: str
    status: str
    paid_at: Optional[str] = None
    reference: Optional[str] = None


class BudgetUpdated(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    unit_type: str
    unit_id: str
    period: str
    amount: str
    currency: str


class RatesUpdated(BaseModel):
    """``fx.rates_updated``: tenant currency per unit of each currency, for one day."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    date: str
    rates: dict[str, str]


def verify(tenant_id: str, raw_body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """Signature and timestamp (5 minutes either way) or 401; nothing is written before."""
    integration = org.get_finance_integration(tenant_id)
    if integration is None:
        raise Unauthorized("webhook signature is not valid", code="invalid_signature")

    wanted = {k: headers.get(k, "") for k in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    try:
        payload = Webhook(integration.secret).verify(raw_body, wanted)
    except RecursionError:  # signed, then too deep to parse: the sender's body, not its signature
        raise BadRequest("the body is nested too deeply", code="invalid_json") from None
    except Exception:  # noqa: BLE001 - any verification failure (bad base64, stale, ...) is 401
        count("WebhookInboundRejected")
        raise Unauthorized("webhook signature is not valid", code="invalid_signature") from None
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    webhook_id = wanted["webhook-id"]
    if not 1 <= len(webhook_id) <= 255 or not webhook_id.isprintable():
        raise BadRequest("webhook-id must be 1 to 255 printable characters", code="invalid_webhook_id")
    return payload


def event_digest(type_: str, data: dict[str, Any]) -> str:
    """What makes two deliveries one event: its type and data, canonically (a sender's
    retries may differ in the body's own ``timestamp`` or in JSON spacing)."""
    canonical = json.dumps({"type": type_, "data": data}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def receipt(
    tenant_id: str, webhook_id: str, type_: str, ref_id: Optional[str] = None, digest: Optional[str] = None
) -> InboundReceipt:
    return InboundReceipt(
        tenant_id=tenant_id,
        webhook_id=webhook_id,
        type=type_,
        ref_id=ref_id,
        digest=digest,
        received_at=_now_iso(),
        ttl=timedelta(seconds=RECEIPT_RETENTION_S),
    )


def record_receipt(rec: InboundReceipt) -> None:
    """Store a receipt written on its own (an event whose effect is idempotent by itself);
    a concurrent twin having stored it first is fine."""
    try:
        rec.save(condition=InboundReceipt.PK.does_not_exist())
    except PutError as exc:
        if not condition_failed(exc):
            raise


def already_received(tenant_id: str, webhook_id: str, digest: Optional[str] = None) -> bool:
    """True for a webhook-id already applied to this same event (a retry: acknowledge it).
    The same id with another event is not a retry (Standard Webhooks: one id per message,
    kept across its retries): 422 ``webhook_id_reused``, nothing applied or notified, and the
    sender sees its own defect instead of a 200 for an event that was dropped."""
    rec = InboundReceipt.fetch(tenant_id, webhook_id, consistent_read=True)
    if rec is None:
        return False
    if digest is not None and rec.digest is not None and rec.digest != digest:
        count("WebhookIdReused")
        raise Unprocessable("this webhook-id was already used for another event", code="webhook_id_reused")
    return True


@dataclass(frozen=True)
class Inbound:
    """A verified inbound event: which finance event it is and its validated data."""

    webhook_id: str
    type: str
    event: BaseModel
    digest: str  # the event's type and data, canonically: one webhook-id, one event
    stated_at: Optional[str] = None  # the body's own timestamp (RFC 3339 UTC), if it has one


EVENT_MODELS: dict[str, type[BaseModel]] = {
    "expense.payment_updated": PaymentUpdated,
    "budget.updated": BudgetUpdated,
    "fx.rates_updated": RatesUpdated,
}


def receive(tenant_id: str, raw_body: bytes, headers: dict[str, str]) -> Inbound:
    """Verify and parse an inbound event; the caller applies it (see handlers/webhooks.py)
    and reports the outcome with :func:`acknowledge`."""
    check_depth(raw_body)  # the verifier parses the body: never let it recurse deep
    payload = verify(tenant_id, raw_body, headers)
    webhook_id = headers["webhook-id"]
    type_ = payload.get("type")
    data = payload.get("data")
    if not isinstance(type_, str) or not isinstance(data, dict):
        raise BadRequest("the body must be {type, timestamp?, data}", code="invalid_body")
    stated_at = stated(payload.get("timestamp"), "timestamp")  # "latest wins" runs on our clock
    model = EVENT_MODELS.get(type_)
    if model is None:
        raise Unprocessable(f"unknown event type {type_!r}", code="unknown_event_type")
    try:
        event = model.model_validate(data)
    except ValidationError as err:
        raise BadRequest("the event data is not valid", code="invalid_body", details=str(err)[:500]) from None
    return Inbound(
        webhook_id=webhook_id, type=type_, event=event, digest=event_digest(type_, data), stated_at=stated_at
    )


STALE = "stale"  # recorded, but older than the event already applied: changes nothing


def acknowledge(inbound: Inbound, applied: bool | str) -> dict[str, Any]:
    """The answer: ``applied``, ``duplicate`` (this webhook-id was applied before) or
    ``stale`` (an event older than the one applied, delivered out of order)."""
    status = applied if isinstance(applied, str) else ("applied" if applied else "duplicate")
    count(
        {"applied": "WebhookInboundApplied", "duplicate": "WebhookInboundDuplicate"}.get(status, "WebhookInboundStale")
    )
    return {"webhook_id": inbound.webhook_id, "status": status}
