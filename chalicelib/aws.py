"""boto3 clients, created lazily and cached: moto patches before first use and the
cold start pays only for the clients a route uses."""

from __future__ import annotations

from functools import cache
from typing import Any

from chalicelib.config import settings


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
    if service == "s3":
        config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return boto3.session.Session().client(service, region_name=settings().region, config=config)


def reset_clients() -> None:
    """Forget cached clients (tests that switch moto backends call this)."""
    client.cache_clear()
