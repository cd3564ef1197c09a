"""Goals, scoreboard, pipeline statistics and the team digest (issue 15): DynamoDB requests
per read at orgs of 10 and 1,000 users and tenants of 1k and 100k opportunities, and the
digest's cost with 1k and 100k users' stored data and the same problems to report.

What goes through the real code: the demo org (``seed_org``), an account and
``REAL_OPPS`` opportunities created by a rep through ``crm.create_object`` (some moved on
through ``crm.update_object``), three goals set through ``goals.put``, and the table
stream of all of it delivered to the app's stream consumer (``StreamDriver``): the
actuals, the statistics buckets, the digest's indexes are what the consumers computed.

What is written straight into moto (``straight_into_moto``; moto in-process takes about
0.3 s per opportunity through the API and its stream, hours for 100k): the org's other
users and the filler opportunities, each with the items the stream's consumers derive
from it that these reads can touch, made by the consumers' own functions (never a second
copy of their rules here): a user's profile, directory rows (``org.entries_of``) and the
last check-in a new user gets (``digest.baseline_of``: joined yesterday, so not quiet); an
opportunity's item, its digest pulse when open (``digest.pulse_of``: last change
yesterday, so not stale), the statistics buckets it adds to (``oppstats.wanted``) and its
owner's and departments' actuals (``actuals.deltas`` spread by ``actuals.per_scope``).
The bench only sums what many opportunities add to one bucket or actuals item, as the
consumers' ``ADD`` updates do. Not written for the filler: per-opportunity share records,
list and feed index entries, stream marks (none of the measured reads touches them).

The users the digest sizes add (``GOALS_BENCH_USERS``) get a profile and a last
check-in only (no directory rows).

The problems are the same at every size: one quiet rep (last check-in 10 days ago), two
stale opportunities (last activity 30 days ago) and three goals behind pace.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bench.common import StreamDriver, count_dynamodb, moto_stack, moto_table, straight_into_moto, table, verdict

TENANT = "acme"
REAL_OPPS = 12
SMALL_ORG, LARGE_ORG = 10, 1_000
# The issue's sizes: 1k vs 100k opportunities, 1k vs 100k users' stored data
# (``GOALS_BENCH_OPPS`` / ``GOALS_BENCH_USERS`` for a quicker run).
OPP_SIZES = (1_000, int(os.environ.get("GOALS_BENCH_OPPS", "100000")))
# the small org at the large table too (a few more minutes: the table's size is measured
# against the large org already)
SMALL_ORG_LARGE_TABLE = os.environ.get("GOALS_BENCH_FULL") == "1"
DIGEST_USERS = int(os.environ.get("GOALS_BENCH_USERS", "100000"))
STAGES = ("lead", "qualify", "proposal", "negotiation", "won", "lost")
BIG_TARGET = {"visits": 10_000}  # behind pace on any day of the month, nothing done yet


def _today() -> date:
    from chalicelib.services.org import org
    from chalicelib.timeutil import utcnow

    return utcnow().astimezone(org.tenant_zone(TENANT)).date()


def _noon(day: date) -> str:
    return datetime(day.year, day.month, day.day, 4, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- straight into moto
def fill_users(prefix: str, count: int, manager: str, department: str, directory: bool = True) -> list[Any]:
    """``count`` users under ``manager``, joined yesterday: profile, directory rows
    (``org.entries_of``) and the last check-in the stream gives a new user
    (``digest.baseline_of``: the day they joined, so nobody is quiet)."""
    from chalicelib.services.org import org
    from chalicelib.services.performance import digest

    boss = org.get_user(TENANT, manager)
    dept = org.get_department(TENANT, department)
    joined = _noon(_today() - timedelta(days=1))
    zone = org.tenant_zone(TENANT)
    made = []
    with straight_into_moto() as put:
        for i in range(count):
            uid = f"{prefix}{i:06d}"
            user = org.User(
                tenant_id=TENANT,
                user_id=uid,
                name=f"User {uid}",
                department_id=department,
                manager_id=manager,
                path=f"{boss.path}{uid}/",
                dept_path=dept.path,
                created_at=joined,
                updated_at=joined,
            )
            user.set_keys()
            put(user)
            for entry in org.entries_of(user) if directory else []:
                put(entry)
            last = digest.baseline_of(user, zone)
            last.set_keys()
            put(last)
            made.append(user)
    return made


def _opportunity(i: int, owner: str, today: date, currency: str) -> Any:
    from chalicelib.models.crm import Opportunity

    stage = STAGES[i % len(STAGES)]
    created = today - timedelta(days=2 + i % 90)
    touched = today - timedelta(days=1) if stage not in ("won", "lost") else created + timedelta(days=1)
    opp = Opportunity(
        tenant_id=TENANT,
        object_id=f"opp_fill{i:07d}",
        name=f"Old deal {i}",
        owner_id=owner,
        account_id="acc_fill",
        stage=stage,
        amount=f"{100 + i % 900}.00",
        currency=currency,
        created_at=_noon(created),
        updated_at=_noon(touched),
        closed_at=_noon(touched) if stage in ("won", "lost") else None,
    )
    opp.version = 1
    opp.set_keys()
    return opp


def fill_opportunities(owners: list[Any], start: int, upto: int) -> None:
    """Opportunities ``start..upto`` spread over ``owners``, each with what the stream's
    consumers derive from it, by their own functions: its pulse (``digest.pulse_of``), the
    statistics buckets it adds to (``oppstats.wanted``) and its actuals by user and
    department (``actuals.deltas`` of its creation, spread by ``actuals.per_scope`` over
    ``actuals.scopes``). The bench only adds up what many opportunities add to one item,
    as the consumers' ``ADD`` updates do."""
    from chalicelib.services.access.visibility import Resolver
    from chalicelib.services.org import org
    from chalicelib.services.performance import actuals, digest, oppstats

    settings = org.get_settings(TENANT)
    resolver = Resolver(TENANT)
    resolver.load_users(u.user_id for u in owners)
    scopes = {u.user_id: actuals.scopes(TENANT, u.user_id) for u in owners}
    today = _today()
    buckets: dict[tuple[str, str], list[int]] = {}
    sums: dict[tuple[str, str, str], Counter] = {}
    with straight_into_moto() as put:
        for i in range(start, upto):
            owner = owners[i % len(owners)]
            opp = _opportunity(i, owner.user_id, today, settings.currency)
            put(opp)
            pulse = digest.pulse_of(opp, settings)
            if pulse is not None:
                pulse.set_keys()
                put(pulse)
            for key, (n, cents) in oppstats.wanted(opp, resolver, settings).items():
                got = buckets.setdefault(key, [0, 0])
                got[0], got[1] = got[0] + n, got[1] + cents
            for key, counters in actuals.per_scope(actuals.deltas(None, opp, settings), scopes.__getitem__).items():
                sums.setdefault(key, Counter()).update(counters)
        _add_buckets(put, buckets)
        _add_actuals(put, sums)


