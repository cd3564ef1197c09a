"""Domain errors. Each carries its HTTP status and a stable snake_case code.

Handlers never choose a status: one function maps these to responses by type.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"


class Gone(AppError):
    """What the request names existed once and is gone for good (an expired sync position)."""

    status, code = 410, "gone"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class Unprocessable(AppError):
    status, code = 422, "unprocessable"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"


class Throttled(AppError):
    status, code = 429, "throttled"


class ServiceUnavailable(AppError):
    status, code = 503, "service_unavailable"


class OutOfRange(Unprocessable):
    """A timestamp, date or month outside the years the API accepts (1970..2200)."""

    code = "out_of_range"


class UndecodableItem(ValueError):
    """A stored item (a stream record's image) whose own data cannot be read as its entity:
    no retry can help (the stream consumer logs, counts and skips it). ``key`` is its
    ``PK|SK`` and ``tenant_id`` its tenant, when known."""

    def __init__(self, message: str, tenant_id: object = None, key: object = None) -> None:
        super().__init__(message)
        self.tenant_id, self.key = tenant_id, key
