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
    from chalicelib.services.org import org  # lazily: tokens need no table configuration

    heads = {}
    for dept_id, (name, parent, head) in DEPARTMENTS.items():
        org.put_department(TENANT, dept_id, name, parent, None)
        heads[dept_id] = (name, parent, head)
    for user_id, (name, dept, manager) in USERS.items():
        org.put_user(TENANT, org.NewUser(user_id, name, dept, manager, f"{user_id}@acme.example", None))
    for dept_id, (name, parent, head) in heads.items():
        if head:
            org.put_department(TENANT, dept_id, name, parent, head)
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, None)
    for user_id, (name, dept, manager) in OTHER_USERS.items():
        org.put_user(OTHER_TENANT, org.NewUser(user_id, name, dept, manager, None, None))
    org.put_department(OTHER_TENANT, "hq", "Globex HQ", None, "boss")
    org.put_settings(TENANT, {"approval_limit": "5000.00"})


def token(user_id: str, tenant: str = TENANT, secret: str | None = None) -> str:
    return issue_local_token(user_id, tenant, GROUPS.get(user_id, []) if tenant == TENANT else [], secret=secret)


def seed_demo() -> None:
    """Org plus whatever demo data the capabilities provide (accounts, plans, ...)."""
    seed_org()
    seed_data()


def seed_data() -> None:
    """The demo data the capabilities provide, in an org already seeded."""
    for extra in DEMO_EXTRAS:
        extra()


DEMO_EXTRAS: list = []


def seed_crm() -> None:
    """Accounts around Shanghai (rep_a, rep_b, rep_c), contacts, opportunities, activities."""
    from chalicelib.auth import Principal
    from chalicelib.services.crm import crm
    from chalicelib.services.feed import feed

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
            feed.record_activity(
                feed.NewActivity(TENANT, "sales_record", rep, f"Visited {name}", [("account", acc.object_id)])
            )
            feed.record_activity(
                feed.NewActivity(TENANT, "post", rep, "Sent the price list", [("contact", con.object_id)])
            )
            crm.update_object(me, "opportunity", opp.object_id, {"stage": "proposal"}, "Quote sent")
    crm.create_object(Principal("rep_a", TENANT, frozenset()), "lead", {"name": "Expo visitor", "company": "Foo Ltd"})


DEMO_EXTRAS.append(seed_crm)


# Accounts around People's Square (31.2304, 121.4737) for lists, search and nearby: mixed
# scripts and cases, a ring of distances, a few archived.
AROUND = (31.2304, 121.4737)
NEARBY_ACCOUNTS = [
    ("rep_a", "上海第一百货", 0.0, 0.0006, False),
    ("rep_a", "上海书城 Shanghai Book City", 0.0025, -0.0010, False),
    ("rep_a", "Nanjing Road Pharmacy", 0.0012, 0.0040, False),
    ("rep_a", "ＡＣＭＥ Tea House", -0.0040, 0.0030, False),
    ("rep_a", "acme Bakery (closed)", 0.0030, 0.0030, True),
    ("rep_b", "人民广场 Café", -0.0008, -0.0015, False),
    ("rep_b", "Old Bund Hardware (closed)", 0.0100, 0.0120, True),
    ("rep_c", "Xintiandi Bistro", -0.0120, 0.0050, False),
    ("rep_c", "静安 Kiosk", 0.0150, -0.0250, False),
]


def seed_nearby() -> None:
    """Located accounts around one point (see NEARBY_ACCOUNTS); the last flag archives."""
    from chalicelib.auth import Principal
    from chalicelib.services.crm import crm

    for owner, name, dlat, dlng, archived in NEARBY_ACCOUNTS:
        me = Principal(owner, TENANT, frozenset())
        location = {"lat": round(AROUND[0] + dlat, 6), "lng": round(AROUND[1] + dlng, 6)}
        acc = crm.create_object(me, "account", {"name": name, "location": location, "address": "Huangpu, Shanghai"})
        if archived:
            crm.set_archived(me, "account", acc.object_id, True)


