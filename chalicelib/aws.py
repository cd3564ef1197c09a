"""boto3 clients, created lazily and cached: moto patches before first use and the
cold start pays only for the clients a route uses.

SnapStart (the API function) restores one initialised memory image into many execution
environments: a client made before the snapshot would carry its credentials and open
connections into every one of them. After a restore the cached clients (and PynamoDB's
table connections) are dropped, so each environment resolves its own credentials and
opens its own connections. What is safe to keep is kept: every client is made from a
fresh botocore session sharing one loader, whose parsed service models are what makes a
first client slow.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

from snapshot_restore_py import register_after_restore

from chalicelib.config import aws_read_timeout_s, settings


@cache
def _loader() -> Any:
    """Parsed service models and endpoint rules: no credentials, nothing per environment."""
    from botocore.loaders import create_loader

    return create_loader()


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    retries = {"mode": "standard", "max_attempts": 4}
    config = Config(retries=retries, connect_timeout=3, read_timeout=aws_read_timeout_s())
    if service == "s3":
        config = config.merge(Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    return boto3.session.Session(botocore_session=botocore_session()).client(
        service, region_name=settings().region, config=config
    )


def botocore_session() -> Any:
    """A new botocore session (its own credential resolution and connection pools) on the
    shared loader: a client made from it parses no service model or endpoint rules again."""
    import botocore.session

    core = botocore.session.Session()
    core.register_component("data_loader", _loader())
    return core


def prime(services: Iterable[str]) -> None:
    """Make these clients now (in init, before a snapshot): the service models they parse
    stay in the shared loader after a restore re-makes the clients themselves."""
    for service in services:
        client(service)


def reset_clients() -> None:
    """Forget cached clients (tests that switch moto backends call this)."""
    client.cache_clear()


@register_after_restore
def forget_clients_after_restore() -> None:
    """Runs once in every environment restored from a snapshot, before its first request
    (PynamoDB's connections: models/base.py)."""
    reset_clients()
