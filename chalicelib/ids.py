"""Server-made ids: sortable by creation time (ULID layout, Crockford base32).

Safe under SnapStart: every id draws fresh bytes from the OS (``os.urandom``, which the
kernel keeps unique per restored environment) at the moment it is made, and nothing random
is drawn or cached at import. The ``random`` module is another matter (retry jitter uses
it): its state is part of the snapshot, so every restored environment would draw the same
"random" sequence. It is reseeded from the OS after each restore.
"""

from __future__ import annotations

import os
import random
import time

from snapshot_restore_py import register_after_restore

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


@register_after_restore
def reseed_after_restore() -> None:
    random.seed()  # from os.urandom: this environment's own sequence