def _existing(pk: str, sk: str) -> dict[str, int]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    item = moto_table().get_item(DynamoType({"S": pk}), DynamoType({"S": sk}))
    if item is None:
        return {}
    return {name: int(v.value) for name, v in item.attrs.items() if v.type == "N"}


def _add_buckets(put: Any, buckets: dict[tuple[str, str], list[int]]) -> None:
    """Each bucket gains what the filler adds, as the stream's ``ADD`` updates would sum it."""
    from chalicelib.models.oppstats import OppStatsBucket

    for (pk, sk), (n, cents) in buckets.items():
        viewer, scope, period = pk.removeprefix(f"T#{TENANT}#OPPSTATS#").split("#")
        dimension, key = sk.split("#", 1)
        item = OppStatsBucket(tenant_id=TENANT, viewer=viewer, scope=scope, period=period, dimension=dimension, key=key)
        item.set_keys()
        if (pk, sk) != (item.PK, item.SK):
            raise RuntimeError(f"bucket key {pk}|{sk} does not round-trip")
        had = _existing(pk, sk)
        item.opportunities = had.get("opportunities", 0) + n
        item.amount_cents = had.get("amount_cents", 0) + cents
        put(item)


def _add_actuals(put: Any, sums: dict[tuple[str, str, str], Counter]) -> None:
    from chalicelib.models.goals import COUNTERS, Actuals

    for (scope_type, scope_id, period), counters in sums.items():
        item = Actuals(tenant_id=TENANT, scope_type=scope_type, scope_id=scope_id, period=period)
        item.set_keys()
        had = _existing(item.PK, item.SK)
        for name in COUNTERS:
            setattr(item, name, had.get(name, 0) + counters.get(name, 0))
        put(item)


