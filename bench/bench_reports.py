"""Work reports (issue 27): DynamoDB requests of the compliance view and of the report
lists per page, at orgs of 10 and 1,000 users under one manager, and of the team digest's
missing-reports section.

What goes through the real code: the demo org (``seed_org``), the daily template
(``templates.put_template``) and a few real reports (``reports.submit``: the report, its
slot and its list entries). Written straight into moto (``straight_into_moto``): the
org's other users (``bench_goals.fill_users``: profile, directory rows) and, for every
other one of them, the slot and ``received`` list entries a submission writes
(``reports._entries`` of a report built as ``submit`` builds it), so that half the
people have submitted.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from bench.bench_goals import TENANT, _principal, _today, fill_users
from bench.common import count_dynamodb, moto_stack, straight_into_moto, table, verdict

SIZES = (10, 1_000)
PAGE = 100
TEMPLATE = {
    "name": "Daily report",
    "period": "daily",
    "due_time": "00:00",  # due at the start of the day: whoever has not sent it is missing
    "fields": [
        {"key": "visits", "label": "Visits", "type": "auto", "source": "checkins"},
        {"key": "summary", "label": "Summary", "type": "text"},
    ],
}


def build(users: int) -> None:
    from chalicelib.ids import new_id
    from chalicelib.models.reports import Report, ReportSlot
    from chalicelib.services.reports import reports, templates
    from local.seed import seed_org

    seed_org()
    templates.put_template(TENANT, "daily", TEMPLATE)
    day = _today()
    for rep in ("rep_a", "rep_b"):
        reports.submit(_principal(rep), reports.NewReport("daily", day.isoformat(), {"summary": "real"}))
    members = fill_users("u", users, "mgr_east", "east")
    with straight_into_moto() as put:
        for user in members[::2]:
            report = Report(
                tenant_id=TENANT,
                report_id=new_id("rpt"),
                author_id=user.user_id,
                template_id="daily",
                period="daily",
                period_start=day.isoformat(),
                period_end=day.isoformat(),
                values_json='{"visits": 0, "summary": null}',
                recipient_ids=["mgr_east"],
                read_by=[],
                late=False,
                submitted_at=f"{day.isoformat()}T01:00:00Z",
                updated_at=f"{day.isoformat()}T01:00:00Z",
            )
            slot = ReportSlot(
                tenant_id=TENANT,
                author_id=user.user_id,
                template_id="daily",
                period_start=day.isoformat(),
                report_id=report.report_id,
            )
            for item in [report, slot, *reports._entries(report)]:
                item.set_keys()
                put(item)


def measure() -> dict[str, Any]:
    from chalicelib.services.reports import compliance, reports

    day = _today()
    calls = {
        "compliance page": lambda: compliance.compliance_page(
            _principal("mgr_east"), "daily", day.isoformat(), PAGE, None
        ),
        "received page": lambda: reports.reports_page(_principal("mgr_east"), "received", None, None, PAGE, None),
        "received page, by template and period": lambda: reports.reports_page(
            _principal("mgr_east"), "received", "daily", day.isoformat(), PAGE, None
        ),
        "mine page": lambda: reports.reports_page(_principal("rep_a"), "mine", None, None, PAGE, None),
        "digest missing reports": lambda: compliance.missing_reports(TENANT, day + timedelta(days=1)),
    }
    out: dict[str, Any] = {}
    for name, call in calls.items():
        with count_dynamodb() as c:
            got = call()
        out[name] = c.total
        out[f"{name} rows"] = len(got[0]) if isinstance(got, tuple) else len(got)
    return out


def run() -> str:
    results: dict[int, dict[str, Any]] = {}
    timings = []
    for users in SIZES:
        with moto_stack():
            started = time.perf_counter()
            build(users)
            results[users] = measure()
            timings.append(f"{users:,} users: {time.perf_counter() - started:.0f} s")
    paged = ("compliance page", "received page", "received page, by template and period", "mine page")
    rows = [[name, *(f"{results[n][name]} ({results[n][f'{name} rows']} rows)" for n in SIZES)] for name in paged]
    rows.append(["digest missing reports", *(f"{results[n]['digest missing reports']}" for n in SIZES)])
    ok = all(results[SIZES[0]][name] == results[SIZES[1]][name] for name in paged)
    return "\n\n".join(
        [
            "## Work reports: compliance and lists per page",
            table(["read (page of 100)", *(f"{n:,} users" for n in SIZES)], rows),
            "The digest's missing-reports section reads the tenant's users and their slots "
            "(1 Query per page of users, 1 BatchGet per 100): it follows the tenant's size, once a day.",
            verdict(ok, "compliance and report lists cost the same DynamoDB requests per page at 10 and 1,000 users"),
            "_" + "; ".join(timings) + "_",
        ]
    )
