"""Logger and Metrics, created once. Tracer only where X-Ray is on (it costs ~170 ms)."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit  # loaded with Metrics anyway

from chalicelib.config import metrics_namespace, service_name

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