# ---------------------------------------------------------------- through the real code
def build(org_users: int) -> list[Any]:
    """The demo org plus ``org_users`` users under mgr_east, a rep's real opportunities and
    goals, the stream delivered; then the constant problems. Answers the opportunities' owners."""
    from chalicelib.auth import Principal
    from chalicelib.models.digest import LastCheckIn, OpportunityPulse
    from chalicelib.services.crm import crm
    from chalicelib.services.org import org
    from chalicelib.services.performance import goals
    from local.seed import seed_org

    seed_org()
    driver = StreamDriver()
    driver.skip()  # as the tests do: the seed's own stream effects are not what is measured
    rep = Principal("rep_a", TENANT, frozenset())
    account = crm.create_object(rep, "account", {"name": "Real account"})
    opps = [
        crm.create_object(
            rep,
            "opportunity",
            {"name": f"Deal {i}", "account_id": account.object_id, "stage": STAGES[i % 4], "amount": f"{1000 + i}.00"},
        )
        for i in range(REAL_OPPS)
    ]
    for opp, stage in zip(opps[:4], ("won", "won", "lost", "negotiation"), strict=True):
        crm.update_object(rep, "opportunity", opp.object_id, {"stage": stage})
    today = _today()
    period = today.strftime("%Y-%m")
    goals.put(Principal("mgr_east", TENANT, frozenset()), "user", "rep_a", period, {**BIG_TARGET, "won_count": 1})
    goals.put(Principal("mgr_east", TENANT, frozenset()), "user", "rep_b", period, BIG_TARGET)
    goals.put(Principal("vp", TENANT, frozenset()), "department", "east", period, BIG_TARGET)
    driver.pump()
    members = fill_users("u", org_users, "mgr_east", "east")
    # the problems, as the stream keeps them for a rep last seen 10 days ago and two deals
    # last touched 30 days ago
    LastCheckIn(tenant_id=TENANT, user_id="rep_b", day=(today - timedelta(days=10)).isoformat()).save()
    for opp in opps[5:7]:
        pulse = OpportunityPulse(tenant_id=TENANT, opportunity_id=opp.object_id, owner_id="rep_a", name=opp.name)
        pulse.day = (today - timedelta(days=30)).isoformat()
        pulse.save()
    return [org.get_user(TENANT, u) for u in ("rep_a", "rep_b", "rep_c")] + members


def _principal(user: str) -> Any:
    from chalicelib.auth import Principal

    return Principal(user, TENANT, frozenset({"admin"}) if user == "admin" else frozenset())