DEMO_EXTRAS.append(seed_nearby)


FINANCE_SIM_PORT = 8002  # local/finance_sim.py's default port


def seed_expenses() -> None:
    """East's budget for this month (block, 80/100 %), a submitted and a draft expense, and
    the finance integration pointing at the local finance simulator."""
    import os

    from chalicelib.auth import Principal
    from chalicelib.services.expenses import budgets, expenses
    from chalicelib.services.org import org
    from chalicelib.timeutil import utcnow

    month = utcnow().strftime("%Y-%m")
    fin = Principal("fin", TENANT, frozenset({"finance"}))
    budgets.put_budget(fin, budgets.NewLimit("department", "east", month, "20000.00", "CNY", "block", [80, 100]))
    budgets.put_budget(fin, budgets.NewLimit("person", "rep_a", month, "3000.00", "CNY", "warn", [80, 100]))
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


def seed_approvals_and_day() -> None:
    """A queue for mgr_east (GET /v1/approvals as mgr_east: oldest first, one above the
    approval limit that then goes on to the VP), and today's sign-ins of the team
    (GET /v1/team/day?date=<today> as mgr_east or vp)."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.services.expenses import expenses
    from chalicelib.services.fieldwork import signins
    from chalicelib.timeutil import iso, utcnow

    month = utcnow().strftime("%Y-%m")
    unit = {"type": "department", "id": "east"}
    for rep, amount, category, text in (
        ("rep_b", "380.00", "lodging", "Hotel in Suzhou"),
        ("rep_a", "6200.00", "meals", "Client dinner, Lujiazui (above the approval limit)"),
        ("rep_b", "25.00", "transport", "Parking"),
    ):
        me = Principal(rep, TENANT, frozenset())
        draft = expenses.create(
            me,
            {"amount": amount, "category": category, "occurred_on": f"{month}-01", "unit": unit, "description": text},
        )
        expenses.submit(me, draft.expense_id)
    now = utcnow().replace(microsecond=0)
    day = [
        ("rep_a", "check_in", 31.2286, 121.4479, 4, False),
        ("rep_a", "check_out", 31.2288, 121.4481, 3, False),
        ("rep_a", "check_in", 31.2397, 121.4998, 2, False),
        ("rep_b", "check_in", 31.1950, 121.4365, 2, False),
        ("rep_c", "check_in", 31.1979, 121.3363, 1, True),  # mock location: flagged
    ]
    for rep, kind, lat, lng, minutes_ago, mock in day:
        signins.create_signin(
            Principal(rep, TENANT, frozenset()),
            signins.NewSignIn(
                kind=kind,
                lat=lat,
                lng=lng,
                accuracy_m=15,
                client_time=iso(now - timedelta(minutes=minutes_ago)),
                mock_location=mock,
            ),
        )


DEMO_EXTRAS.append(seed_approvals_and_day)


def seed_schedule() -> None:
    """rep_a's plans around today (tenant time zone) and work logs; one plan starts three
    minutes after startup with a one-minute reminder, so `make run` users see a
    `plan_reminder` arrive in GET /v1/messages about two minutes in."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.models.base import BaseItem
    from chalicelib.models.crm import owned_pk
    from chalicelib.services.org import org
    from chalicelib.services.schedule import schedule
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
        rep,
        schedule.NewPlan(
            date_=None, title="Visit the Jing'an flagship", start_time=local(yesterday, 10, 0), opportunity_id=opp
        ),
    )
    schedule.create_log(
        rep,
        schedule.NewLog(date_=yesterday.isoformat(), content="Walked the floor with the buyer", plan_id=visit.plan_id),
    )
    call = schedule.create_plan(
        rep, schedule.NewPlan(date_=None, title="Call Lujiazui about the quote", start_time=local(yesterday, 15, 0))
    )
    schedule.update_plan(rep, call.plan_id, {"status": "done"})
    schedule.create_plan(
        rep, schedule.NewPlan(date_=None, title="Prepare the weekly report", start_time=local(yesterday, 17, 0))
    )
    schedule.create_plan(
        rep,
        schedule.NewPlan(
            date_=None,
            title="Demo reminder: follow up with the buyer",
            start_time=iso(now + timedelta(minutes=3)),
            remind_minutes_before=1,
            opportunity_id=opp,
        ),
    )
    schedule.create_plan(
        rep,
        schedule.NewPlan(
            date_=None, title="Late client dinner", start_time=local(tomorrow, 23, 30), remind_minutes_before=60
        ),
    )
    schedule.create_log(rep, schedule.NewLog(date_=today.isoformat(), content="Walk-in customer at the Xujiahui store"))


