"""The table's DynamoDB stream: one consumer Lambda, dispatching records by entity.

Each record goes to each consumer separately, so one consumer failing on a record does
not keep the other from it. What a failure does depends on its kind:

- a **bad record** (its own data cannot be decoded: an image that is not its entity,
  ``UndecodableItem``, or a value the domain refuses, a 4xx domain error such as a year-1
  timestamp; see ``observability.is_bad_record``) fails the same way on every retry, and a
  retried record holds back every later record of its shard. It is skipped: logged with
  its tenant and key, counted as ``BadItemSkipped``, and the batch goes on. It is *not*
  reported as a batch item failure.
- anything else (throttling, a network error, and a bug: a ``TypeError`` or ``KeyError``
  inside a projection) is reported in ``batchItemFailures``, so Lambda retries from that
  record and, after the mapping's retries, sends it to the on-failure destination (the
  stream DLQ) with its shard and sequence numbers to re-drive it.

An org change (a User's or a Department's) is never re-indexed here: ``orgjobs`` creates
its job (idempotently, named by the change), and ``jobs`` re-sends a new job's first
message (services/platform/jobs.py).
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.config import table_stream_arn
from chalicelib.observability import is_bad_record, logger, skip_bad_item
from chalicelib.services.crm import list_index
from chalicelib.services.feed import feed_index
from chalicelib.services.flows import orgjobs, redrive
from chalicelib.services.performance import actuals, digest, oppstats
from chalicelib.services.platform import jobs
from chalicelib.services.push import fanout
from chalicelib.services.reports import figures, reports
from chalicelib.services.sync import changelog

bp = Blueprint(__name__)

STREAM_ARN = table_stream_arn()


def handle_record(record: Any) -> None:
    """Dispatch one record to the capabilities that care: the feed and list re-indexes, and the
    re-drive of effects a request could not finish after its commit.

    The feed re-index recomputes audiences from current state, and every re-driven effect
    is idempotent, so duplicate or reordered records are harmless."""
    retry: Exception | None = None
    consumers = (
        ("feed_index", feed_index.handle_change),
        ("list_index", list_index.handle_change),
        ("redrive", redrive.handle_change),
        ("actuals", lambda name, old, new: actuals.handle_change(record.event_id, old, new)),
        ("oppstats", oppstats.handle_change),
        ("digest", digest.handle_change),
        ("orgjobs", orgjobs.handle_change),
        ("jobs", jobs.handle_change),
        ("push", fanout.handle_change),
        ("report_figures", lambda name, old, new: figures.handle_change(record.event_id, old, new)),
        ("reports", reports.handle_change),
        ("sync_changelog", changelog.handle_change),
    )
    for name, consumer in consumers:
        try:
            consumer(record.event_name, record.old_image, record.new_image)
        except Exception as exc:  # noqa: BLE001 - sorted below: skip a corrupt record, retry the rest
            if not is_bad_record(exc):
                retry = retry or exc
                continue
            tenant, key = _identity(record)
            skip_bad_item(f"table_stream.{name}", exc, tenant_id=tenant, key=key)
    if retry is not None:
        raise retry


def _identity(record: Any) -> tuple[Any, Any]:
    """(tenant, "PK|SK") of a record, for the log line; never raises."""
    try:
        image = record.new_image or record.old_image or {}
        tenant = (image.get("tenant_id") or {}).get("S")
        return tenant, f"{(image.get('PK') or {}).get('S')}|{(image.get('SK') or {}).get('S')}"
    except Exception:  # noqa: BLE001 - a record too broken to name
        return None, None


@bp.on_dynamodb_record(stream_arn=STREAM_ARN, batch_size=100)
def table_stream(event: Any) -> dict[str, list[dict[str, str]]]:
    failures: list[dict[str, str]] = []
    for record in event:
        try:
            handle_record(record)
        except Exception:  # noqa: BLE001 - isolate the poison record, keep the batch
            logger.exception("stream record failed", extra={"event_id": record.event_id})
            failures.append({"itemIdentifier": record.sequence_number})
    return {"batchItemFailures": failures}
