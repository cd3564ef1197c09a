"""Money and the road: DynamoDB requests per foreign-currency submission (the rate lookup)
and per mileage claim, with a short and a long history behind them (rates of 2 vs 1,000
days; sign-ins of 1 vs 200 days): neither may grow with the history."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

DAY = date(2026, 11, 20)


def _history(rate_days: int, signin_days: int) -> None:
    from chalicelib.models.fx import ExchangeRate
    from chalicelib.models.signins import SignIn

    with ExchangeRate.batch_write() as batch:
        for i in range(rate_days):
            day = (DAY - timedelta(days=i)).isoformat()
            item = ExchangeRate(
                tenant_id="acme", currency="USD", date=day, rate="7.1", as_of=f"{day}T00:00:00Z", source="bench"
            )
            item.set_keys()
            batch.save(item)
    with SignIn.batch_write() as batch:
        for i in range(1, signin_days + 1):
            for k in range(3):
                at = f"{(DAY - timedelta(days=i)).isoformat()}T0{2 + k}:00:00Z"
                item = SignIn(
                    tenant_id="acme",
                    signin_id=f"sgn_b{i:04d}{k}",
                    user_id="rep_a",
                    kind="check_in",
                    lat=31.2 + k / 100,
                    lng=121.4,
                    accuracy_m=10,
                    client_time=at,
                    server_time=at,
                )
                item.set_keys()
                batch.save(item)


def _measure(rate_days: int, signin_days: int) -> dict[str, Any]:
    from chalicelib.auth import Principal
    from chalicelib.services.expenses import expenses, mileage
    from chalicelib.services.fieldwork import signins
    from chalicelib.services.org import org
    from chalicelib.timeutil import day_start_utc, iso
    from local.seed import seed_org

    seed_org()
    org.put_settings("acme", {"mileage_rate": "1.20"})
    _history(rate_days, signin_days)
    rep = Principal("rep_a", "acme", frozenset())
    e = expenses.create(
        rep,
        {
            "amount": "80.00",
            "currency": "USD",
            "category": "meals",
            "occurred_on": DAY.isoformat(),
            "unit": {"type": "person", "id": "rep_a"},
        },
    )
    with count_dynamodb() as submit:
        expenses.submit(rep, e.expense_id)
    zone = org.tenant_zone("acme")
    for k in range(3):
        signins.create_signin(
            rep,
            signins.NewSignIn(
                kind="check_in",
                lat=31.2 + k / 50,
                lng=121.4,
                accuracy_m=10,
                client_time=iso(day_start_utc(DAY, zone) + timedelta(hours=9 + k)),
            ),
        )
    with count_dynamodb() as claim:
        mileage.claim(rep, DAY.isoformat())
    return {"submit": submit.total, "rate queries": submit.ops["Query"], "claim": claim.total}


def run() -> str:
    results, rows = {}, []
    for rate_days, signin_days in ((2, 1), (1_000, 200)):
        with moto_stack():
            got = _measure(rate_days, signin_days)
        results[(rate_days, signin_days)] = got
        rows.append([f"{rate_days:,}", f"{signin_days:,}", got["submit"], got["rate queries"], got["claim"]])
    small, large = results.values()
    ok = small == large
    return (
        "## Money and the road: foreign-currency submission, mileage claim\n\n"
        "DynamoDB requests. The rate in effect is one Query of one item (read backwards from the "
        "expense's day); a claim reads the day's sign-ins only.\n\n"
        + table(
            ["rate history (days)", "sign-in history (days)", "submit (USD)", "of which Query", "mileage claim"], rows
        )
        + "\n\n"
        + verdict(ok, "identical request counts whatever the history")
        + "\n"
    )
