"""The money rules, in one place: which currencies, which days and which amounts an
expense may carry. Every route that writes an expense (create, PATCH, submit, the
mileage claim, the finance system's rates) calls these, so a rule cannot be skipped by
taking another route.

- Currencies are the ISO 4217 codes in use (chalicelib/currencies.py, the one list; also
  the tenant's own currency). Anything else is 422 ``unknown_currency``.
- An expense's ``occurred_on`` is never after the tenant's today (its time zone): 422
  ``future_date`` (a date next year booked against next year's budget dodged this month's
  ``block`` budget).
- A mileage claim counts only plausible legs: sign-ins flagged ``mock_location``,
  ``low_accuracy`` or ``photo_location_mismatch``, and any reached faster than the tenant's
  ``max_speed_kmh`` (default 150) from the last one counted, are left out and listed
  (services/expenses/mileage.py).
- A mileage claim's amount, currency, category and date are the server's (computed from
  the day's sign-ins): a PATCH of any of them is 422 ``mileage_fixed``; the category
  ``mileage`` is only made by the claim route (``POST /v1/mileage-claims``), never set by
  hand (422 ``mileage_fixed``), so ``amount`` and ``mileage.distance_km`` always agree.
"""

from __future__ import annotations

from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib import currencies
from chalicelib.currencies import ISO_4217 as ISO_4217
from chalicelib.errors import Unprocessable
from chalicelib.timeutil import format_date, parse_date, today

MILEAGE = "mileage"
MILEAGE_FIXED = ("amount", "currency", "category", "occurred_on")


def require_currency(code: str) -> str:
    currencies.require_currency(code)
    return code


def require_day(zone: ZoneInfo, value: str, name: str = "occurred_on") -> str:
    """A valid date, not after the tenant's today in its ``zone`` (422 ``future_date``)."""
    day = parse_date(value, name)
    if day > today(zone):
        raise Unprocessable(f"{name} {value} is after today", code="future_date")
    return format_date(day)


def require_fields(
    zone: ZoneInfo, fields: dict[str, Any], mileage: Optional[dict[str, Any]] = None, by_claim: bool = False
) -> None:
    """The money rules for the fields a create or PATCH sets (days in the tenant's
    ``zone``). ``mileage``: the claim the
    expense already carries (a PATCH); ``by_claim``: the claim route itself creates it."""
    if mileage:
        changed = sorted(name for name in MILEAGE_FIXED if fields.get(name) is not None)
        if changed:
            raise Unprocessable(f"a mileage claim's {', '.join(changed)} are computed", code="mileage_fixed")
    elif fields.get("category") == MILEAGE and not by_claim:
        raise Unprocessable("mileage is claimed through POST /v1/mileage-claims", code="mileage_fixed")
    if fields.get("currency") is not None:
        require_currency(fields["currency"])
    if fields.get("occurred_on") is not None:
        require_day(zone, fields["occurred_on"])


def require_submittable(zone: ZoneInfo, currency: str, occurred_on: str) -> None:
    """Again at submission: a draft stored before these rules must not slip through."""
    require_currency(currency)
    require_day(zone, occurred_on)
