"""List, search and nearby cost (DynamoDB requests and items read) for a 10-user and a
1,000-user org and two tenant sizes, plus write amplification per CRM object.

Target (issue 14): every list / search page costs the same number of requests whatever
the org or tenant size (1 Query + 1 BatchGet), every non-final page is full; a nearby
query reads a bounded number of geohash cells (at most 16) whatever the tenant size.

Honest scaling note: moto in-process writes about 1,000 items/s through the API and
scans a whole index on every GSI Query, so the tenant's accounts beyond the real ones are
written straight into moto's table, with exactly the entries the indexer computes
(``desired_items``) for the measured viewers (the rep, their manager, the VP, the CEO and
the admin partition): ``LISTS_BENCH_LARGE`` (default 10,000) accounts for the large
tenant; ``LISTS_BENCH_LARGE=100000`` runs the issue's 100k case (a few GB of moto memory;
on 2 cores shared with other work it did not finish within 8 minutes, so the default
stays 10,000). Request counts cannot depend on the size: a page is a key-condition Query
with ``Limit`` on one partition.
"""

from __future__ import annotations

import os
import random
import statistics
from typing import Any

from bench.bench_feed import ORGS, build_org
from bench.common import count_dynamodb, moto_stack, straight_into_moto, table, verdict

SMALL = int(os.environ.get("LISTS_BENCH_SMALL", "1000"))
LARGE = int(os.environ.get("LISTS_BENCH_LARGE", "10000"))
PAGE = 20
CENTRE = (31.2304, 121.4737)
SPREAD_KM = 30


def real_objects(tenant: str, reps: list[str]) -> list[tuple[str, int]]:
    """A few objects written through the service; answers (type, entries written)."""
    from chalicelib.auth import Principal
    from chalicelib.models.lists import ListIndexState
    from chalicelib.services import crm

    out = []
    me = Principal(reps[0], tenant, frozenset())
    acc = crm.create_object(me, "account", {"name": "Real account", "location": {"lat": CENTRE[0], "lng": CENTRE[1]}})
    crm.put_team_member(me, acc.object_id, reps[1 % len(reps)], "follow_up")
    con = crm.create_object(me, "contact", {"name": "Real contact", "account_id": acc.object_id})
    opp = crm.create_object(me, "opportunity", {"name": "Real deal", "account_id": acc.object_id, "stage": "qualify"})
    lead = crm.create_object(me, "lead", {"name": "Real lead"})
    for obj in (acc, con, opp, lead):
        state = ListIndexState.get(*_state_key(obj))
        out.append((obj.object_type, len(state.keys or ())))
    return out


def _state_key(obj: Any) -> tuple[str, str]:
    from chalicelib.models.crm import object_pk
    from chalicelib.models.lists import LIST_STATE_SK

    return object_pk(obj.tenant_id, obj.object_type, obj.object_id), LIST_STATE_SK


def fill_accounts(tenant: str, reps: list[str], viewers: set[str], start: int, upto: int) -> None:
    """Accounts ``start..upto`` spread over the reps and ~30 km around the centre, written
    straight into moto with the entries the indexer computes for the measured viewers."""
    from chalicelib.models.crm import Account
    from chalicelib.services.feed_audience import Resolver
    from chalicelib.services.list_index import desired_items

    resolver = Resolver(tenant)
    resolver.load_users(reps)
    rng = random.Random(start)
    with straight_into_moto() as put:
        for i in range(start, upto):
            d = SPREAD_KM / 111.0
            acc = Account(
                tenant_id=tenant,
                object_id=f"acc_bench{i:07d}",
                name=f"{'Shop' if i % 2 else '商店'} {i:07d}",
                owner_id=reps[i % len(reps)],
                created_at="2020-01-01T00:00:00Z",
                updated_at=f"2020-01-01T00:00:{i % 60:02d}.{i:07d}Z",
                location={"lat": CENTRE[0] + rng.uniform(-d, d), "lng": CENTRE[1] + rng.uniform(-d, d)},
            )
            acc.version = 1
            acc.set_keys()
            put(acc)
            for item in desired_items(resolver, acc).values():
                if item.PK.split("#")[3] in viewers:
                    put(item)


def measure_list(tenant: str, viewer: str, query: dict[str, Any]) -> list[tuple[dict, int, int]]:
    from chalicelib.auth import Principal
    from chalicelib.services import lists

    principal = Principal(viewer, tenant, frozenset({"admin"}) if viewer == "admin" else frozenset())
    out, cursor = [], None
    for _ in (1, 2):
        with count_dynamodb() as counter:
            items, cursor = lists.list_page(principal, "account", limit=PAGE, cursor=cursor, **query)
        out.append((dict(counter.ops), counter.items_read, len(items)))
        if cursor is None:
            break
    if cursor is not None:  # the second page is not the last: it must be full too
        out.append(({}, 0, PAGE))
    return out


