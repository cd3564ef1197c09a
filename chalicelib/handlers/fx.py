"""Exchange rates: set by administrators and finance (or the finance system's webhook),
read by anyone of the tenant to preview a conversion."""

from typing import Annotated, Optional

from chalice import Blueprint
from pydantic import Field, StringConstraints

from chalicelib.schemas import Request, Response, example
from chalicelib.services.access import context
from chalicelib.services.expenses import fx
from chalicelib.timeutil import parse_date
from chalicelib.web import Req, route

bp = Blueprint(__name__)

Rate = Annotated[str, StringConstraints(pattern=r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,8})?$")]
CURRENCY_PATH = r"^[A-Z]{3}$"
DATE_PATH = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


class RateIn(Request):
    model_config = example({"rate": "7.1234"})
    rate: Rate = Field(description="Tenant currency per unit of the path's currency, up to 8 places")


class RateOut(Response):
    currency: str
    date: str
    rate: str
    base: str = Field(description="The tenant currency the rate is expressed in")
    as_of: str


class RateInEffectOut(Response):
    currency: str
    date: str = Field(description="The day asked about")
    rate: str
    rate_date: Optional[str] = Field(description="The day of the rate in effect (latest on or before `date`)")
    base: str


@route(
    bp,
    "/v1/admin/exchange-rates/{currency}/{date}",
    method="PUT",
    summary="Set the exchange rate of a currency for a day (administrators and finance)",
    tag="expenses",
    body=RateIn,
    response=RateOut,
    path_patterns={"currency": CURRENCY_PATH, "date": DATE_PATH},
    name="set_exchange_rate",
)
def put_exchange_rate(req: Req) -> RateOut:
    currency, date = req.path["currency"], req.path["date"]
    fx.require_rate_writer(req.principal)
    parse_date(date)
    base = context.of(req.principal).settings.currency
    item = fx.put_rate(req.tenant_id, base, fx.NewRate(currency, date, req.body.rate, source=f"user:{req.user_id}"))
    return RateOut(**fx.to_dict(item, base))


@route(
    bp,
    "/v1/exchange-rates/{currency}/{date}",
    summary="The rate in effect for a currency on a day (the latest on or before it)",
    tag="expenses",
    response=RateInEffectOut,
    path_patterns={"currency": CURRENCY_PATH, "date": DATE_PATH},
)
def get_exchange_rate(req: Req) -> RateInEffectOut:
    currency, date = req.path["currency"], req.path["date"]
    parse_date(date)
    base = context.of(req.principal).settings.currency
    found = fx.rate_in_effect(req.tenant_id, base, currency, date)
    return RateInEffectOut(currency=currency, date=date, rate=found.rate, rate_date=found.rate_date, base=base)
