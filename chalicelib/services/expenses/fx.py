"""Foreign currencies: exchange rates and the conversion of an amount into the tenant's
currency at the rate in effect on a day.

Money is exact throughout: ``Decimal`` from the decimal strings, never a float; the
converted amount is rounded half-even to 2 places (banker's rounding, so a long series of
conversions carries no bias). A lookup costs one Query whatever the rate history.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Optional
from zoneinfo import ZoneInfo

from chalicelib.auth import Principal
from chalicelib.errors import Conflict, Forbidden, Unprocessable
from chalicelib.models.crm import Opportunity
from chalicelib.models.fx import ExchangeRate
from chalicelib.observability import logger
from chalicelib.services.expenses import budgets
from chalicelib.services.expenses.money import ISO_4217 as ISO_4217
from chalicelib.services.expenses.money import require_currency
from chalicelib.services.integrations import webhooks
from chalicelib.services.org import org
from chalicelib.timeutil import iso, local_date, parse_date, utcnow

CENT = Decimal("0.01")
MAX_RATE_PLACES = 8


@dataclass(frozen=True)
class Converted:
    amount: Decimal
    currency: str
    rate: str
    rate_date: Optional[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": f"{self.amount:.2f}",
            "currency": self.currency,
            "rate": self.rate,
            "rate_date": self.rate_date,
        }


def parse_rate(value: str) -> Decimal:
    """A positive decimal string with at most 8 places (422 otherwise)."""
    try:
        rate = Decimal(value)
    except InvalidOperation:
        raise Unprocessable("rate is not a decimal number", code="invalid_rate") from None
    exponent = rate.as_tuple().exponent
    if not rate.is_finite() or rate <= 0 or (isinstance(exponent, int) and exponent < -MAX_RATE_PLACES):
        raise Unprocessable(f"rate must be positive with at most {MAX_RATE_PLACES} places", code="invalid_rate")
    return rate


def convert_amount(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount x rate`` rounded half-even to cents."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def convert(tenant_id: str, tenant_currency: str, amount: Decimal, currency: str, day: str) -> Converted:
    """The amount in the tenant currency at the rate in effect on ``day`` (1 Query; none for
    the tenant currency itself). No rate on or before that day: 422 ``no_exchange_rate``."""
    if currency == tenant_currency:
        return Converted(amount.quantize(CENT), tenant_currency, "1", None)
    found = ExchangeRate.in_effect(tenant_id, currency, day)
    if found is None:
        raise Unprocessable(f"no {currency} rate on or before {day}", code="no_exchange_rate")
    return Converted(convert_amount(amount, Decimal(found.rate)), tenant_currency, found.rate, found.date)


def won_cents(opp: Opportunity, tenant_currency: str, zone: ZoneInfo) -> int:
    """A won opportunity's amount in the tenant currency, in cents, at the rate in effect on
    the (tenant-local) day it closed; 0 without an amount, or (logged) without a rate. What
    goal actuals and the report figures count as ``won_amount``."""
    if not opp.amount:
        return 0
    amount = Decimal(opp.amount)
    if opp.currency and opp.currency != tenant_currency:
        day = local_date(str(opp.closed_at), zone)
        try:
            amount = convert(opp.tenant_id, tenant_currency, amount, opp.currency, day).amount
        except Unprocessable:
            logger.warning("won amount without an exchange rate", extra={"opportunity_id": opp.object_id})
            return 0
    return budgets.to_cents(amount)


def require_rate_writer(principal: Principal) -> None:
    if not (principal.is_admin or principal.is_finance):
        raise Forbidden("administrators and finance only", code="admin_or_finance_only")


@dataclass(frozen=True)
class NewRate:
    """A rate to store: tenant currency per unit of ``currency`` on ``day``, who stated it
    (``source``) and when (``as_of``, default now: a later statement wins)."""

    currency: str
    day: str
    rate: str
    source: str
    as_of: Optional[str] = None


def put_rate(tenant_id: str, tenant_currency: str, new: NewRate) -> ExchangeRate:
    """Store a rate (tenant currency per unit of ``currency``) for a day."""
    currency, day, rate, source, as_of = new.currency, new.day, new.rate, new.source, new.as_of
    require_currency(currency)
    if currency == tenant_currency:
        raise Unprocessable(f"{currency} is the tenant currency; its rate is 1", code="tenant_currency")
    parse_rate(rate)
    item = ExchangeRate(
        tenant_id=tenant_id, currency=currency, date=day, rate=rate, as_of=as_of or iso(utcnow()), source=source
    )
    item.save_if_newer()
    return item


def rate_in_effect(tenant_id: str, tenant_currency: str, currency: str, day: str) -> Converted:
    """What one unit of ``currency`` is worth on ``day``."""
    require_currency(currency)
    return convert(tenant_id, tenant_currency, Decimal(1), currency, day)


def to_dict(item: ExchangeRate, tenant_currency: str) -> dict[str, Any]:
    return {
        "currency": item.currency,
        "date": item.date,
        "rate": item.rate,
        "base": tenant_currency,
        "as_of": item.as_of,
    }


MAX_RATES_PER_EVENT = 300


def apply_rates_update(tenant_id: str, tenant_currency: str, webhook_id: str, data: Any, stated_at: str) -> int:
    """The finance system's ``fx.rates_updated`` ``{date, rates: {code: rate}}``: every entry
    is checked before any is stored (one bad entry: 422, nothing written). A rate already
    stated later for the same day is kept (a late, reordered event changes nothing); a
    redelivery writes the same values again. Returns how many rates were stored."""
    if not isinstance(data, dict) or not isinstance(data.get("date"), str) or not isinstance(data.get("rates"), dict):
        raise Unprocessable("fx.rates_updated needs data.date and data.rates", code="invalid_event")
    day, rates = data["date"], data["rates"]
    if not rates or len(rates) > MAX_RATES_PER_EVENT:
        raise Unprocessable(f"data.rates holds 1..{MAX_RATES_PER_EVENT} rates", code="invalid_event")
    for code, rate in rates.items():
        if not isinstance(rate, str):
            raise Unprocessable(f"the {code} rate is not a decimal string", code="invalid_rate")
        require_currency(code)
        parse_rate(rate)
    stored = 0
    for code, rate in sorted(rates.items()):
        if code == tenant_currency:
            continue
        try:
            put_rate(tenant_id, tenant_currency, NewRate(code, day, rate, f"webhook:{webhook_id}", as_of=stated_at))
            stored += 1
        except Conflict:
            continue
    return stored


def apply_rates_webhook(tenant_id: str, inbound: webhooks.Inbound) -> bool:
    """The finance system's ``fx.rates_updated``, applied once per webhook-id: every rate is
    checked first (one bad entry: 422, nothing stored), then stored (a rate stated later for
    the same day is kept), then the receipt. A redelivery before the receipt was written
    stores the same values again; after it, it is acknowledged as a duplicate."""
    if webhooks.already_received(tenant_id, inbound.webhook_id, inbound.digest):
        return False
    base = org.get_settings(tenant_id).currency
    data = inbound.event.model_dump()
    parse_date(str(data.get("date")), "date")
    apply_rates_update(tenant_id, base, inbound.webhook_id, data, inbound.stated_at or iso(utcnow()))
    webhooks.record_receipt(webhooks.receipt(tenant_id, inbound.webhook_id, inbound.type, digest=inbound.digest))
    return True
