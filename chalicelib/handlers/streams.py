"""The table's DynamoDB stream: one consumer Lambda running the projection engine.

Each record goes to each projection that reads its entity on its event (the registry,
services/flows/projections.py; the mapping's filter criteria, generated from the same
registry, keep every other record from invoking this function), each separately, so one
projection failing on a record does not keep the others from it. What a failure does
depends on its kind (``Registry.apply`` sorts them):

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
from chalicelib.observability import logger
from chalicelib.services.flows.projections import REGISTRY
from chalicelib.services.platform.projections import Change

bp = Blueprint(__name__)

STREAM_ARN = table_stream_arn()


def handle_record(record: Any) -> None:
    """Run every projection that reads this record (services/flows/projections.py), each
    separately, the record decoded once. Each projection is idempotent (it recomputes from
    current state, or marks the stream event id), so duplicate or reordered records are
    harmless. A bad record is skipped per projection (logged, counted); any other failure
    is raised, so the record is retried."""
    REGISTRY.apply(Change.of_record(record))


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
