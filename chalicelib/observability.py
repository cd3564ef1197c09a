"""Logger and Metrics, created once. Tracer only where X-Ray is on (it costs ~170 ms)."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit  # loaded with Metrics anyway

from chalicelib.config import metrics_namespace, service_name
from chalicelib.errors import UndecodableItem

warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = service_name()

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=metrics_namespace(), service=SERVICE)


@lru_cache(maxsize=1)
def tracer() -> Any:
    """The Powertools Tracer, imported and created only on first use under X-Ray."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def count(name: str, value: float = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


# A stored item a consumer cannot read (a year-1 timestamp, a missing attribute, an
# unparsable value) fails the same way on every retry: these are skipped, not retried.
CORRUPT_ITEM_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, LookupError, AttributeError)


def is_corrupt_item(exc: BaseException) -> bool:
    """True for an error that the item's own data causes (retrying cannot help); False for
    anything else (storage throttling, a network failure), which is retried."""
    status = getattr(exc, "status", None)  # a domain error (chalicelib.errors.AppError)
    return isinstance(exc, CORRUPT_ITEM_ERRORS) or (isinstance(status, int) and 400 <= status < 500)


def skip_bad_item(consumer: str, exc: BaseException, *, tenant_id: Any = None, key: Any = None) -> None:
    """Log (structured, with tenant and key) and count one skipped item; the caller goes on."""
    count("BadItemSkipped")
    logger.warning(
        "bad item skipped",
        extra={"consumer": consumer, "tenant_id": tenant_id, "key": key, "error": f"{type(exc).__name__}: {exc}"[:500]},
    )


def is_bad_record(exc: BaseException) -> bool:
    """The stream's narrower rule: only a record whose own data cannot be decoded
    (``errors.UndecodableItem``, raised by ``models.base.from_stream_image``) or
    that the domain refuses (a 4xx domain error: a year-1 timestamp) is skipped. A
    ``TypeError``, ``KeyError`` or ``AttributeError`` inside a projection is a bug: retried,
    then the dead-letter queue, never silently skipped."""
    status = getattr(exc, "status", None)
    return isinstance(exc, UndecodableItem) or (isinstance(status, int) and 400 <= status < 500)