def measure_nearby(tenant: str, viewer: str, radius: int) -> tuple[dict, int, int]:
    from chalicelib.auth import Principal
    from chalicelib.services import lists

    principal = Principal(viewer, tenant, frozenset({"admin"}) if viewer == "admin" else frozenset())
    with count_dynamodb() as counter:
        items = lists.nearby(principal, CENTRE[0], CENTRE[1], radius, PAGE)
    return dict(counter.ops), counter.items_read, len(items)


def _fmt(ops: dict) -> str:
    return " + ".join(f"{v} {k}" for k, v in sorted(ops.items()))


def run() -> str:
    from chalicelib.services import geo

    list_rows, near_rows, amp_rows, ok = [], [], [], True
    list_counts: dict[tuple, set[int]] = {}
    with moto_stack():
        setups = {}
        for label, fanout in ORGS.items():
            tenant = "small" if label.startswith("10 ") else "big"
            org = build_org(tenant, fanout)
            reps = org["reps"]
            amp = real_objects(tenant, reps)
            amp_rows += [[label, t, n] for t, n in amp]
            viewers = {reps[0], "m0_0", "vp0", "ceo", "*"}
            setups[label] = (tenant, reps, viewers)
        for size in (SMALL, LARGE):
            for label, (tenant, reps, viewers) in setups.items():
                fill_accounts(tenant, reps, viewers, SMALL if size == LARGE else 0, size)
                cases = [
                    ("mine, updated", reps[0], {"scope": "mine"}),
                    ("team, updated", "m0_0", {"scope": "team"}),
                    ("all, updated", "ceo", {}),
                    ("all, name", "ceo", {"sort": "name"}),
                    ("search q=shop", "ceo", {"q": "shop"}),
                    ("search q=商店", "vp0", {"q": "商店"}),
                    ("owner_id filter", "vp0", {"filters": {"owner_id": reps[0]}}),
                    ("admin all, archived=true", "admin", {"archived": True}),
                ]
                for name, viewer, query in cases:
                    pages = measure_list(tenant, viewer, query)
                    queries = 2 if query.get("archived") else 1
                    expected = {"Query": queries, "BatchGetItem": 1}
                    # every page costs the same; every page but the last is full
                    measured, pages = pages, [p for p in pages if p[0]]
                    good = all(ops == expected for ops, _, _ in pages) and all(n == PAGE for *_, n in measured[:-1])
                    ok &= good
                    list_counts.setdefault((label, name), set()).update(sum(p[0].values()) for p in pages)
                    list_rows.append(
                        [label, f"{size:,}", name, viewer, _fmt(pages[0][0]), sum(pages[-1][0].values()),
                         " / ".join(str(p[1]) for p in pages), " / ".join(str(p[2]) for p in pages),
                         "yes" if good else "NO"]
                    )  # fmt: skip
                for radius in (500, 2000, 50_000):
                    ops, read, n = measure_nearby(tenant, "ceo", radius)
                    cells = len(geo.cover(CENTRE[0], CENTRE[1], radius))
                    good = ops.get("Query", 0) <= geo.MAX_CELLS and ops.get("BatchGetItem", 0) <= 1
                    ok &= good
                    near_rows.append([label, f"{size:,}", radius, cells, _fmt(ops), read, n, "yes" if good else "NO"])
    ok &= all(len(v) == 1 for v in list_counts.values())
    mean_amp = statistics.mean(n for *_, n in amp_rows)
    return "\n\n".join(
        [
            "## Lists, search and nearby (CRM objects)",
            f"Page size {PAGE}; accounts in the tenant as stated ({SMALL:,} and {LARGE:,}; 100k with "
            "`LISTS_BENCH_LARGE=100000`: the issue's size, left out of the default run because it did "
            "not finish within 8 minutes on this machine's 2 shared cores), spread over the reps and ~30 km "
            "around one point. Items read = Query items (limit + 2) + BatchGet items.",
            table(
                [
                    "org",
                    "accounts",
                    "page",
                    "viewer",
                    "requests p1",
                    "requests p2",
                    "items read p1 / p2",
                    "items p1 / p2",
                    "as expected",
                ],
                list_rows,
            ),  # fmt: skip
            "### Nearby (the CEO sees every account; requests = one Query per cell + 1 BatchGet)",
            "Bound: at most 16 cells (`geo.MAX_CELLS`), whatever the radius, place or tenant size; "
            "items read grow with the density of accounts around the point, not with the tenant.",
            table(["org", "accounts", "radius m", "cells", "requests", "items read", "found"], near_rows),
            f"### Write amplification (list + geo entries per object, mean {mean_amp:.1f})",
            table(["org", "object", "entries"], amp_rows),
            verdict(
                ok,
                "every list and search page costs 1 Query + 1 BatchGet (archived=true: 2 Queries) at both "
                "org and tenant sizes, every non-final page is full, nearby stays within 16 cells"
                if ok
                else "a page's request count varied with org/tenant size, a page was short, or nearby "
                "read more than 16 cells",
            ),
        ]
    )


if __name__ == "__main__":
    print(run())
