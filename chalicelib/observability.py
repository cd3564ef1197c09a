"""Logger and Metrics, created once. Tracer only where X-Ray is on (it costs ~170 ms)."""

from __future__ import annotations

import os
import warnings
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics

warnings.filterwarnings("ignore", message="No application metrics to publish")

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "fieldsales")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Fieldsales"), service=SERVICE)


def tracing_enabled() -> bool:
    return bool(os.environ.get("_X_AMZN_TRACE_ID")) and os.environ.get(
        "POWERTOOLS_TRACE_DISABLED", "false"
    ).lower() not in {"1", "true"}


@lru_cache(maxsize=1)
def tracer() -> Any:
    """The Powertools Tracer, imported and created only on first use under X-Ray."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


def count(name: str, value: float = 1) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

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