DEMO_EXTRAS.append(seed_schedule)


def seed_goals() -> None:
    """This month's goals for east and its reps, a won deal, and what makes a digest: rep_b
    quiet for a week and a Lujiazui deal untouched for a month (POST /fire/team_digest?tenant_id=acme)."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.models.crm import objects_owned_by
    from chalicelib.models.digest import LastCheckIn, OpportunityPulse
    from chalicelib.services.crm import crm
    from chalicelib.services.org import org
    from chalicelib.services.performance import goals
    from chalicelib.timeutil import utcnow

    zone = org.tenant_zone(TENANT)
    today = utcnow().astimezone(zone).date()
    month = today.strftime("%Y-%m")
    boss = Principal("mgr_east", TENANT, frozenset())
    goals.put(boss, "user", "rep_a", month, {"visits": 40, "won_amount": "80000.00", "plan_completion_rate": 80})
    goals.put(boss, "user", "rep_b", month, {"visits": 40, "new_opportunities": 5, "expense_limit": "3000.00"})
    goals.put(boss, "department", "east", month, {"visits": 100, "won_amount": "200000.00", "won_count": 6})
    rep_a = Principal("rep_a", TENANT, frozenset())
    accounts = [o for o in objects_owned_by(TENANT, "rep_a") if o[0] == "account"]
    won = crm.create_object(
        rep_a,
        "opportunity",
        {"name": "Flagship refit", "account_id": accounts[0][1], "stage": "negotiation", "amount": "36000.00"},
    )
    crm.update_object(rep_a, "opportunity", won.object_id, {"stage": "won"}, "Signed today")
    LastCheckIn(tenant_id=TENANT, user_id="rep_b", day=(today - timedelta(days=7)).isoformat()).save()
    stale = [o for o in objects_owned_by(TENANT, "rep_a") if o[0] == "opportunity"][0][1]
    opp = crm.get_object(TENANT, "opportunity", stale)
    OpportunityPulse(
        tenant_id=TENANT,
        opportunity_id=stale,
        owner_id="rep_a",
        name=opp.name if opp else stale,
        day=(today - timedelta(days=30)).isoformat(),
    ).save()


DEMO_EXTRAS.append(seed_goals)


def seed_road() -> None:
    """rep_a's visits today at four located accounts (GET /v1/route orders them) and a USD rate."""
    from datetime import datetime, time

    from chalicelib.auth import Principal
    from chalicelib.models.crm import objects_owned_by
    from chalicelib.services.crm import crm
    from chalicelib.services.expenses import fx
    from chalicelib.services.org import org
    from chalicelib.services.schedule import schedule
    from chalicelib.timeutil import iso, utcnow

    zone = org.tenant_zone(TENANT)
    today = utcnow().astimezone(zone).date()
    rep = Principal("rep_a", TENANT, frozenset())
    stops = [("People's Square Kiosk", 31.2323, 121.4755), ("Zhongshan Park Store", 31.2233, 121.4165)]
    located = [o[1] for o in objects_owned_by(TENANT, "rep_a") if o[0] == "account"]
    for name, lat, lng in stops:
        located.append(
            crm.create_object(rep, "account", {"name": name, "location": {"lat": lat, "lng": lng}}).object_id
        )
    for hour, account_id in zip((9, 11, 14, 16), located, strict=False):
        start = iso(datetime.combine(today, time(hour, 0), tzinfo=zone))
        schedule.create_plan(
            rep, schedule.NewPlan(date_=None, title=f"Visit at {hour}:00", start_time=start, account_id=account_id)
        )
    for day, rate in (("2026-01-01", "7.1000"), (today.isoformat(), "7.1234")):
        fx.put_rate(TENANT, org.get_settings(TENANT).currency, fx.NewRate("USD", day, rate, source="demo"))


