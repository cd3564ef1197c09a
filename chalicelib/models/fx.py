"""Exchange rates: one item per tenant, currency and day, in the currency's own partition.

``PK = T#<t>#FX#<currency>``, ``SK = RATE#<YYYY-MM-DD>``: the rate in effect on a day (the
latest on or before it) is one Query of one item, read backwards from that day, whatever
the length of the history. ``rate`` is tenant currency per unit, a decimal string kept
exactly as given; ``as_of`` orders writes of the same day (a late, older webhook never
overwrites a newer rate).
"""

from __future__ import annotations

from typing import Optional

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.errors import Conflict
from chalicelib.models.base import BaseItem, tkey
from chalicelib.timeutil import MAX_SKEW, iso, utcnow

RATE_PREFIX = "RATE#"


class ExchangeRate(BaseItem, discriminator="ExchangeRate"):
    currency = UnicodeAttribute()
    date = UnicodeAttribute()  # YYYY-MM-DD
    rate = UnicodeAttribute()  # tenant currency per unit, decimal string
    as_of = UnicodeAttribute()  # RFC 3339: when the source stated it
    source = UnicodeAttribute()  # "admin" | "webhook:<id>"

    @classmethod
    def pk(cls, tenant_id: str, currency: str) -> str:
        return tkey(tenant_id, "FX", currency)

    @staticmethod
    def sk(day: str) -> str:
        return f"{RATE_PREFIX}{day}"

    def set_keys(self) -> None:
        self.PK, self.SK = self.pk(self.tenant_id, self.currency), self.sk(self.date)

    def save_if_newer(self) -> None:
        """Store unless a rate for the same day stated later is already there (Conflict).
        A stored statement dated ahead of our clock (written before stamps were checked:
        timeutil.stated) never pins the day: any later statement replaces it."""
        self.set_keys()
        ahead = iso(utcnow() + MAX_SKEW)
        newer_or_absent = (
            ExchangeRate.PK.does_not_exist() | (ExchangeRate.as_of <= self.as_of) | (ExchangeRate.as_of > ahead)
        )
        try:
            super().save(condition=newer_or_absent)
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
                raise Conflict("a newer rate for that day is already stored", code="stale_rate") from None
            raise

    @classmethod
    def in_effect(cls, tenant_id: str, currency: str, day: str) -> Optional[ExchangeRate]:
        """The latest rate on or before ``day`` (1 Query, 1 item), or None."""
        found = cls.query(
            cls.pk(tenant_id, currency),
            cls.SK.between(RATE_PREFIX, cls.sk(day)),
            scan_index_forward=False,
            limit=1,
            consistent_read=True,
        )
        return next((r for r in found if isinstance(r, ExchangeRate)), None)


__all__ = ["ExchangeRate"]
