"""Org reads and the team's day: DynamoDB requests and items read per page.

- Directory page (``GET /v1/users``, with and without a name prefix) at 10 and 1,000 users.
- Team day (``GET /v1/team/day``) at 10 and 500 subordinates, two sign-ins each, in a
  tenant that also holds 1,000 other users.

Measured at the service (the HTTP edge adds one BatchGetItem per request: the caller's
active flag and the tenant's settings). The org is written through ``org.put_user``;
sign-ins are written straight to the table with their day index (the write path is
measured by the sign-in tests).
"""

from __future__ import annotations

from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

TENANT = "bench"
DAY = "2026-11-20"


def _build_org(subordinates: int, others: int) -> None:
    from chalicelib.services.org import org

    org.put_department(TENANT, "d", "D", None, None)
    org.put_user(TENANT, org.NewUser("boss", "Boss", "d", None, None, None))
    leads = max(1, subordinates // 50)
    for i in range(leads):
        org.put_user(TENANT, org.NewUser(f"lead{i}", f"Lead {i:03d}", "d", "boss", None, None))
    for i in range(subordinates - leads):
        org.put_user(TENANT, org.NewUser(f"rep{i}", f"Rep {i:04d}", "d", f"lead{i % leads}", None, None))
    org.put_user(TENANT, org.NewUser("other_boss", "Other Boss", "d", None, None, None))
    for i in range(others):
        org.put_user(TENANT, org.NewUser(f"o{i}", f"Other {i:04d}", "d", "other_boss", None, None))


def _sign_everyone(user_ids: list[str]) -> None:
    from chalicelib.models.signins import SignIn, UserDay, Visit

    with SignIn.batch_write() as batch:
        for n, uid in enumerate(user_ids):
            visit = Visit(
                tenant_id=TENANT,
                visit_id=f"vis{n}",
                user_id=uid,
                status="closed",
                checkin_id=f"sgn{n}a",
                started_at=f"{DAY}T01:00:00Z",
                close_after=f"{DAY}T16:00:00Z",
            )
            day = UserDay(tenant_id=TENANT, user_id=uid, date=DAY, signins=set())
            for k, (kind, minute) in enumerate((("check_in", "00"), ("check_out", "30"))):
                s = SignIn(
                    tenant_id=TENANT,
                    signin_id=f"sgn{n}{'ab'[k]}",
                    user_id=uid,
                    kind=kind,
                    lat=31.2 + k * 0.01,
                    lng=121.4,
                    accuracy_m=10,
                    client_time=f"{DAY}T01:{minute}:00Z",
                    server_time=f"{DAY}T01:{minute}:00Z",
                    visit_id=visit.visit_id,
                )
                s.set_keys()
                batch.save(s)
                day.signins.add(s.timeline_sk)
            visit.set_keys()
            day.set_keys()
            batch.save(visit)
            batch.save(day)


def _directory_rows() -> list[list[Any]]:
    from chalicelib.services.org import org

    rows = []
    for users in (10, 1000):
        with moto_stack():
            _build_org(0, users)
            for label, prefix in (("all, by name", None), ("name prefix 'other 0'", "other 0")):
                with count_dynamodb() as c:
                    items, _ = org.directory_page(TENANT, "ACTIVE", prefix, 20, None, "bench")
                rows.append([users, label, len(items), dict(c.ops), c.items_read])
    return rows


def _team_day_rows() -> list[list[Any]]:
    from chalicelib.auth import Principal
    from chalicelib.services.fieldwork import teamday
    from chalicelib.services.org import org

    rows = []
    boss = Principal("boss", TENANT, frozenset())
    for subordinates in (10, 500):
        with moto_stack():
            _build_org(subordinates, 1000)
            team, _ = org.directory_page(TENANT, "BELOW#boss", None, 1000, None, "bench")
            _sign_everyone([e.user_id for e in team])
            pages, requests, items_read, cursor = 0, 0, 0, None
            ops: dict[str, int] = {}
            while True:
                with count_dynamodb() as c:
                    page, cursor = teamday.team_day(boss, DAY, 100, cursor)
                pages += 1
                requests += c.total
                items_read += c.items_read
                for k, v in c.ops.items():
                    ops[k] = ops.get(k, 0) + v
                if not cursor:
                    break
            per_100 = requests / max(1, -(-subordinates // 100))
            rows.append([subordinates, pages, ops, requests, f"{per_100:.1f}", items_read])
    return rows


def run() -> str:
    directory = _directory_rows()
    team = _team_day_rows()
    dir_ok = len({str(r[3]) for r in directory}) == 1
    per_100 = [float(r[4]) for r in team]
    team_ok = max(per_100) <= 5
    return (
        "## Organisation reads and the team's day\n\n"
        "### Directory page (limit 20)\n\n"
        + table(["users", "query", "rows", "requests", "items read"], directory)
        + "\n\n"
        + verdict(dir_ok, "one Query per directory page at 10 and 1,000 users, with or without a name prefix")
        + "\n\n### Team day (pages of 100 subordinates, 2 sign-ins and 1 visit each, 1,000 other users)\n\n"
        + table(["subordinates", "pages", "requests by kind", "requests", "per 100 subordinates", "items read"], team)
        + "\n\n"
        + verdict(
            team_ok,
            "per page of 100: 1 Query (team listing) + 1 BatchGet (days) + 2 BatchGet (200 sign-ins) "
            "+ 1 BatchGet (visits); grows with subordinates / 100, never with the tenant",
        )
        + "\n"
    )
