"""The daily team digest ("existing problems"): each manager's one message a day, at 08:00
tenant time, naming subordinates (any depth) without a check-in for ``inactive_days``
working days, their open opportunities with no activity for ``stale_days``, and goals
behind pace. Also published on EventBridge as ``team.digest``.

Cost follows what is reported, never the table: hourly, the dispatcher reads the
tenants of the zones whose 08:00 it is (the registry's zone index, 1 Query per zone at
08:xx) and queues one fan-out task per tenant; the worker then reads per tenant 1
GetItem (settings), 1 Query per index shard for the quiet users (the tenant's
``index_shards``: 1 for a small tenant), 1 Query for the stale
opportunities (indexes kept on write: ``models/digest.py``), 1 Query for the month's goals
plus a BatchGet of their actuals, BatchGets of the people and departments named, and one
message per manager. Exactly once per manager and day: the message's dedupe key is the day,
so a second firing (or a retried one) sends nothing and publishes nothing.

Missing work reports: those that fell due on the last working day before the digest and
were not submitted (services/reports/compliance.py: 1 Query of the templates; with a
template due, the tenant's users and 1 BatchGet of their report slots per 100).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Optional
from zoneinfo import ZoneInfo, available_timezones

from pynamodb.exceptions import PutError, UpdateError

from chalicelib.models.base import BaseItem
from chalicelib.models.crm import Opportunity
from chalicelib.models.digest import LastCheckIn, OpportunityPulse, TenantEntry
from chalicelib.models.feed import Activity
from chalicelib.models.goals import Actuals, Goal, scope_pk
from chalicelib.models.org import Department, User
from chalicelib.models.shards import index_count
from chalicelib.models.signins import SignIn
from chalicelib.observability import count, logger
from chalicelib.services.collab import leave, tasks
from chalicelib.services.inbox import messages
from chalicelib.services.org import org, pipeline, workcalendar
from chalicelib.services.performance import goals
from chalicelib.services.platform import events, fanout
from chalicelib.services.platform.projections import INSERT, MODIFY, Change, Projection, Rebuild, Scope, reads
from chalicelib.services.reports import compliance
from chalicelib.timeutil import iso, local_date, utcnow

DIGEST_HOUR = 8
MAX_LISTED = 20  # names per section in one message; the rest are counted


# ---------------------------------------------------------------- kept on write (stream)
def _local_day(timestamp: str, tenant_id: str) -> str:
    return local_date(timestamp, org.tenant_zone(tenant_id))


def _later(item: BaseItem, attr: Any, day: str) -> None:
    """Store unless a later day is already there (a late record never moves it back)."""
    try:
        item.save(condition=type(item).PK.does_not_exist() | (attr < day))
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def _first(item: BaseItem) -> None:
    """Store only if absent (a user's baseline: the day they joined)."""
    try:
        item.save(condition=type(item).PK.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def pulse_of(opp: Opportunity, settings: Any) -> Optional[OpportunityPulse]:
    """The opportunity's pulse as the stream keeps it (its last activity: its last change
    until an activity says later), or None once it is closed or archived."""
    if pipeline.of(settings).outcome(opp.stage) != "open" or opp.archived_at:
        return None
    pulse = OpportunityPulse(tenant_id=opp.tenant_id, opportunity_id=opp.object_id)
    pulse.owner_id, pulse.name = opp.owner_id, opp.name
    pulse.day = local_date(opp.updated_at, org.tenant_zone(opp.tenant_id, settings))
    return pulse


def _on_opportunity(opp: Opportunity) -> None:
    pulse = pulse_of(opp, org.get_settings(opp.tenant_id))
    if pulse is None:
        gone = OpportunityPulse(tenant_id=opp.tenant_id, opportunity_id=opp.object_id)
        gone.set_keys()
        gone.delete()
        return
    try:
        pulse.save(condition=OpportunityPulse.PK.does_not_exist() | (OpportunityPulse.day <= pulse.day))
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise


def _on_activity(activity: Activity) -> None:
    day = _local_day(activity.created_at, activity.tenant_id)
    for ref in activity.related or []:
        if ref.get("type") != "opportunity":
            continue
        pulse = OpportunityPulse(tenant_id=activity.tenant_id, opportunity_id=str(ref["id"]))
        pulse.set_keys()
        try:
            pulse.update(
                actions=[OpportunityPulse.day.set(day), OpportunityPulse.GSI1SK.set(f"{day}#{ref['id']}")],
                condition=OpportunityPulse.PK.exists() & (OpportunityPulse.day < day),
            )
        except UpdateError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise


def baseline_of(user: User, zone: ZoneInfo, before: Optional[BaseItem] = None, count: int = 1) -> LastCheckIn:
    """A user's last check-in until the first one: the day (in the tenant's ``zone``) they
    joined, or they were reactivated (a returning user is not reported for the time away);
    indexed in one of the tenant's ``count`` index shards."""
    back = isinstance(before, User) and not before.is_active
    baseline = LastCheckIn(tenant_id=user.tenant_id, user_id=user.user_id, shards=count)
    since = user.updated_at if back else user.created_at
    baseline.day = local_date(since or user.updated_at or "", zone)
    return baseline


def note_user(user: User, before: Optional[BaseItem] = None) -> None:
    """The user's tenant in the registry; an active user has a last check-in (a baseline
    until the first, unless a day is already kept), a deactivated one none: the digest never
    reads the rows of people it cannot report. Idempotent."""
    settings = org.get_settings(user.tenant_id)
    register_tenant(user.tenant_id, settings.timezone)
    if user.is_active:
        _first(baseline_of(user, org.tenant_zone(user.tenant_id, settings), before, index_count(settings)))
        return
    gone = LastCheckIn(tenant_id=user.tenant_id, user_id=user.user_id)
    gone.set_keys()
    gone.delete()


def note_check_in(signin: SignIn) -> None:
    """A check-in's day as its user's last, unless a later one is kept. Idempotent."""
    if signin.kind != "check_in":
        return
    settings = org.get_settings(signin.tenant_id)
    day = local_date(signin.server_time, org.tenant_zone(signin.tenant_id, settings))
    last = LastCheckIn(tenant_id=signin.tenant_id, user_id=signin.user_id, day=day, shards=index_count(settings))
    _later(last, LastCheckIn.day, last.day)


def register_tenant(tenant_id: str, zone: Optional[str] = None) -> None:
    """The tenant in the registry the hourly digest reads, under its time zone (idempotent,
    and written only when absent or when the zone changed; the zone read from its settings
    when not given)."""
    TenantEntry.register(tenant_id, zone or org.get_settings(tenant_id).timezone)


def next_tenant(start_key: Optional[dict[str, Any]]) -> Optional[tuple[str, dict[str, Any]]]:
    """The registry's next tenant after ``start_key`` and the key that resumes after it."""
    return TenantEntry.first_after(start_key)


def note_opportunity(opp: Opportunity) -> None:
    _on_opportunity(opp)


def handle_change(change: Change) -> None:
    new = change.new
    if isinstance(new, User):
        note_user(new, change.old)
    elif isinstance(new, SignIn):
        note_check_in(new)
    elif isinstance(new, Opportunity):
        _on_opportunity(new)
    elif isinstance(new, Activity):
        _on_activity(new)


def _rebuild_user(scope: Scope, item: BaseItem) -> None:
    if isinstance(item, User):
        note_user(item)


def _rebuild_opportunity(scope: Scope, item: BaseItem) -> None:
    if isinstance(item, Opportunity):
        note_opportunity(item)


def _rebuild_check_in(scope: Scope, item: BaseItem) -> None:
    if isinstance(item, SignIn):
        note_check_in(item)


PROJECTION = Projection(
    name="digest",
    reads=(
        reads("User", "Opportunity", events=[INSERT, MODIFY]),
        reads("SignIn", "Activity", events=[INSERT]),
    ),
    kept="after_commit",
    writes=("TenantEntry", "LastCheckIn", "OpportunityPulse"),
    apply=handle_change,
    rebuilds=(
        Rebuild("profile", _rebuild_user),
        Rebuild("objects", _rebuild_opportunity),
        Rebuild("signins", _rebuild_check_in),
    ),
    doc="the team digest's tenant registry, last check-ins and opportunity pulses (only move forward)",
)


# ---------------------------------------------------------------- the digest
def working_days_before(day: date, n: int, tenant_id: str = "") -> date:
    """The earliest of the ``n`` working days before ``day`` (the tenant's work calendar:
    services/org/workcalendar.py; without a tenant, Monday..Friday)."""
    return workcalendar.calendar(tenant_id).working_days_before(day, n)


@dataclass
class Report:
    inactive: list[str] = field(default_factory=list)  # user ids
    stale: list[tuple[str, str]] = field(default_factory=list)  # (opportunity id, name)
    behind: list[str] = field(default_factory=list)  # "<scope>: metric, metric"
    overdue: list[tuple[str, str]] = field(default_factory=list)  # (task id, title): open tasks past due
    missing_reports: list[str] = field(default_factory=list)  # "<name> (<template> <period start>)"

    def __bool__(self) -> bool:
        return bool(self.inactive or self.stale or self.behind or self.overdue or self.missing_reports)


def _users(tenant_id: str, ids: set[str]) -> dict[str, User]:
    keys = [User.key_of(tenant_id, u) for u in sorted(ids)]
    return {u.user_id: u for u in BaseItem.batch_get(keys) if isinstance(u, User)} if keys else {}


def _behind_goals(tenant_id: str, day: date) -> list[tuple[str, str, list[str]]]:
    """(scope_type, scope_id, metrics behind pace at the day's 08:00) for its month's goals."""
    period = day.strftime("%Y-%m")
    found = [g for g in Goal.gsi1.query(Goal.month_pk(tenant_id, period)) if isinstance(g, Goal)]
    keys = [k for g in found for k in Actuals.keys_of(tenant_id, g.scope_type, g.scope_id, period)]
    shards: dict[str, list[Actuals]] = defaultdict(list)
    for a in BaseItem.batch_get(keys) if keys else []:
        if isinstance(a, Actuals):
            shards[scope_pk(tenant_id, a.scope_type, a.scope_id)].append(a)
    actuals = {pk: Actuals.summed(items) for pk, items in shards.items()}
    at = datetime(day.year, day.month, day.day, DIGEST_HOUR, tzinfo=org.tenant_zone(tenant_id))
    share = goals.elapsed_share(period, tenant_id, at)
    out = []
    for g in found:
        view = goals.view(share, g, actuals.get(scope_pk(tenant_id, g.scope_type, g.scope_id)))
        late = sorted(m for m, pace in view["pace"].items() if pace == "behind")
        if late:
            out.append((g.scope_type, g.scope_id, late))
    return out


def reports(tenant_id: str, day: date) -> dict[str, Report]:
    """What each manager's digest for ``day`` names."""
    settings = org.get_settings(tenant_id)
    quiet_since = working_days_before(day, int(settings.inactive_days), tenant_id).isoformat()
    stale_since = (day - timedelta(days=int(settings.stale_days))).isoformat()
    quiet = LastCheckIn.quiet_before(tenant_id, quiet_since, index_count(settings))
    stale = list(
        OpportunityPulse.gsi1.query(OpportunityPulse.index_pk(tenant_id), stale_since > OpportunityPulse.GSI1SK)
    )
    behind = _behind_goals(tenant_id, day)
    people = _users(
        tenant_id, {q.user_id for q in quiet} | {s.owner_id for s in stale} | {i for t, i, _ in behind if t == "user"}
    )
    out: dict[str, Report] = defaultdict(Report)
    quiet = [q for q in quiet if not _excused_by_leave(tenant_id, q, day, int(settings.inactive_days))]
    for q in quiet:
        user = people.get(q.user_id)
        if user is not None and user.is_active:
            for boss in user.ancestors:
                out[boss].inactive.append(user.user_id)
    for s in stale:
        for boss in people[s.owner_id].ancestors if s.owner_id in people else []:
            out[boss].stale.append((s.opportunity_id, s.name))
    depts = [d for t, d, _ in behind if t == "department"]
    heads = (
        {
            d.department_id: d.head_user_id
            for d in BaseItem.batch_get([Department.key_of(tenant_id, d) for d in depts])
            if isinstance(d, Department)
        }
        if depts
        else {}
    )
    for scope_type, scope_id, metrics in behind:
        readers = people[scope_id].ancestors if scope_type == "user" and scope_id in people else []
        readers = [heads[scope_id]] if scope_type == "department" and heads.get(scope_id) else readers
        for boss in readers:
            out[boss].behind.append(f"{scope_type} {scope_id}: {', '.join(metrics)}")
    _overdue_tasks(tenant_id, day, out)
    for missing in compliance.missing_reports(tenant_id, day):
        for boss in missing.user.ancestors:
            out[boss].missing_reports.append(f"{missing.user.name} ({missing.template_name} {missing.period_start})")
    return {boss: report for boss, report in out.items() if report}


def _excused_by_leave(tenant_id: str, q: LastCheckIn, day: date, n: int) -> bool:
    """Approved leave (services/collab/leave.py) since the last check-in: the days on
    leave do not count, so the user is quiet only after ``n`` working days not on leave
    (1 Query per user otherwise reported)."""
    away = leave.leave_days(tenant_id, q.user_id, q.day, (day - timedelta(days=1)).isoformat())
    if not away:
        return False
    i = counted = 0
    earliest = day
    while counted < n:
        i += 1
        earliest = working_days_before(day, i)
        counted += earliest.isoformat() not in away
    return q.day >= earliest.isoformat()


def _overdue_tasks(tenant_id: str, day: date, out: dict[str, Report]) -> None:
    """Open tasks past due at the digest's hour, for every manager of an assignee (1 Query
    of the tenant's open tasks due before then, 1 BatchGet of their assignees)."""
    at = datetime(day.year, day.month, day.day, DIGEST_HOUR, tzinfo=org.tenant_zone(tenant_id))
    late = tasks.overdue(tenant_id, iso(at))
    assignees = _users(tenant_id, {a for t in late for a in t.assignee_ids or []})
    for t in late:
        bosses = {m for a in t.assignee_ids or [] if a in assignees for m in assignees[a].ancestors}
        for boss in sorted(bosses):
            out[boss].overdue.append((t.task_id, t.title))


def _body(report: Report, names: dict[str, User]) -> str:
    def listed(values: list[str]) -> str:
        shown = ", ".join(values[:MAX_LISTED])
        return shown + (f" and {len(values) - MAX_LISTED} more" if len(values) > MAX_LISTED else "")

    lines = []
    if report.inactive:
        lines.append("No check-in: " + listed([names[u].name if u in names else u for u in report.inactive]))
    if report.stale:
        lines.append("No activity: " + listed([name for _, name in report.stale]))
    if report.behind:
        lines.append("Behind pace: " + listed(report.behind))
    if report.overdue:
        lines.append("Overdue tasks: " + listed([title for _, title in report.overdue]))
    if report.missing_reports:
        lines.append("No report: " + listed(report.missing_reports))
    return "\n".join(lines)


def run_tenant(tenant_id: str, day: Optional[date] = None) -> int:
    """The tenant's digests for ``day`` (today in its zone); answers how many were sent."""
    return run_tenant_from(tenant_id, day)[0]


def run_tenant_from(
    tenant_id: str,
    day: Optional[date] = None,
    after: Optional[str] = None,
    expired: Optional[Callable[[], bool]] = None,
) -> tuple[int, Optional[str]]:
    """The tenant's digests for ``day`` to the managers after ``after`` (in id order);
    answers how many were sent and, when ``expired()`` stopped it, the last manager done
    (a continuation resumes after them: a big tenant's digest spans invocations)."""
    day = day or utcnow().astimezone(org.tenant_zone(tenant_id)).date()
    found = reports(tenant_id, day)
    names = _users(tenant_id, {u for r in found.values() for u in r.inactive})
    sent, last = 0, None
    for boss, report in sorted(found.items()):
        if after is not None and boss <= after:
            continue
        if last is not None and expired is not None and expired():
            return sent, last
        sent += _send_digest(tenant_id, boss, report, names, day)
        last = boss
    return sent, None


def _send_digest(tenant_id: str, boss: str, report: Report, names: dict[str, User], day: date) -> int:
    body = _body(report, names)
    title = f"Team digest {day.isoformat()}"
    if not messages.send(
        messages.NewMessage(tenant_id, boss, "team_digest", title, body, dedupe_key=f"team_digest#{day.isoformat()}")
    ):
        return 0
    events.emit(
        "team.digest",
        tenant_id,
        {
            "manager_id": boss,
            "date": day.isoformat(),
            "inactive": report.inactive,
            "stale": [o for o, _ in report.stale],
            "behind": report.behind,
            "overdue_tasks": [t for t, _ in report.overdue],
            "missing_reports": report.missing_reports,
        },
    )
    return 1


# ---------------------------------------------------------------- the hourly fan-out
KIND = "team_digest"  # the fan-out task kind


@lru_cache(maxsize=1)
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def zones_at(now: datetime, hour: int = DIGEST_HOUR) -> list[str]:
    """The IANA zones whose local time is ``hour``:xx at ``now`` (no request)."""
    return [name for name in _zone_names() if now.astimezone(org.zone_named(name)).hour == hour]


def due_tasks(now: Optional[datetime] = None) -> list[fanout.Task]:
    """Hourly: one task per tenant whose 08:00 it is, found in the zone index (1 Query per
    zone at 08:xx, paged by 1,000 tenants); the day each task sends is the zone's today."""
    now = now or utcnow()
    tasks = []
    for zone in zones_at(now):
        day = now.astimezone(org.zone_named(zone)).date().isoformat()
        for entry in TenantEntry.in_zone(zone):
            tasks.append(fanout.Task(KIND, f"{entry.tenant_id}#{day}", {"tenant_id": entry.tenant_id, "day": day}))
    return tasks


def work(task: fanout.Task, deadline: fanout.Deadline) -> Optional[str]:
    """One tenant's digest for its day; the last manager done when the deadline stopped it."""
    day = date.fromisoformat(str(task.params["day"]))
    return run_tenant_from(str(task.params["tenant_id"]), day, task.cursor, deadline.expired)[1]


def run(now: Optional[datetime] = None) -> dict[str, int]:
    """Every tenant whose local time is 08:xx, in this process (tests, the local control
    endpoint; deployed, the dispatcher queues :func:`due_tasks`). One tenant's failure is
    logged and counted; the others go on."""
    done = {"tenants": 0, "sent": 0, "failed": 0}
    for task in due_tasks(now):
        try:
            done["sent"] += _sent_total(task)
            done["tenants"] += 1
        except Exception:  # noqa: BLE001 - isolate the tenant, keep the schedule going
            logger.exception("team digest failed for a tenant", extra={"tenant_id": task.params["tenant_id"]})
            count("DigestTenantFailed")
            done["failed"] += 1
    return done


def _sent_total(task: fanout.Task) -> int:
    day = date.fromisoformat(str(task.params["day"]))
    return run_tenant_from(str(task.params["tenant_id"]), day)[0]
