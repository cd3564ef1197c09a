"""Server-made ids: sortable by creation time (ULID layout, Crockford base32)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def new_id(prefix: str = "", at_ms: int | None = None) -> str:
    """A 26-character ULID, optionally prefixed (``exp_01J...``)."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    body = _encode(ms, 10) + _encode(int.from_bytes(os.urandom(10), "big"), 16)
    return f"{prefix}_{body}" if prefix else body
