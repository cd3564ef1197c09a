"""The demo tenant: a small org with a reporting tree, used by `make run`, the tests and
the benchmarks. Written through the same services the API uses."""

from __future__ import annotations

from chalicelib.auth import issue_local_token

TENANT = "acme"
OTHER_TENANT = "globex"

# department_id: (name, parent_id, head_user_id)
DEPARTMENTS = {
    "hq": ("Headquarters", None, "ceo"),
    "sales": ("Sales", "hq", "vp"),
    "east": ("Sales East", "sales", "mgr_east"),
    "west": ("Sales West", "sales", "mgr_west"),
    "finance": ("Finance", "hq", None),
}
# user_id: (name, department_id, manager_id)
USERS = {
    "ceo": ("Chen Wei (CEO)", "hq", None),
    "vp": ("Li Na (VP Sales)", "sales", "ceo"),
    "mgr_east": ("Wang Fang (East manager)", "east", "vp"),
    "rep_a": ("Zhang Min (rep)", "east", "mgr_east"),
    "rep_b": ("Liu Yang (rep)", "east", "mgr_east"),
    "mgr_west": ("Zhao Lei (West manager)", "west", "vp"),
    "rep_c": ("Sun Li (rep)", "west", "mgr_west"),
    "fin": ("Zhou Jie (finance)", "finance", "ceo"),
    "admin": ("Admin", "hq", None),
}
GROUPS = {"admin": ["admin"], "fin": ["finance"]}
OTHER_USERS = {"boss": ("Other Boss", "hq", None), "rep_x": ("Other Rep", "hq", "boss")}


def seed_org() -> None:
    from chalicelib.services import org  # lazily: tokens need no table configuration

    heads = {}
    for dept_id, (name, parent, head) in DEPARTMENTS.items():
        org.put_department(TENANT, dept_id, name, parent, None)
        heads[dept_id] = (name, parent, head)
    for user_id, (name, dept, manager) in USERS.items():
        org.put_user(TENANT, user_id, name, dept, manager, f"{user_id}@acme.example", None)
    for dept_id, (name, parent, head) in heads.items():
        if head:
            org.put_department(TENANT, dept_id, name, parent, head)
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, None)
    for user_id, (name, dept, manager) in OTHER_USERS.items():
        org.put_user(OTHER_TENANT, user_id, name, dept, manager, None, None)
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, "boss")
    org.put_settings(TENANT, {"approval_limit": "5000.00"})


def token(user_id: str, tenant: str = TENANT, secret: str | None = None) -> str:
    return issue_local_token(user_id, tenant, GROUPS.get(user_id, []) if tenant == TENANT else [], secret=secret)


def seed_demo() -> None:
    """Org plus whatever demo data the capabilities provide (accounts, plans, ...)."""
    seed_org()
    for extra in DEMO_EXTRAS:
        extra()


DEMO_EXTRAS: list = []


def seed_crm() -> None:
    """Accounts around Shanghai (rep_a, rep_b, rep_c), contacts, opportunities, activities."""
    from chalicelib.auth import Principal
    from chalicelib.services import crm, feed

    places = {
        "rep_a": [("Jing'an Flagship", 31.2286, 121.4479), ("Lujiazui Tower Office", 31.2397, 121.4998)],
        "rep_b": [("Xujiahui Mall Store", 31.1950, 121.4365)],
        "rep_c": [("Hongqiao Logistics Hub", 31.1979, 121.3363), ("Pudong Airport Supplies", 31.1443, 121.8083)],
    }
    for rep, accounts in places.items():
        me = Principal(rep, TENANT, frozenset())
        for name, lat, lng in accounts:
            acc = crm.create_object(me, "account", {"name": name, "location": {"lat": lat, "lng": lng}})
            con = crm.create_object(me, "contact", {"name": f"Buyer at {name}", "account_id": acc.object_id})
            opp = crm.create_object(
                me,
                "opportunity",
                {"name": f"{name} renewal", "account_id": acc.object_id, "stage": "qualify", "amount": "25000.00"},
            )
            feed.record_activity(TENANT, "sales_record", rep, f"Visited {name}", [("account", acc.object_id)])
            feed.record_activity(TENANT, "post", rep, "Sent the price list", [("contact", con.object_id)])
            crm.update_object(me, "opportunity", opp.object_id, {"stage": "proposal"}, "Quote sent")
    crm.create_object(Principal("rep_a", TENANT, frozenset()), "lead", {"name": "Expo visitor", "company": "Foo Ltd"})


