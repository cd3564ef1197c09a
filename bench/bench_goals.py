"""Goals, scoreboard, pipeline statistics and the team digest: DynamoDB requests per read at
orgs of 10 and 1,000 users and tables of 1k and 100k opportunities, and the digest's cost
with 1k vs 100k users' stored check-in data and the same problems to report.

The opportunities beyond the first 200 are written straight to the table (as a large
tenant's history would sit there) without going through the stream: none of these reads
touches opportunities, which is the point being measured.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

REAL_OPPS = 200
SIZES = ((10, 1_000), (1_000, 1_000), (10, 100_000), (1_000, 100_000))
TODAY = date(2030, 3, 14)


def _fill_opportunities(total: int) -> None:
    from chalicelib.models.crm import Opportunity

    with Opportunity.batch_write() as batch:
        for i in range(total):
            item = Opportunity(
                tenant_id="acme",
                object_id=f"opp_fill{i:06d}",
                name=f"Old deal {i}",
                owner_id="rep_c",
                account_id="acc_x",
                stage="lost",
                created_at="2020-01-01T00:00:00Z",
                updated_at="2020-01-01T00:00:00Z",
            )
            item.set_keys()
            batch.save(item)


def _setup(users: int, opportunities: int) -> None:
    from chalicelib.auth import Principal
    from chalicelib.models.digest import LastCheckIn
    from chalicelib.services import crm, goals, oppstats, org
    from local.seed import seed_org

    seed_org()
    for i in range(users):
        org.put_user("acme", f"u{i:04d}", f"User {i}", "east", "mgr_east", None, None)
        LastCheckIn(tenant_id="acme", user_id=f"u{i:04d}", day=(TODAY - timedelta(days=1)).isoformat()).save()
    LastCheckIn(tenant_id="acme", user_id="rep_b", day=(TODAY - timedelta(days=9)).isoformat()).save()
    rep = Principal("rep_a", "acme", frozenset())
    account = crm.create_object(rep, "account", {"name": "A"})
    stages = ("lead", "qualify", "proposal", "negotiation", "won", "lost")
    for i in range(REAL_OPPS):
        opp = crm.create_object(
            rep,
            "opportunity",
            {"name": f"D{i}", "account_id": account.object_id, "stage": stages[i % 6], "amount": f"{100 + i}.00"},
        )
        oppstats.recompute("acme", opp.object_id)
    _fill_opportunities(opportunities - REAL_OPPS)
    goals.put(Principal("mgr_east", "acme", frozenset()), "user", "rep_a", "2030-03", {"visits": 10})


def _measure() -> dict[str, Any]:
    from chalicelib.auth import Principal
    from chalicelib.services import digest, goals, oppstats

    boss = Principal("mgr_east", "acme", frozenset())
    out = {}
    with count_dynamodb() as c:
        goals.read(boss, "user", "rep_a", "2030-03")
    out["goal read"] = c.total
    with count_dynamodb() as c:
        rows = goals.scoreboard(boss, "2030-03", None)
    out["scoreboard"] = c.total
    out["people"] = len(rows)
    with count_dynamodb() as c:
        oppstats.statistics(Principal("rep_a", "acme", frozenset()), "stage", "mine", None)
    out["pipeline stats"] = c.total
    with count_dynamodb() as c:
        found = digest.reports("acme", TODAY)
    out["digest"] = c.total
    out["problems"] = sum(len(r.inactive) + len(r.stale) + len(r.behind) for r in found.values())
    return out


def run() -> str:
    rows, results = [], {}
    for users, opportunities in SIZES:
        with moto_stack():
            _setup(users, opportunities)
            got = _measure()
        results[(users, opportunities)] = got
        rows.append(
            [
                f"{users:,}",
                f"{opportunities:,}",
                got["goal read"],
                got["scoreboard"],
                got["people"],
                got["pipeline stats"],
                got["digest"],
                got["problems"],
            ]
        )
    per_100 = {k: v["scoreboard"] / max(1, -(-v["people"] // 100)) for k, v in results.items()}
    same = lambda key: len({v[key] for v in results.values()}) == 1  # noqa: E731
    ok = same("goal read") and same("pipeline stats") and same("digest") and same("problems")
    ok &= results[(10, 1_000)]["scoreboard"] == results[(10, 100_000)]["scoreboard"]
    ok &= results[(1_000, 1_000)]["scoreboard"] == results[(1_000, 100_000)]["scoreboard"]
    return (
        "## Goals, scoreboard, pipeline statistics, team digest\n\n"
        "DynamoDB requests per call. The scoreboard reads the caller's people (1 Query per page of "
        "the reporting index) and one BatchGet per 50 of them; the others never read opportunities.\n\n"
        + table(
            [
                "users",
                "opportunities",
                "goal read",
                "scoreboard",
                "people",
                "pipeline stats",
                "digest",
                "problems reported",
            ],
            rows,
        )
        + "\n\nScoreboard requests per 100 people: "
        + ", ".join(f"{v:.1f}" for v in per_100.values())
        + "\n\n"
        + verdict(
            ok,
            "goal read, pipeline stats and digest identical at every size; scoreboard "
            "independent of the number of opportunities and linear in people / 100",
        )
        + "\n"
    )
