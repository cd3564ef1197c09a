"""Feed page cost (DynamoDB requests and items read) per scene, for a 10-user and a
1,000-user org and two table sizes, plus write amplification per activity.

Target (issue 3): every feed page costs the same number of requests whatever the org or
table size (1 Query + at most 1 BatchGet), and every non-final page is full.

Honest scaling note: moto in-process writes about 1,000 items/s and scans a whole
partition on every Query, so 100k activities per measured partition would take many
minutes. Every measured partition holds 1,000 and then ``FEED_BENCH_LARGE`` = 2,000
entries (the worst case: each measured viewer sees every activity), and the widest one
(the CEO's ``all``) then ``FEED_BENCH_FULL`` = 100,000; ``FEED_BENCH_LARGE=100000`` puts
100k in every partition. Request and item counts cannot depend on the size: a page is a
key-condition Query with ``Limit`` on one partition.
"""

from __future__ import annotations

import os
import statistics
from typing import Any

from bench.common import count_dynamodb, moto_stack, table, verdict

SMALL, LARGE = 1_000, int(os.environ.get("FEED_BENCH_LARGE", "2000"))
FULL = int(os.environ.get("FEED_BENCH_FULL", "100000"))  # the CEO's ``all`` partition alone
FULL_CASE = ("all", "ceo", None)
ORGS = {"10 users": (1, 2, 3), "1,000 users": (10, 10, 9)}  # fan-out per level below the CEO
REAL_ACTIVITIES = 60
PAGE = 20
TYPES = ("sales_record", "service_record", "post", "report")


def build_org(tenant: str, fanout: tuple[int, ...]) -> dict[str, Any]:
    """CEO > vps > managers > reps; a department per vp (head vp) and per manager (head
    manager) under hq (head ceo). Written with batch writes (the org service would be slow
    at 1,000 users but writes the same items)."""
    from chalicelib.models.base import BaseItem
    from chalicelib.models.org import Department, User

    users: list[User] = []
    depts = [Department(tenant_id=tenant, department_id="hq", name="HQ", head_user_id="ceo", path="/hq/")]
    users.append(User(tenant_id=tenant, user_id="ceo", name="CEO", department_id="hq", path="/ceo/", dept_path="/hq/"))
    users.append(
        User(tenant_id=tenant, user_id="admin", name="Admin", department_id="hq", path="/admin/", dept_path="/hq/")
    )
    reps: list[str] = []
    for v in range(fanout[0]):
        vp, vdept = f"vp{v}", f"r{v}"
        depts.append(
            Department(
                tenant_id=tenant, department_id=vdept, name=vdept, parent_id="hq", head_user_id=vp, path=f"/hq/{vdept}/"
            )
        )
        users.append(
            User(
                tenant_id=tenant,
                user_id=vp,
                name=vp,
                department_id=vdept,
                manager_id="ceo",
                path=f"/ceo/{vp}/",
                dept_path=f"/hq/{vdept}/",
            )
        )
        for m in range(fanout[1]):
            mgr, mdept = f"m{v}_{m}", f"t{v}_{m}"
            mpath, mdpath = f"/ceo/{vp}/{mgr}/", f"/hq/{vdept}/{mdept}/"
            depts.append(
                Department(
                    tenant_id=tenant, department_id=mdept, name=mdept, parent_id=vdept, head_user_id=mgr, path=mdpath
                )
            )
            users.append(
                User(
                    tenant_id=tenant,
                    user_id=mgr,
                    name=mgr,
                    department_id=mdept,
                    manager_id=vp,
                    path=mpath,
                    dept_path=mdpath,
                )
            )
            for r in range(fanout[2]):
                rep = f"s{v}_{m}_{r}"
                reps.append(rep)
                users.append(
                    User(
                        tenant_id=tenant,
                        user_id=rep,
                        name=rep,
                        department_id=mdept,
                        manager_id=mgr,
                        path=f"{mpath}{rep}/",
                        dept_path=mdpath,
                    )
                )
    with BaseItem.batch_write() as batch:
        for item in [*depts, *users]:
            item.set_keys()
            batch.save(item)
    return {"users": len(users), "reps": reps}