DEMO_EXTRAS.append(seed_crm)


FINANCE_SIM_PORT = 8002  # local/finance_sim.py's default port


def seed_expenses() -> None:
    """East's budget for this month (block, 80/100 %), a submitted and a draft expense, and
    the finance integration pointing at the local finance simulator."""
    import os

    from chalicelib.auth import Principal
    from chalicelib.services import budgets, expenses, org
    from chalicelib.timeutil import utcnow

    month = utcnow().strftime("%Y-%m")
    fin = Principal("fin", TENANT, frozenset({"finance"}))
    budgets.put_budget(fin, "department", "east", month, "20000.00", "CNY", "block", [80, 100])
    budgets.put_budget(fin, "person", "rep_a", month, "3000.00", "CNY", "warn", [80, 100])
    rep = Principal("rep_a", TENANT, frozenset())
    unit = {"type": "department", "id": "east"}
    taxi = expenses.create(
        rep,
        {"amount": "86.50", "category": "transport", "occurred_on": f"{month}-01", "unit": unit, "description": "Taxi"},
    )
    expenses.submit(rep, taxi.expense_id)
    expenses.create(rep, {"amount": "420.00", "category": "meals", "occurred_on": f"{month}-01", "unit": unit})
    port = int(os.environ.get("FINANCE_SIM_PORT", FINANCE_SIM_PORT))
    org.put_finance_integration(TENANT, f"http://127.0.0.1:{port}/hook")


DEMO_EXTRAS.append(seed_expenses)


def seed_schedule() -> None:
    """rep_a's plans around today (tenant time zone) and work logs; one plan starts three
    minutes after startup with a one-minute reminder, so `make run` users see a
    `plan_reminder` arrive in GET /v1/messages about two minutes in."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.models.base import BaseItem
    from chalicelib.models.crm import owned_pk
    from chalicelib.services import org, schedule
    from chalicelib.timeutil import iso, utcnow

    rep = Principal("rep_a", TENANT, frozenset())
    zone = org.tenant_zone(TENANT)
    now = utcnow().replace(microsecond=0)
    today = now.astimezone(zone).date()
    opps = [
        i.GSI1SK.split("#", 1)[1]
        for i in BaseItem.gsi1.query(owned_pk(TENANT, "rep_a"), BaseItem.GSI1SK.startswith("OPP#"))
    ]
    opp = opps[0] if opps else None

    def local(day, hh: int, mm: int) -> str:
        from datetime import datetime, time

        return iso(datetime.combine(day, time(hh, mm), tzinfo=zone))

    yesterday, tomorrow = today - timedelta(days=1), today + timedelta(days=1)
    visit = schedule.create_plan(
        rep, date_=None, title="Visit the Jing'an flagship", start_time=local(yesterday, 10, 0), opportunity_id=opp
    )
    schedule.create_log(
        rep, date_=yesterday.isoformat(), content="Walked the floor with the buyer", plan_id=visit.plan_id
    )
    call = schedule.create_plan(
        rep, date_=None, title="Call Lujiazui about the quote", start_time=local(yesterday, 15, 0)
    )
    schedule.update_plan(rep, call.plan_id, {"status": "done"})
    schedule.create_plan(rep, date_=None, title="Prepare the weekly report", start_time=local(yesterday, 17, 0))
    schedule.create_plan(
        rep,
        date_=None,
        title="Demo reminder: follow up with the buyer",
        start_time=iso(now + timedelta(minutes=3)),
        remind_minutes_before=1,
        opportunity_id=opp,
    )
    schedule.create_plan(
        rep, date_=None, title="Late client dinner", start_time=local(tomorrow, 23, 30), remind_minutes_before=60
    )
    schedule.create_log(rep, date_=today.isoformat(), content="Walk-in customer at the Xujiahui store")


DEMO_EXTRAS.append(seed_schedule)