def measure() -> dict[str, Any]:
    from chalicelib.services.performance import goals, oppstats

    period = _today().strftime("%Y-%m")
    calls = {
        "goal read (user)": lambda: goals.read(_principal("mgr_east"), "user", "rep_a", period),
        "goal read (department)": lambda: goals.read(_principal("vp"), "department", "east", period),
        "scoreboard": lambda: goals.scoreboard(_principal("mgr_east"), period, None),
        "stats mine, by stage": lambda: oppstats.statistics(_principal("rep_a"), "stage", "mine", None),
        "stats team, by owner": lambda: oppstats.statistics(_principal("mgr_east"), "owner", "team", None),
        "stats all, by stage (admin)": lambda: oppstats.statistics(_principal("admin"), "stage", "all", None),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        with count_dynamodb() as c:
            got = call()
        out[name] = c.total
        if name == "scoreboard":
            out["people"] = len(got)
        if name == "stats all, by stage (admin)":
            out["opportunities counted"] = sum(g["count"] for g in got["groups"])
    return out | measure_digest()


def measure_digest() -> dict[str, Any]:
    """The digest's reads, then two firings: the second must send nothing. The earlier
    state's guards are removed first, so each size measures a first firing."""
    from chalicelib.models.messages import MessageGuard
    from chalicelib.services.performance import digest

    today = _today()
    with count_dynamodb() as c:
        found = digest.reports(TENANT, today)
    out = {
        "digest reads": c.total,
        "problems": sum(len(r.inactive) + len(r.stale) + len(r.behind) for r in found.values()),
    }
    for boss in found:
        guard = MessageGuard(tenant_id=TENANT, user_id=boss, dedupe_key=f"team_digest#{today.isoformat()}")
        guard.set_keys()
        guard.delete()
    for firing in ("digest 1st firing", "digest 2nd firing"):
        with count_dynamodb() as c:
            sent = digest.run_tenant(TENANT, today)
        out[firing] = c.total
        out[f"{firing} sent"] = sent
    return out


# ---------------------------------------------------------------- the report
READS = (
    "goal read (user)",
    "goal read (department)",
    "stats mine, by stage",
    "stats team, by owner",
    "stats all, by stage (admin)",
)
DIGEST = ("digest reads", "digest 1st firing", "digest 2nd firing", "problems")


def run() -> str:
    states: dict[tuple[int, int, int], dict[str, Any]] = {}
    timings = []
    for users in (SMALL_ORG, LARGE_ORG):
        with moto_stack():
            started = time.perf_counter()
            owners = build(users)
            stored = users + 9  # the demo org's nine
            done = REAL_OPPS
            for size in OPP_SIZES if users == LARGE_ORG or SMALL_ORG_LARGE_TABLE else OPP_SIZES[:1]:
                fill_opportunities(owners, done, size)
                done = size
                states[(users, stored, size)] = measure()
            if users == LARGE_ORG and stored < DIGEST_USERS:
                fill_users("o", DIGEST_USERS - stored, "mgr_west", "west", directory=False)
                states[(users, DIGEST_USERS, done)] = measure()
            timings.append(f"{users:,} users: {time.perf_counter() - started:.0f} s")
    return _report(states, timings)


def _same(states: dict, keys: tuple[str, ...]) -> bool:
    return all(len({s[k] for s in states.values()}) == 1 for k in keys)


def _report(states: dict[tuple[int, int, int], dict[str, Any]], timings: list[str]) -> str:
    from chalicelib.services.performance import goals

    # the scoreboard: a fixed part (the caller, the settings, the team's Query) plus one
    # BatchGet per 50 people (two keys each: a goal and its actuals)
    fixed = {k: s["scoreboard"] - math.ceil(s["people"] / goals.BATCH_USERS) for k, s in states.items()}
    per_100 = {k: s["scoreboard"] / math.ceil(s["people"] / 100) for k, s in states.items()}
    reads_ok = _same(states, READS) and len(set(fixed.values())) == 1
    counted_ok = all(s["opportunities counted"] == k[2] for k, s in states.items())
    digest_ok = _same(states, DIGEST) and all(
        s["digest 1st firing sent"] > 0 and s["digest 2nd firing sent"] == 0 for s in states.values()
    )
    reads = [
        [f"{k[0]:,}", f"{k[1]:,}", f"{k[2]:,}", *(s[r] for r in READS), s["scoreboard"], s["people"],
         f"{fixed[k]} + {math.ceil(s['people'] / goals.BATCH_USERS)}", f"{per_100[k]:.1f}",
         f"{s['opportunities counted']:,}"]
        for k, s in states.items()
    ]  # fmt: skip
    digests = [
        [f"{k[1]:,}", f"{k[2]:,}", s["problems"], s["digest reads"], s["digest 1st firing"],
         s["digest 1st firing sent"], s["digest 2nd firing"], s["digest 2nd firing sent"]]
        for k, s in states.items()
    ]  # fmt: skip
    return "\n\n".join(
        [
            "## Goals, scoreboard, pipeline statistics, team digest (issue 15)",
            "DynamoDB requests per call, counted at the PynamoDB connection (the HTTP edge adds one "
            "BatchGetItem per request: the caller's active flag and the tenant's settings). "
            "The org's users sit under one manager (`mgr_east`), "
            "whose scoreboard is measured; the opportunities are spread over them and over the last 90 days, "
            f"with every pipeline stage. {REAL_OPPS} opportunities, 3 goals and the demo org go through the "
            "services and the table stream; the rest is written straight into moto with what the stream's "
            "consumers derive from it, made by the consumers' own functions (see the module docstring: "
            "profiles, directory rows and baseline check-ins of users; items, open deals' pulses, statistics "
            "buckets and actuals of opportunities; no share records or list/feed entries for the filler). "
            f"Sizes: the issue's, {OPP_SIZES[1]:,} opportunities and {DIGEST_USERS:,} users' data "
            "(`GOALS_BENCH_OPPS` and `GOALS_BENCH_USERS` for a quicker run). Setup: " + ", ".join(timings) + ".",
            table(
                [
                    "org users",
                    "users stored",
                    "opportunities",
                    *READS,
                    "scoreboard",
                    "people",
                    "scoreboard per 100 people",
                    "opportunities in the admin's statistics",
                ],
                reads,
            ),  # fmt: skip
            "The scoreboard ranks everyone the caller leads (the page is cut from the ranking): a fixed "
            f"part (caller, settings, one team Query) plus one BatchGet per {goals.BATCH_USERS} people (their "
            "goal and actuals), so at most 4 requests per 100 people, 2 per 100 at scale, whatever the table."
            + (
                ""
                if SMALL_ORG_LARGE_TABLE
                else " The 10-user org is measured at 1k opportunities only "
                "(`GOALS_BENCH_FULL=1` adds it at "
                f"{OPP_SIZES[1]:,}): the table's size is varied with the 1,000-user org."
            ),
            verdict(
                reads_ok and counted_ok,
                f"goal reads and pipeline statistics cost the same at {SMALL_ORG:,} and {LARGE_ORG:,} users and "
                f"{OPP_SIZES[0]:,} and {OPP_SIZES[1]:,} opportunities, the scoreboard the same fixed part plus "
                f"one BatchGet per {goals.BATCH_USERS} people, and the statistics count every opportunity "
                "(kept on write, not read)",
            ),
            f"### Team digest: {LARGE_ORG + 9:,} vs {DIGEST_USERS:,} users' stored data, the same problems",
            "Problems at every size: one rep without a check-in for 10 days, two opportunities without "
            "activity for 30 days, three goals behind pace (two people, one department), reported to the "
            "managers above them. Every other user joined yesterday (their baseline check-in) and every "
            "other open opportunity last changed yesterday. Each size measures a first firing (the earlier "
            "size's message guards removed) and a second one the same day. The digest reads every goal of "
            "the month (pace needs each one's actuals): its cost grows with the goals set, the same three "
            "here. Deactivated users leave the last-check-in index (the stream deletes their row), so they add no "
            "reads.",
            table(
                [
                    "users stored",
                    "opportunities",
                    "problems",
                    "digest reads",
                    "1st firing requests",
                    "messages sent",
                    "2nd firing requests",
                    "messages sent again",
                ],
                digests,
            ),  # fmt: skip
            verdict(
                digest_ok,
                f"the digest costs the same at {LARGE_ORG + 9:,} and {DIGEST_USERS:,} users' data and "
                f"{OPP_SIZES[0]:,} and {OPP_SIZES[1]:,} opportunities with the same problems; a second firing "
                "the same day sends nothing",
            ),
        ]
    )


if __name__ == "__main__":
    print(run())