def seed_activities(tenant: str, reps: list[str]) -> tuple[list[str], list[int]]:
    """Objects for the first reps (an account with a peer on its team, a contact, an
    opportunity, a lead each) and REAL_ACTIVITIES real activities over them."""
    from chalicelib.auth import Principal
    from chalicelib.services.crm import crm
    from chalicelib.services.feed import feed
    from chalicelib.services.feed.feed_index import get_activity

    objects: list[tuple[str, str]] = []
    for i, rep in enumerate(reps[:3]):
        me = Principal(rep, tenant, frozenset())
        acc = crm.create_object(me, "account", {"name": f"Account {rep}"})
        crm.put_team_member(me, acc.object_id, reps[(i + 1) % len(reps)], "follow_up")
        con = crm.create_object(me, "contact", {"name": f"Contact {rep}", "account_id": acc.object_id})
        opp = crm.create_object(
            me, "opportunity", {"name": f"Deal {rep}", "account_id": acc.object_id, "stage": "qualify"}
        )
        lead = crm.create_object(me, "lead", {"name": f"Lead {rep}"})
        objects += [
            ("account", acc.object_id),
            ("contact", con.object_id),
            ("opportunity", opp.object_id),
            ("lead", lead.object_id),
        ]
    ids, amplification = [], []
    for n in range(REAL_ACTIVITIES):
        kind, obj = objects[n % len(objects)]
        owner = reps[(n % len(objects)) // 4]
        act = feed.record_activity(
            feed.NewActivity(tenant, TYPES[n % len(TYPES)], owner, f"activity {n}", [(kind, obj)])
        )
        stored = get_activity(tenant, act["id"])
        amplification.append(len(stored.indexed or ()) + len(stored.related or ()))
        ids.append(act["id"])
    return ids, amplification


def fill(tenant: str, partitions: list[tuple[str, str]], activity_ids: list[str], upto: int, have: dict) -> None:
    """Older synthetic entries (pointing at real activities) until each partition holds
    ``upto``; written straight into moto's table to keep the bench minutes, not hours."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    from chalicelib.models.feed import FeedEntry

    backend_table = dynamodb_backends[DEFAULT_ACCOUNT_ID][os.environ["AWS_REGION"]].get_table(os.environ["TABLE_NAME"])
    for viewer, scene in partitions:
        start = have.get((viewer, scene), 0)
        for i in range(start, upto):
            entry = FeedEntry(
                tenant_id=tenant,
                viewer=viewer,
                scene=scene,
                activity_id=activity_ids[i % len(activity_ids)],
                type=TYPES[i % len(TYPES)],
                occurred_at=f"2020-{1 + i // 2_000_000:02d}-01T00:00:00.{i:07d}Z",
            )
            entry.set_keys()
            backend_table.put_item(entry.serialize())
        have[(viewer, scene)] = max(start, upto)


def measure(tenant: str, viewer: str, scene: str, types: list[str] | None = None) -> dict[str, Any]:
    from chalicelib.auth import Principal
    from chalicelib.services.feed import feed

    principal = Principal(viewer, tenant, frozenset({"admin"}) if viewer == "admin" else frozenset())
    out: dict[str, Any] = {}
    cursor = None
    for page_no in (1, 2):
        with count_dynamodb() as counter:
            query = feed.FeedQuery(scene=scene, types=types)
            items, cursor = feed.feed_page(principal, query, limit=PAGE, cursor=cursor)
        out[page_no] = (dict(counter.ops), counter.items_read, len(items))
        if cursor is None:
            break
    return out


def run() -> str:
    rows, ok, amp_rows = [], True, []
    with moto_stack():
        setups = {}
        for label, fanout in ORGS.items():
            tenant = "small" if label.startswith("10 ") else "big"
            org = build_org(tenant, fanout)
            ids, amp = seed_activities(tenant, org["reps"])
            rep, mgr, vp = org["reps"][0], "m0_0", "vp0"
            cases = [
                ("all", "admin", None),
                ("all", "ceo", None),
                ("my_accounts", rep, None),
                ("my_contacts", rep, None),
                ("my_opportunities", rep, None),
                ("my_leads", rep, None),
                ("subordinates_team_accounts", mgr, None),
                ("subordinates_business", vp, None),
                ("my_department", vp, None),
                ("all", mgr, ["sales_record"]),
                ("all", mgr, ["sales_record", "post"]),
            ]
            setups[label] = (tenant, org, ids, cases, {})
            amp_rows.append(
                [label, len(amp), f"{statistics.mean(amp):.1f}", max(amp), "author + admin + owner/team chains + links"]
            )
        counts: dict[tuple, Any] = {}
        for size, widest_only in ((SMALL, False), (LARGE, False), (FULL, True)):
            if widest_only and FULL <= LARGE:
                continue  # every scene is already this large
            for label, (tenant, _org, ids, cases, have) in setups.items():
                if widest_only:  # every scene at 100k takes long on moto: the widest one
                    cases = [FULL_CASE]
                partitions = sorted({("*" if v == "admin" else v, s) for s, v, _ in cases})
                fill(tenant, partitions, ids, size, have)
                for scene, viewer, types in cases:
                    got = measure(tenant, viewer, scene, types)
                    ops1, read1, n1 = got[1]
                    ops2, read2, n2 = got.get(2, ({}, 0, 0))
                    expected = {"Query": len(types or [None]), "BatchGetItem": 1}
                    good = ops1 == expected and ops2 == expected and n1 == PAGE and n2 == PAGE
                    ok &= good
                    key = (label, scene, viewer, tuple(types or ()))
                    counts.setdefault(key, []).append((sum(ops1.values()), sum(ops2.values())))
                    rows.append(
                        [
                            label,
                            f"{size:,}",
                            scene + (f" types={','.join(types)}" if types else ""),
                            viewer,
                            " + ".join(f"{v} {k}" for k, v in sorted(ops1.items())),
                            sum(ops2.values()),
                            f"{read1} / {read2}",
                            f"{n1} / {n2}",
                            "yes" if good else "NO",
                        ]
                    )
    constant = all(len(set(v)) == 1 for v in counts.values())
    ok &= constant
    return "\n\n".join(
        [
            "## Feed (CRM information)",
            f"Page size {PAGE}. Each measured partition holds the stated number of entries (the worst "
            f"case: the viewer sees every activity): every scene at {SMALL:,} and {LARGE:,}, and the "
            f"CEO's `all` scene (the widest) at {FULL:,}; every scene at 100k would take hours on moto, "
            "which scans whole partitions (`FEED_BENCH_LARGE=100000` does it). A page is a "
            "key-condition Query with `Limit` on one partition, so neither count can depend on the "
            "size. Items read = Query items (limit + 2: the cursor's own row and one look-ahead) + "
            "BatchGet items.",
            table(
                [
                    "org",
                    "entries / partition",
                    "scene",
                    "viewer",
                    "requests page 1",
                    "requests page 2",
                    "items read p1 / p2",
                    "items p1 / p2",
                    "as expected",
                ],
                rows,
            ),
            "### Write amplification (index items + links written per activity)",
            table(["org", "activities", "mean", "max", "what"], amp_rows),
            verdict(
                ok,
                "every page without a type filter costs 1 Query + 1 BatchGet for both orgs and both "
                "table sizes (k types: k Queries + 1 BatchGet), and every non-final page is full"
                if ok
                else "a page's request count varied with org/table size, or a page was short",
            ),
        ]
    )


if __name__ == "__main__":
    print(run())