DEMO_EXTRAS.append(seed_road)


def seed_money() -> None:
    """A USD expense (converted at today's rate when submitted), the tenant's mileage rate,
    and rep_a's mileage claim for the day of this morning's sign-ins."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.errors import Unprocessable
    from chalicelib.services.expenses import expenses, mileage
    from chalicelib.services.org import org
    from chalicelib.timeutil import local_date, utcnow

    zone = org.tenant_zone(TENANT)
    day = local_date(utcnow() - timedelta(minutes=4), zone)  # seed_approvals_and_day's first sign-in
    org.put_settings(TENANT, {"mileage_rate": "1.20"})
    rep_b = Principal("rep_b", TENANT, frozenset())
    usd = expenses.create(
        rep_b,
        {
            "amount": "120.00",
            "currency": "USD",
            "category": "meals",
            "occurred_on": day,
            "unit": {"type": "department", "id": "east"},
            "description": "Dinner with a US buyer",
        },
    )
    expenses.submit(rep_b, usd.expense_id)
    try:
        mileage.claim(Principal("rep_a", TENANT, frozenset()), day)
    except Unprocessable as exc:  # the sign-ins straddled local midnight: no path that day
        if exc.code not in ("no_signins", "no_distance"):
            raise


DEMO_EXTRAS.append(seed_money)


def seed_delegation() -> None:
    """mgr_east is away from yesterday to three days on (tenant time zone) and delegated
    their approvals to the VP: GET /v1/approvals as vp shows mgr_east's queue, GET
    /v1/me/delegate as mgr_east the delegation. Seeded last, so the waits above move."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.services.expenses import approvals
    from chalicelib.services.org import org
    from chalicelib.timeutil import today

    day = today(org.tenant_zone(TENANT))
    away = Principal("mgr_east", TENANT, frozenset())
    approvals.set_delegation(away, "vp", (day - timedelta(days=1)).isoformat(), (day + timedelta(days=3)).isoformat())


DEMO_EXTRAS.append(seed_delegation)


# installation id: (user, platform, token): phones of the demo reps, registered as the app does
DEMO_DEVICES = {
    "demo-iphone-rep-a": ("rep_a", "apns_sandbox", "a0" * 32),
    "demo-android-rep-a": ("rep_a", "fcm", "demo-fcm-token-rep-a:" + "x" * 120),
    "demo-android-mgr-east": ("mgr_east", "fcm", "demo-fcm-token-mgr-east:" + "y" * 120),
}


def seed_devices() -> None:
    """A phone or two for the demo users: every message they get is pushed to the stand-in's
    SNS (see ``GET /pushes`` on the control endpoint)."""
    from chalicelib.services.push import devices

    for installation_id, (user_id, platform, push_token) in DEMO_DEVICES.items():
        devices.register(devices.Registration(TENANT, user_id, installation_id, platform, push_token))


DEMO_EXTRAS.append(seed_devices)


