"""Opaque, signed cursors: valid only for the same user and query.

Each call names its query (``scope``); the caller is bound by the HTTP edge for every
request (:func:`bind_caller`, called by chalicelib/web.py once authenticated), and every
cursor's signature covers it: a cursor issued to one user is refused for any other on
every list, whatever scope a list names (GET /v1/departments named none: issue 24 item 5).
A cursor that does not verify is well-formed input that means nothing for this query:
422 ``invalid_cursor`` (semantically invalid), like any other reference to nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar, Token
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from chalicelib.aws import client
from chalicelib.config import cursor_secret_source
from chalicelib.errors import Unprocessable


@lru_cache(maxsize=1)
def _secret() -> bytes:
    """Deployed: the Secrets Manager secret named by CURSOR_SECRET_ARN, read once per
    container. Else CURSOR_SECRET; local stages fall back to a development key."""
    arn, secret = cursor_secret_source()
    if arn:
        return client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"].encode()
    return secret.encode()


_caller: ContextVar[str] = ContextVar("cursor_caller", default="")


def bind_caller(tenant_id: str, user_id: str) -> Token[str]:
    """Bind the cursors of this request to its caller (reset with :func:`unbind`)."""
    return _caller.set(f"{tenant_id}\x00{user_id}")


def unbind(token: Token[str]) -> None:
    _caller.reset(token)


def _mac(payload: bytes, scope: str) -> bytes:
    bound = _caller.get().encode() + b"\x00" + scope.encode()
    return hmac.new(_secret(), bound + b"\x00" + payload, hashlib.sha256).digest()[:16]


def encode(position: dict[str, Any] | None, scope: str) -> str | None:
    if not position:
        return None
    payload = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(_mac(payload, scope) + payload).decode().rstrip("=")


def decode(token: str | None, scope: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        mac, payload = raw[:16], raw[16:]
        if len(mac) != 16 or not hmac.compare_digest(mac, _mac(payload, scope)):
            raise ValueError("signature")
        position = json.loads(payload)
        if not isinstance(position, dict):
            raise ValueError("shape")
        return position
    except (ValueError, TypeError, UnicodeDecodeError):
        raise Unprocessable("cursor is not valid for this query", code="invalid_cursor") from None


Read = Callable[[Optional[str], int], Sequence[Any]]  # (after, n) -> up to n items, in order


@dataclass(frozen=True)
class Merged:
    """A page merged from several ordered streams: its items (``(stream, item)``, in order),
    every stream's position after it, and whether any stream holds more."""

    items: list[tuple[str, Any]]
    position: dict[str, Any]
    more: bool


def merge(
    streams: Mapping[str, Read], position: dict[str, Any], limit: int, sort_key: Callable[[Any], str], descending: bool
) -> Merged:
    """One page of ``limit`` from several streams read in one order (the feed's ``types=``
    and index shards, a list's live and archived partitions, sync's snapshot): each stream
    is read once (``limit + 1`` items, strictly after its position in ``position``) and the
    results merged by ``sort_key``; one request per stream, and a page is full whenever any
    stream holds more. An item in two streams under one sort key (an entry moving between
    shards) is answered once and moves both streams on. A position that is not a string is
    422 ``invalid_cursor``."""
    fetched: list[tuple[str, str, Any]] = []
    for name, read in streams.items():
        after = position.get(name)
        if after is not None and not isinstance(after, str):
            raise Unprocessable("cursor is not valid for this query", code="invalid_cursor")
        fetched.extend((sort_key(item), name, item) for item in read(after, limit + 1))
    fetched.sort(key=lambda x: x[0], reverse=descending)
    keys = list(dict.fromkeys(k for k, _, _ in fetched))
    last = keys[min(limit, len(keys)) - 1] if keys and limit > 0 else None
    taken = [x for x in fetched if last is not None and (x[0] >= last if descending else x[0] <= last)]
    after_page = dict(position)
    items: list[tuple[str, Any]] = []
    seen: set[str] = set()
    for key, name, item in taken:
        after_page[name] = key  # in order: the last one wins
        if key not in seen:
            seen.add(key)
            items.append((name, item))
    return Merged(items, after_page, len(keys) > limit)
