"""The table's DynamoDB stream: one consumer Lambda, dispatching records by entity.

Returns ``batchItemFailures`` so one poison record is retried (and eventually sent to the
on-failure destination) without reprocessing the rest of its batch.
"""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.config import table_stream_arn
from chalicelib.observability import logger
from chalicelib.services import feed_index, redrive

bp = Blueprint(__name__)

STREAM_ARN = table_stream_arn()


def handle_record(record: Any) -> None:
    """Dispatch one record to the capabilities that care: the feed re-index, and the
    re-drive of effects a request could not finish after its commit.

    The feed re-index recomputes audiences from current state, and every re-driven effect
    is idempotent, so duplicate or reordered records are harmless."""
    feed_index.handle_change(record.event_name, record.old_image, record.new_image)
    redrive.handle_change(record.event_name, record.old_image, record.new_image)


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