def seed_collab() -> None:
    """Collaboration: mgr_east assigned rep_a a follow-up on their opportunity (due tomorrow,
    reminded an hour before) and the east team a shared task; an instruction to the east
    reps (rep_a acknowledged it); rep_b asked for three days of leave next week (waiting:
    GET /v1/approval-requests?role=waiting as vp, mgr_east's delegate)."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.models.crm import objects_owned_by
    from chalicelib.services.collab import instructions, requests, tasks
    from chalicelib.services.org import org
    from chalicelib.timeutil import iso, today, utcnow

    boss, rep_a, rep_b = (Principal(u, TENANT, frozenset()) for u in ("mgr_east", "rep_a", "rep_b"))
    owned = [i for t, i in objects_owned_by(TENANT, "rep_a") if t == "opportunity"][:1]
    related = [{"type": "opportunity", "id": i} for i in owned]
    due = utcnow().replace(microsecond=0) + timedelta(days=1)
    tasks.create(
        boss,
        tasks.NewTask(
            title="Send the revised quote",
            assignee_ids=["rep_a"],
            due_at=iso(due),
            remind_minutes_before=60,
            related=related,
        ),
    )
    shared = tasks.NewTask(
        title="Update the key-account plan", assignee_ids=["rep_a", "rep_b"], due_at=iso(due), completion="any"
    )
    tasks.create(boss, shared)
    sent = instructions.create(boss, "Visit every key account before Friday", ["rep_a", "rep_b"], related)
    instructions.ack(rep_a, sent.instruction_id)
    monday = today(org.tenant_zone(TENANT)) + timedelta(days=7 - today(org.tenant_zone(TENANT)).weekday())
    requests.create(
        rep_b,
        requests.NewRequest(
            kind="leave",
            title="Family visit",
            from_date=monday.isoformat(),
            to_date=(monday + timedelta(days=2)).isoformat(),
        ),
    )


DEMO_EXTRAS.append(seed_collab)


def seed_reports() -> None:
    """Report templates (daily, weekly) and two daily reports: rep_b's today, tied to a
    Xujiahui account (a ``report`` activity in the feed), and rep_c's yesterday, which
    mgr_west has read (so rep_c can no longer edit it). GET /v1/report-compliance as
    mgr_east shows rep_b's and rep_a's missing (once 19:00 has passed)."""
    from datetime import timedelta

    from chalicelib.auth import Principal
    from chalicelib.models.crm import objects_owned_by
    from chalicelib.services.org import org
    from chalicelib.services.reports import reports, templates
    from chalicelib.timeutil import today

    fields = [
        {"key": "visits", "label": "Customer visits", "type": "auto", "source": "checkins"},
        {"key": "visit_minutes", "label": "Minutes at customers", "type": "auto", "source": "visits_minutes"},
        {"key": "plans_done", "label": "Plans completed", "type": "auto", "source": "plans_done"},
        {"key": "plans_total", "label": "Plans", "type": "auto", "source": "plans_total"},
        {"key": "summary", "label": "Today's work", "type": "text"},
        {"key": "tomorrow", "label": "Tomorrow's plan", "type": "text"},
    ]
    templates.put_template(
        TENANT, "daily", {"name": "Daily report", "period": "daily", "due_time": "19:00", "fields": fields}
    )
    weekly = [
        {"key": "won", "label": "Won this week", "type": "auto", "source": "won_amount"},
        {"key": "new_opportunities", "label": "New opportunities", "type": "auto", "source": "new_opportunities"},
        {"key": "expenses", "label": "Expenses", "type": "auto", "source": "expenses_total"},
        {"key": "highlights", "label": "Highlights", "type": "text"},
        {"key": "calls", "label": "Phone calls", "type": "number"},
    ]
    templates.put_template(
        TENANT, "weekly", {"name": "Weekly report", "period": "weekly", "due_time": "18:00", "fields": weekly}
    )
    day = today(org.tenant_zone(TENANT))
    account = next(o[1] for o in objects_owned_by(TENANT, "rep_b") if o[0] == "account")
    reports.submit(
        Principal("rep_b", TENANT, frozenset()),
        reports.NewReport(
            "daily",
            day.isoformat(),
            {"summary": "Xujiahui store: shelf check and reorder", "tomorrow": "Follow up the reorder"},
            related=[("account", account)],
        ),
    )
    yesterday = reports.submit(
        Principal("rep_c", TENANT, frozenset()),
        reports.NewReport("daily", (day - timedelta(days=1)).isoformat(), {"summary": "Hongqiao hub delivery review"}),
    )
    reports.read(Principal("mgr_west", TENANT, frozenset()), yesterday["id"])


DEMO_EXTRAS.append(seed_reports)
