"""Idempotency-Key: the same key from the same user with the same request replays the
first response; a different request under the key is 422 ``idempotency_key_reused``.

A conditional put takes the key; concurrent duplicates wait for the first to finish and
replay its response. A failure releases the key, and a crashed holder's lock expires, so
no key is ever stuck. Records live 24 h (TTL). Own implementation rather than Powertools'
so every record stays tenant-led (``T#<tenant>#IDEM#...``) for IAM LeadingKeys.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.auth import Principal
from chalicelib.errors import BadRequest, Conflict, IdempotencyKeyReused
from chalicelib.jsonsafe import depth_exceeds
from chalicelib.models.base import condition_failed
from chalicelib.models.idempotency import IdempotencyRecord
from chalicelib.observability import logger

KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # the pattern the OpenAPI document publishes
LOCK_S = 30
RETENTION_S = 24 * 3600
WAIT_S = 12.0
COMPLETE_ATTEMPTS = 3


def fingerprint(method: str, path: str, raw_body: bytes) -> str:
    try:
        if depth_exceeds(raw_body or b""):  # kept as sent: canonicalising it would recurse deep
            raise ValueError("too deep")
        canonical = json.dumps(json.loads(raw_body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = raw_body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _acquire(rec: IdempotencyRecord, now: float) -> bool:
    try:
        rec.save(
            condition=IdempotencyRecord.PK.does_not_exist()
            | ((IdempotencyRecord.status == "in_progress") & (IdempotencyRecord.locked_until < int(now)))
        )
        return True
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise


def _await_existing(principal: Principal, key_hash: str, fp: str) -> tuple[int, Any] | None:
    """Replay a finished twin, refuse a different body; None when the holder died."""
    deadline = time.monotonic() + WAIT_S
    delay = 0.05
    while True:
        rec = IdempotencyRecord.fetch(principal.tenant_id, principal.user_id, key_hash)
        if rec is None:
            return None
        if rec.fingerprint != fp:
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
        if rec.status == "completed":
            return int(rec.response_status or 200), json.loads(rec.response_body or "null")
        if rec.locked_until < time.time():
            return None
        if time.monotonic() > deadline:
            raise Conflict("a request with this Idempotency-Key is still in progress", code="request_in_progress")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def run(
    principal: Principal, key: str, method: str, path: str, raw_body: bytes, call: Callable[[], tuple[int, Any]]
) -> tuple[int, Any]:
    if not KEY_RE.match(key):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces", code="invalid_idempotency_key"
        )
    key_hash = IdempotencyRecord.hash_key(key)
    fp = fingerprint(method, path, raw_body)
    for _ in range(3):
        now = time.time()
        rec = IdempotencyRecord(
            tenant_id=principal.tenant_id,
            user_id=principal.user_id,
            key_hash=key_hash,
            fingerprint=fp,
            status="in_progress",
            locked_until=int(now + LOCK_S),
            ttl=timedelta(seconds=RETENTION_S),
        )
        if _acquire(rec, now):
            break
        replay = _await_existing(principal, key_hash, fp)
        if replay is not None:
            return replay
    else:
        raise Conflict("a request with this Idempotency-Key is still in progress", code="request_in_progress")

    try:
        status, payload = call()
    except BaseException:
        rec.delete(condition=IdempotencyRecord.fingerprint == fp)
        raise
    # The effect is committed: from here on the caller gets its answer, never a 503 that
    # would invite a retry under a released key. Recording the answer is retried; if it
    # still fails, the key stays in progress until its lock expires (logged).
    for attempt in range(COMPLETE_ATTEMPTS):
        try:
            rec.update(
                actions=[
                    IdempotencyRecord.status.set("completed"),
                    IdempotencyRecord.response_status.set(status),
                    IdempotencyRecord.response_body.set(json.dumps(payload, separators=(",", ":"))),
                ]
            )
            break
        except Exception:  # noqa: BLE001 - see above
            if attempt + 1 == COMPLETE_ATTEMPTS:
                logger.exception("could not record the response of an idempotent request")
            else:
                time.sleep(0.05 * (attempt + 1))
    return status, payload
