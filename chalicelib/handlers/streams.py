"""The table's DynamoDB stream: one consumer Lambda, dispatching records by entity.

Returns ``batchItemFailures`` so one poison record is retried (and eventually sent to the
on-failure destination) without reprocessing the rest of its batch.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Blueprint

from chalicelib.observability import logger

bp = Blueprint(__name__)

STREAM_ARN = os.environ.get(
    "TABLE_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/fieldsales/stream/1970-01-01T00:00:00.000"
)


def handle_record(record: Any) -> None:
    """Dispatch one record to the capabilities that care: the feed and list re-indexes, and the
    re-drive of effects a request could not finish after its commit.

    The feed re-index recomputes audiences from current state, and every re-driven effect
    is idempotent, so duplicate or reordered records are harmless."""
    from chalicelib.services import feed_index, list_index, redrive

    feed_index.handle_change(record.event_name, record.old_image, record.new_image)
    list_index.handle_change(record.event_name, record.old_image, record.new_image)
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
