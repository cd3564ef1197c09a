"""The authorization matrix as data: the status code each role gets for each operation.

Derived from the contract (/work/shared/API.md): objects outside the caller's tenant or
visible range are 404, never 403; 403 only where the contract (or the route's own rule)
says "not allowed" to someone who may already see the object (admin-only routes, budgets
set by admin or finance, someone else's expense or plan that the caller may read).

Codes: ``200+`` is a 200 list that contains rep_a's target item, ``200-`` a 200 list
that does not. Every object in the world is rep_a's (see hostile.py for the roles).

Who sees what (the rules the columns follow):
- CRM objects, activities, comments, feed: owner, account team, managers (any depth) of
  those, heads of the owner's department and its ancestors, tenant admins.
- A user's own data (sign-ins, photos, plans, logs, calendar, comparison, expenses,
  approval requests, and their projections: expense activities, overview parts): self,
  managers at any depth, heads of the user's department and of those above it (kam, who
  manages nobody, heads rep_a's department), tenant admins (``org.reads_user_data``).
  Receipts also finance. Changing or deciding one stays with its owner / approver: 403.
- Expenses: the submitter, managers, heads of the submitter's departments, approvers, finance,
  admins. Changing one: submitter; deciding: the current approver.
- Budgets: set by admin or finance; read by those and the unit's owner (for a person: self
  and managers). Statistics: tenant-wide for finance and admins, a unit's for its owner.
- Messages: only the recipient; a message of someone else is 404.
- A token whose user the org does not have (``x_rep_a``: rep_a's id under globex's
  token) is 403 ``unknown_user`` on every authenticated route.
- Charging a unit (``expense.create`` charges department ``east``): own department or one
  above it (rep_a is in ``east_key``), finance and admins; else 403.
- Changing an account's team is for those who may change the account: a team member
  (``fin`` in ``account.team.delete``) may not, not even to leave it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from chalicelib.services.platform import jobs
from tests.integration.hostile import DAY, FEED_AT, PERIOD, Call, World, principal

COLUMNS = (
    "rep_a",
    "rep_b",
    "mgr_east",
    "vp",
    "ceo",
    "kam",
    "rep_c",
    "mgr_west",
    "fin",
    "admin",
    "rep_x",
    "x_admin",
    "x_rep_a",
    "anon",
)

# fmt: off
MATRIX = """
case                      rep_a rep_b mgr_east vp   ceo  kam  rep_c mgr_west fin  admin rep_x x_admin x_rep_a anon
health                    200   200   200      200  200  200  200   200      200  200   200   200     200     200
openapi                   200   200   200      200  200  200  200   200      200  200   200   200     200     200
me                        200   200   200      200  200  200  200   200      200  200   200   200     403     401
account.create            201   201   201      201  201  201  201   201      201  201   201   201     403     401
account.create_for_rep_a  201   201   201      201  201  201  201   201      201  201   422   422     403     401
account.get               200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.patch             200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.team.put          200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.team.delete       200   404   200      200  200  200  404   404      403  200   404   404     403     401
contact.create            201   201   201      201  201  201  201   201      201  201   201   201     403     401
contact.create_on_account 201   422   201      201  201  201  422   422      422  201   422   422     403     401
contact.get               200   404   200      200  200  200  404   404      404  200   404   404     403     401
contact.patch             200   404   200      200  200  200  404   404      404  200   404   404     403     401
opportunity.create        201   422   201      201  201  201  422   422      422  201   422   422     403     401
opportunity.get           200   404   200      200  200  200  404   404      404  200   404   404     403     401
opportunity.patch         200   404   200      200  200  200  404   404      404  200   404   404     403     401
opportunity.overview      200   404   200      200  200  200  404   404      404  200   404   404     403     401
lead.create               201   201   201      201  201  201  201   201      201  201   201   201     403     401
lead.get                  200   404   200      200  200  200  404   404      404  200   404   404     403     401
lead.patch                200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.list              200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
account.archive           200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.restore           200   404   200      200  200  200  404   404      404  200   404   404     403     401
contact.list              200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
contact.archive           200   404   200      200  200  200  404   404      404  200   404   404     403     401
contact.restore           200   404   200      200  200  200  404   404      404  200   404   404     403     401
opportunity.list          200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
opportunity.archive       200   404   200      200  200  200  404   404      404  200   404   404     403     401
opportunity.restore       200   404   200      200  200  200  404   404      404  200   404   404     403     401
lead.list                 200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
lead.archive              200   404   200      200  200  200  404   404      404  200   404   404     403     401
lead.restore              200   404   200      200  200  200  404   404      404  200   404   404     403     401
account.nearby            200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
activity.create           201   422   201      201  201  201  422   422      422  201   422   422     403     401
activity.get              200   404   200      200  200  200  404   404      404  200   404   404     403     401
activity.comment          201   404   201      201  201  201  404   404      404  201   404   404     403     401
activity.comments         200   404   200      200  200  200  404   404      404  200   404   404     403     401
feed                      200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
upload.create             201   201   201      201  201  201  201   201      201  201   201   201     403     401
upload.get_photo          200   404   200      200  200  200  404   404      404  200   404   404     403     401
upload.get_receipt        200   404   200      200  200  200  404   404      200  200   404   404     403     401
signin.create             201   201   201      201  201  201  201   201      201  201   201   201     403     401
signin.create_at_account  201   422   201      201  201  201  422   422      422  201   422   422     403     401
signin.get                200   404   200      200  200  200  404   404      404  200   404   404     403     401
signin.list               200+  404   200+     200+ 200+ 200+  404   404      404  200+  404   200-    403     401
plan.create               201   201   201      201  201  201  201   201      201  201   201   201     403     401
plan.create_at_account    201   422   201      201  201  201  422   422      422  201   422   422     403     401
plan.get                  200   404   200      200  200  200  404   404      404  200   404   404     403     401
plan.patch                200   404   403      403  403  403  404   404      404  403   404   404     403     401
plan.list                 200+  404   200+     200+ 200+ 200+  404   404      404  200+  404   200-    403     401
log.create                201   201   201      201  201  201  201   201      201  201   201   201     403     401
log.create_for_plan       201   422   422      422  422  422  422   422      422  422   422   422     403     401
log.get                   200   404   200      200  200  200  404   404      404  200   404   404     403     401
log.list                  200+  404   200+     200+ 200+ 200+  404   404      404  200+  404   200-    403     401
calendar                  200+  404   200+     200+ 200+ 200+  404   404      404  200+  404   200-    403     401
plan_comparison           200+  404   200+     200+ 200+ 200+  404   404      404  200+  404   200-    403     401
route                     200   200   200      200  200  200  200   200      200  200   200   200     403     401
fx.put                    403   403   403      403  403  403  403   403      200  200   403   200     403     401
fx.get                    200   200   200      200  200  200  200   200      200  200   422   422     403     401
goal.put                  403   404   200      200  200  200  404   404      404  200   404   404     403     401
goal.get                  200   404   200      200  200  200  404   404      404  200   404   404     403     401
performance               200   200   200      200  200  200  200   200      200  200   200   200     403     401
opportunity_stats         200   200   200      200  200  200  200   200      200  200   200   200     403     401
mileage.claim             422   422   422      422  422  422  422   422      422  422   422   422     403     401
expense.create            201   201   201      403  403  403  403   403      201  201   422   422     403     401
expense.get               200   404   200      200  200  200  404   404      200  200   404   404     403     401
expense.patch             200   404   403      403  403  403  404   404      403  403   404   404     403     401
expense.submit            200   404   403      403  403  403  404   404      403  403   404   404     403     401
expense.approve           403   404   200      403  403  403  404   404      403  403   404   404     403     401
expense.approve_level2    403   404   403      200  403  403  404   404      403  403   404   404     403     401
expense.reject            403   404   200      403  403  403  404   404      403  403   404   404     403     401
expense.list              200+  200-  200-     200- 200- 200- 200-  200-     200+ 200+  200-  200-    403     401
expense.list_user         200+  404   200+     200+ 200+ 200+  404   404      200+ 200+  404   200-    403     401
expense.list_unit         404   404   200+     404  404  404  404   404      200+ 200+  404   200-    403     401
docs                      200   200   200      200  200  200  200   200      200  200   200   200     200     200
docs.asset                200   200   200      200  200  200  200   200      200  200   200   200     200     200
budget.put                403   403   403      403  403  403  403   403      200  200   403   422     403     401
budget.get                404   404   200      404  404  404  404   404      200  200   404   404     403     401
budget.get_person         200   404   200      200  200  404  404   404      200  200   404   404     403     401
expense_stats             403   403   403      403  403  403  403   403      200  200   403   200     403     401
expense_stats.unit        403   403   200      403  403  403  403   403      200  200   403   200     403     401
messages.list             200+  200-  200-     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
message.read              200   404   404      404  404  404  404   404      404  404   404   404     403     401
messages.read_all         200   200   200      200  200  200  200   200      200  200   200   200     403     401
users.list                200+  200+  200+     200+ 200+ 200+ 200+  200+     200+ 200+  200-  200-    403     401
users.get                 200   200   200      200  200  200  200   200      200  200   404   404     403     401
team                      200-  200-  200+     200+ 200+ 200- 200-  200-     200- 200-  200-  200-    403     401
team.day                  200-  200-  200+     200+ 200+ 200- 200-  200-     200- 200-  200-  200-    403     401
departments.list          200   200   200      200  200  200  200   200      200  200   200   200     403     401
projects.list             200   200   200      200  200  200  200   200      200  200   200   200     403     401
approvals.list            200   200   200      200  200  200  200   200      200  200   200   200     403     401
approvals.bulk            200   200   200      200  200  200  200   200      200  200   200   200     403     401
delegate.put              200   200   200      200  200  200  200   200      422  200   422   422     403     401
delegate.get              200   200   200      200  200  200  200   200      200  200   200   200     403     401
delegate.delete           200   200   200      200  200  200  200   200      200  200   200   200     403     401
device.put                200   200   200      200  200  200  200   200      200  200   200   200     403     401
devices.list              200   200   200      200  200  200  200   200      200  200   200   200     403     401
device.delete             204   204   204      204  204  204  204   204      204  204   204   204     403     401
push_settings.put         200   200   200      200  200  200  200   200      200  200   200   200     403     401
push_settings.get         200   200   200      200  200  200  200   200      200  200   200   200     403     401
admin.user.deactivate     403   403   403      403  403  403  403   403      403  200   403   404     403     401
admin.user.reactivate     403   403   403      403  403  403  403   403      403  200   403   404     403     401
admin.department.put      403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.user.put            403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.project.put         403   403   403      403  403  403  403   403      403  200   403   422     403     401
admin.settings.put        403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.settings.get        403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.integration.put     403   403   403      403  403  403  403   403      403  200   403   200     403     401
expense.approve_chain_back 403  404   403      200  403  403  404   404      403  403   404   404     403     401
expense.approve_after_reorg 403 403   403      200  403  403  404   404      403  403   404   404     403     401
expense.approve_after_deactivation 403 404 403 200 403 403 404 404      403  403   404   404     403     401
expense.approve_delegated 403   404   403      403  403  403  404   200      403  403   404   404     403     401
expense.approve_after_reactivation 403 404 403 403 403 403 404 200      403  403   404   404     403     401
approval_request.approve_after_reorg 403 404 403 403 403 403 404 200   404  403   404   404     403     401
approval_request.approve_after_reactivation 403 404 403 403 403 403 404 200 404 403 404   404     403     401
feed.expense_activity     200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
opportunity.overview_expense 200+ 404 200+     200+ 200+ 200+ 404   404      404  200+  404   404     403     401
opportunity.overview_plan 200+  404   200+     200+ 200+ 200+ 404   404      404  200+  404   404     403     401
opportunity.overview_signin 200+ 404  200+     200+ 200+ 200+ 404   404      404  200+  404   404     403     401
admin.jobs.list           403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.jobs.get            403   403   403      403  403  403  403   403      403  200   403   404     403     401
task.create               201   403   201      201  201  201  403   403      403  201   422   422     403     401
task.get                  200   404   200      200  200  404  404   404      404  404   404   404     403     401
task.patch                403   404   200      403  403  404  404   404      404  404   404   404     403     401
task.complete             200   404   403      403  403  404  404   404      404  404   404   404     403     401
task.reopen               200   404   403      403  403  404  404   404      404  404   404   404     403     401
task.list                 200+  200-  200-     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
instruction.create        403   403   201      201  201  201  403   403      403  201   422   422     403     401
instruction.get           200   404   200      200  200  404  404   404      404  404   404   404     403     401
instruction.ack           200   404   403      403  403  404  404   404      404  404   404   404     403     401
instruction.list          200+  200-  200-     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
approval_request.create   201   201   201      201  422  201  201   201      201  422   201   422     403     401
approval_request.get      200   404   200      200  200  200  404   404      404  200   404   404     403     401
approval_request.approve  403   404   200      403  403  403  404   404      404  403   404   404     403     401
approval_request.reject   403   404   200      403  403  403  404   404      404  403   404   404     403     401
approval_request.withdraw 200   404   403      403  403  403  404   404      404  403   404   404     403     401
approval_request.list     200-  200-  200+     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
admin.work_calendar.put   403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.work_calendar.get   403   403   403      403  403  403  403   403      403  200   403   200     403     401
admin.report_template.put 403   403   403      403  403  403  403   403      403  200   403   200     403     401
report_templates.list     200   200   200      200  200  200  200   200      200  200   200   200     403     401
report.create             201   201   201      201  201  201  201   201      201  201   422   422     403     401
report.get                200   404   200      200  200  404  404   404      404  404   404   404     403     401
report.patch              200   404   403      403  403  404  404   404      404  404   404   404     403     401
report.list               200+  200-  200-     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
report.list_received      200-  200-  200+     200- 200- 200- 200-  200-     200- 200-  200-  200-    403     401
report.compliance         403   403   200      200  200  200  403   200      403  403   422   422     403     401
webhook.unsigned          401   401   401      401  401  401  401   401      401  401   401   401     401     401
webhook.signed            200   200   200      200  200  200  200   200      200  200   200   200     200     200
sync.get                  200+  200-  200+     200+ 200+ 200+ 200-  200-     200- 200+  200-  200-    403     401
calendar_feed.create      201   201   201      201  201  201  201   201      201  201   201   201     403     401
calendar_feed.remove      200   200   200      200  200  200  200   200      200  200   200   200     403     401
calendar_feed.get         404   404   404      404  404  404  404   404      404  404   404   404     404     404
"""
# fmt: on


def expectations() -> dict[str, dict[str, str]]:
    """{case: {role: code}} from the table above."""
    lines = [line.split() for line in MATRIX.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header[1:]) == COLUMNS, header
    out = {}
    for row in rows:
        assert len(row) == len(header), row
        assert row[0] not in out, f"{row[0]} twice"
        out[row[0]] = dict(zip(COLUMNS, row[1:], strict=True))
    return out


# ---------------------------------------------------------------- the requests behind each row
@dataclass(frozen=True)
class Case:
    method: str
    route: str  # exactly as registered in chalicelib.web.REGISTRY
    build: Callable[[World, str], Call]
    sees: Optional[Callable[[World, Any], bool]] = None  # for 200+/200-: is rep_a's item in it
    after: Optional[Callable[[World, str, Any], None]] = None  # extra check once answered
    writes_tenant: Optional[str] = None  # the tenant a write lands in when not the caller's
    per_role: bool = False  # the build depends on the role: made for each cell, not once a row


def _fixed(method: str, path: str, body: Any = None) -> Callable[[World, str], Call]:
    return lambda w, role: Call(method, path.format(**w.ids), body)


def _ids(items: list[dict[str, Any]]) -> set[str]:
    return {i.get("id") for i in items}


def _in_items(name: str) -> Callable[[World, Any], bool]:
    return lambda w, body: w.ids[name] in _ids(body["items"])


def _lists_user(field: str) -> Callable[[World, Any], bool]:
    return lambda w, body: "rep_a" in {i.get(field) for i in body["items"]}


def _leaver(w: World) -> str:
    """A fresh user of the tenant (rep_a's peer) to deactivate or reactivate."""
    from chalicelib.services.org import org

    user_id = w.unique("leaver")
    org.put_user("acme", org.NewUser(user_id, "Leaver", "east", "mgr_east", None, None))
    return user_id


def _gone_leaver(w: World) -> str:
    """A fresh user who was deactivated (handover to rep_b), to reactivate."""
    from chalicelib.services.flows import offboarding

    user_id = _leaver(w)
    offboarding.deactivate(principal("admin"), user_id, "rep_b")
    return user_id


def _archived(kind: str) -> Callable[[World], str]:
    """A fresh archived object of rep_a's, to restore."""

    def make(w: World) -> str:
        from chalicelib.services.crm import crm

        object_id = w.account() if kind == "account" else w.crm_object(kind)
        crm.set_archived(principal("rep_a"), kind, object_id, True)
        return object_id

    return make


def _calendar_has_plan(w: World, body: Any) -> bool:
    return any(d["date"] == DAY and d["plans"] >= 1 for d in body["days"])


def _comparison_has_plan(w: World, body: Any) -> bool:
    return any(p["id"] == w.ids["plan"] for d in body["days"] for p in d["plans"])


def _read_all_leaves_others_unread(w: World, role: str, message_id: Any) -> None:
    from chalicelib.services.inbox import messages

    read = messages.get_message("acme", "rep_a", message_id).read
    assert read == (role == "rep_a"), f"{role} marked rep_a's message read={read}"


def _read_all_call(w: World, role: str) -> Call:
    return Call("POST", "/v1/messages/read-all", probe=w.message())  # the after-check reads it


def _new(prefix: str, method: str, route: str, body: dict[str, Any]) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        return Call(method, route.replace("{id}", w.unique(prefix)), body)

    return build


def _fresh(factory: Callable[[World], str], method: str, route: str, body: Any = None) -> Callable[[World, str], Call]:
    """A request on a fresh object, so a role's change never shows in another cell."""
    return lambda w, role: Call(method, route.replace("{id}", factory(w)), body)


def _job(w: World) -> str:
    """A job of acme's (an org change's re-index), queued."""
    return jobs.create("acme", "user_moved", ("user", "rep_a"), {"user_id": "rep_a"}, w.unique("job")).job_id


def _budget(period: str) -> dict[str, Any]:
    return {"amount": "5000.00", "currency": "CNY", "mode": "block", "thresholds": [80, 100]}


LOCATION = {"lat": 31.2286, "lng": 121.4479, "accuracy_m": 10}


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signin(account: bool) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        body: dict[str, Any] = {"kind": "check_in", "location": LOCATION, "client_time": _now()}
        if account:
            body["account_id"] = w.ids["account"]
        return Call("POST", "/v1/signins", body)

    return build


def _signed_payment(w: World, role: str) -> Call:
    return w.webhook_call({"expense_id": w.approved_expense(), "status": "paid", "reference": "PAY-1"})


def _task(w: World) -> str:
    """A fresh task mgr_east assigned to rep_a."""
    from chalicelib.services.collab import tasks

    return tasks.create(principal("mgr_east"), tasks.NewTask(title=w.unique("Task "), assignee_ids=["rep_a"])).task_id


def _instruction(w: World) -> str:
    """A fresh instruction from mgr_east to rep_a."""
    from chalicelib.services.collab import instructions

    return instructions.create(principal("mgr_east"), w.unique("Go "), ["rep_a"], None).instruction_id


LEAVE_IN = {"kind": "leave", "title": "Leave", "from_date": "2030-03-04", "to_date": "2030-03-05"}


def _leave(w: World) -> str:
    """A fresh leave request of rep_a's, waiting for mgr_east."""
    from chalicelib.services.collab import requests

    new = requests.NewRequest(kind="leave", title=w.unique("Leave "), from_date="2030-03-04", to_date="2030-03-05")
    return requests.create(principal("rep_a"), new).request_id


def _listing(name: str, factory: Callable[[World], str], path: str) -> Callable[[World, str], Call]:
    """A list request after a fresh item of rep_a's (its id under ``name`` for ``sees``)."""

    def build(w: World, role: str) -> Call:
        w.ids[name] = factory(w)
        return Call("GET", path)

    return build


TEMPLATE = {
    "name": "Daily",
    "period": "daily",
    "due_time": "19:00",
    "fields": [{"key": "summary", "label": "Summary", "type": "text"}],
}


def _today() -> str:
    from chalicelib.services.org import org
    from chalicelib.timeutil import today

    return today(org.tenant_zone("acme")).isoformat()


def _template(w: World) -> str:
    """A fresh report template of acme's."""
    from chalicelib.services.reports import templates

    template_id = w.unique("tpl")
    templates.put_template("acme", template_id, TEMPLATE)
    return template_id


def _report(w: World) -> str:
    """A fresh report of rep_a's (recipient: their manager, mgr_east), as ``ids["report"]``."""
    from chalicelib.services.reports import reports

    new = reports.NewReport(_template(w), _today(), {})
    w.ids["report"] = reports.submit(principal("rep_a"), new)["id"]
    return w.ids["report"]


def _report_listing(path: str) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        _report(w)
        return Call("GET", path)

    return build


EXPENSE_IN = {
    "amount": "12.00",
    "category": "meals",
    "occurred_on": f"{PERIOD}-21",
    "unit": {"type": "department", "id": "east"},
}
WORLD_EXPENSE_DAY = f"{PERIOD}-05"


def _today() -> str:
    from chalicelib.services.org import org
    from chalicelib.timeutil import today

    return today(org.tenant_zone("acme")).isoformat()


def _chain_back(w: World) -> str:
    """mgr_east delegates to rep_a, rep_a to rep_b: rep_a's expense passes up to vp (a
    submitter never picks their approver through a chain)."""
    from chalicelib.services.expenses import approvals

    day = _today()
    approvals.set_delegation(principal("mgr_east"), "rep_a", day, day)
    approvals.set_delegation(principal("rep_a"), "rep_b", day, day)
    return w.expense("submitted")


def _after_reorg(w: World) -> str:
    """Level 1 decided by mgr_east, then rep_a reports to rep_b (whose manager is
    mgr_east): level 2 passes over mgr_east (one person, one level) to vp."""
    from chalicelib.services.flows import offboarding
    from chalicelib.services.org import org

    expense_id = w.expense("approved_l1", "6000.00")
    offboarding.put_user(principal("admin"), org.NewUser("rep_a", "Zhang Min (rep)", "east_key", "rep_b", None, None))
    return expense_id


def _after_deactivation(w: World) -> str:
    """rep_a's manager is deactivated: the waiting approval moves to the new manager (vp),
    and the deactivated one's token is refused (403 unknown_user)."""
    from chalicelib.services.flows import offboarding

    expense_id = w.expense("submitted")
    offboarding.deactivate(principal("admin"), "mgr_east", "vp")
    return expense_id


def _delegated(w: World) -> str:
    """mgr_east delegates to mgr_west for today: rep_a's expense waits for mgr_west."""
    from chalicelib.services.expenses import approvals

    approvals.set_delegation(principal("mgr_east"), "mgr_west", _today(), _today())
    return w.expense("submitted")


def _reactivated(make: Callable[[World], str]) -> Callable[[World], str]:
    """mgr_east delegates to mgr_west; the wait made by ``make`` passes to mgr_east while
    mgr_west is deactivated, and comes back when mgr_west is reactivated."""

    def build(w: World) -> str:
        from chalicelib.services.expenses import approvals
        from chalicelib.services.flows import offboarding

        approvals.set_delegation(principal("mgr_east"), "mgr_west", _today(), _today())
        made = make(w)
        offboarding.deactivate(principal("admin"), "mgr_west", "vp")
        offboarding.reactivate(principal("admin"), "mgr_west")
        return made

    return build


def _leave_after_reorg(w: World) -> str:
    """rep_a's leave request waits for mgr_east; rep_a then reports to mgr_west."""
    from chalicelib.services.flows import offboarding
    from chalicelib.services.org import org

    request_id = _leave(w)
    offboarding.put_user(principal("admin"), org.NewUser("rep_a", "Zhang Min (rep)", "east_key", "mgr_west"))
    return request_id


def _expense_activity(w: World) -> str:
    """A submitted expense of rep_a on rep_a's opportunity: its feed activity is a
    projection of the expense (readers: rep_a, managers, heads of rep_a's departments such
    as kam, admins); rep_b and finance, who do not read rep_a's records, never see it."""
    from chalicelib.services.expenses import expenses

    e = expenses.create(principal("rep_a"), {**EXPENSE_IN, "opportunity_id": w.ids["opportunity"]})
    expenses.submit(principal("rep_a"), e.expense_id)
    w.ids["expense_activity"] = "act_" + e.expense_id.removeprefix("exp_")
    return w.ids["opportunity"]


def _plan_on_opportunity(w: World) -> str:
    """rep_a's plan on rep_a's opportunity: the overview's ``plans`` part projects it
    (readers of rep_a's records who see the opportunity; kam heads her department)."""
    from chalicelib.services.schedule import schedule

    opp = w.ids["opportunity"]
    w.ids["projected"] = schedule.create_plan(
        principal("rep_a"), schedule.NewPlan(date_=DAY, title="P", opportunity_id=opp)
    ).plan_id
    return opp


def _signin_on_opportunity(w: World) -> str:
    """rep_a's check-in on rep_a's opportunity: the overview's ``signins`` part projects it."""
    from chalicelib.services.fieldwork import signins

    opp = w.ids["opportunity"]
    signin = signins.create_signin(
        principal("rep_a"),
        signins.NewSignIn(
            kind="check_in", lat=31.2286, lng=121.4479, accuracy_m=10, client_time=_now(), opportunity_id=opp
        ),
    )
    w.ids["projected"] = signin["id"]
    return opp


def _overview_has(part: str) -> Callable[[World, Any], bool]:
    return lambda w, body: w.ids["projected"] in _ids(body[part])


def _feed_expense(w: World, role: str) -> Call:
    _expense_activity(w)
    return Call("GET", "/v1/feed?types=expense&limit=100")


def _has_expense_activity(w: World, body: Any) -> bool:
    items = body["items"] if "items" in body else body["activities"]
    return w.ids["expense_activity"] in _ids(items)


CASES: dict[str, Case] = {
    "health": Case("GET", "/v1/health", _fixed("GET", "/v1/health")),
    "openapi": Case("GET", "/v1/openapi.json", _fixed("GET", "/v1/openapi.json")),
    "docs": Case("GET", "/v1/docs", _fixed("GET", "/v1/docs")),
    "docs.asset": Case("GET", "/v1/docs/{asset}", _fixed("GET", "/v1/docs/swagger-ui.css")),
    "me": Case("GET", "/v1/me", _fixed("GET", "/v1/me")),
    # ------------------------------------------------------------ CRM
    "account.create": Case("POST", "/v1/accounts", _fixed("POST", "/v1/accounts", {"name": "New"})),
    "account.create_for_rep_a": Case(
        "POST", "/v1/accounts", _fixed("POST", "/v1/accounts", {"name": "Given", "owner_id": "rep_a"})
    ),
    "account.get": Case("GET", "/v1/accounts/{object_id}", _fixed("GET", "/v1/accounts/{account}")),
    "account.patch": Case(
        "PATCH", "/v1/accounts/{object_id}", _fresh(World.account, "PATCH", "/v1/accounts/{id}", {"name": "Renamed"})
    ),
    "account.team.put": Case(
        "PUT",
        "/v1/accounts/{object_id}/team/{user_id}",
        _fresh(World.account, "PUT", "/v1/accounts/{id}/team/fin", {"role": "follow_up"}),
    ),
    "account.team.delete": Case(
        "DELETE",
        "/v1/accounts/{object_id}/team/{user_id}",
        _fresh(lambda w: w.account(team={"fin": "service"}), "DELETE", "/v1/accounts/{id}/team/fin"),
    ),
    "contact.create": Case("POST", "/v1/contacts", _fixed("POST", "/v1/contacts", {"name": "C"})),
    "contact.create_on_account": Case(
        "POST",
        "/v1/contacts",
        lambda w, role: Call("POST", "/v1/contacts", {"name": "C", "account_id": w.ids["account"]}),
    ),
    "contact.get": Case("GET", "/v1/contacts/{object_id}", _fixed("GET", "/v1/contacts/{contact}")),
    "contact.patch": Case(
        "PATCH",
        "/v1/contacts/{object_id}",
        _fresh(lambda w: w.crm_object("contact"), "PATCH", "/v1/contacts/{id}", {"name": "Renamed"}),
    ),
    "opportunity.create": Case(
        "POST",
        "/v1/opportunities",
        lambda w, role: Call(
            "POST", "/v1/opportunities", {"name": "O", "account_id": w.ids["account"], "stage": "qualify"}
        ),
    ),
    "opportunity.get": Case("GET", "/v1/opportunities/{object_id}", _fixed("GET", "/v1/opportunities/{opportunity}")),
    "opportunity.patch": Case(
        "PATCH",
        "/v1/opportunities/{object_id}",
        _fresh(lambda w: w.crm_object("opportunity"), "PATCH", "/v1/opportunities/{id}", {"stage": "proposal"}),
    ),
    "opportunity.overview": Case(
        "GET", "/v1/opportunities/{object_id}/overview", _fixed("GET", "/v1/opportunities/{opportunity}/overview")
    ),
    "lead.create": Case("POST", "/v1/leads", _fixed("POST", "/v1/leads", {"name": "L"})),
    "lead.get": Case("GET", "/v1/leads/{object_id}", _fixed("GET", "/v1/leads/{lead}")),
    "lead.patch": Case(
        "PATCH",
        "/v1/leads/{object_id}",
        _fresh(lambda w: w.crm_object("lead"), "PATCH", "/v1/leads/{id}", {"company": "Bar Ltd"}),
    ),
    # ------------------------------------------------------------ lists, nearby, archive (new)
    "account.nearby": Case(
        "GET",
        "/v1/accounts/nearby",
        _fixed("GET", "/v1/accounts/nearby?lat=31.2286&lng=121.4479&radius_m=500&limit=100"),
        sees=_in_items("account"),
    ),
    "account.list": Case("GET", "/v1/accounts", _fixed("GET", "/v1/accounts?limit=100"), sees=_in_items("account")),
    "account.archive": Case(
        "POST",
        "/v1/accounts/{object_id}/archive",
        _fresh(World.account, "POST", "/v1/accounts/{id}/archive"),
    ),
    "account.restore": Case(
        "POST",
        "/v1/accounts/{object_id}/restore",
        _fresh(_archived("account"), "POST", "/v1/accounts/{id}/restore"),
    ),
    "contact.list": Case("GET", "/v1/contacts", _fixed("GET", "/v1/contacts?limit=100"), sees=_in_items("contact")),
    "contact.archive": Case(
        "POST",
        "/v1/contacts/{object_id}/archive",
        _fresh(lambda w: w.crm_object("contact"), "POST", "/v1/contacts/{id}/archive"),
    ),
    "contact.restore": Case(
        "POST",
        "/v1/contacts/{object_id}/restore",
        _fresh(_archived("contact"), "POST", "/v1/contacts/{id}/restore"),
    ),
    "opportunity.list": Case(
        "GET", "/v1/opportunities", _fixed("GET", "/v1/opportunities?limit=100"), sees=_in_items("opportunity")
    ),
    "opportunity.archive": Case(
        "POST",
        "/v1/opportunities/{object_id}/archive",
        _fresh(lambda w: w.crm_object("opportunity"), "POST", "/v1/opportunities/{id}/archive"),
    ),
    "opportunity.restore": Case(
        "POST",
        "/v1/opportunities/{object_id}/restore",
        _fresh(_archived("opportunity"), "POST", "/v1/opportunities/{id}/restore"),
    ),
    "lead.list": Case("GET", "/v1/leads", _fixed("GET", "/v1/leads?limit=100"), sees=_in_items("lead")),
    "lead.archive": Case(
        "POST",
        "/v1/leads/{object_id}/archive",
        _fresh(lambda w: w.crm_object("lead"), "POST", "/v1/leads/{id}/archive"),
    ),
    "lead.restore": Case(
        "POST",
        "/v1/leads/{object_id}/restore",
        _fresh(_archived("lead"), "POST", "/v1/leads/{id}/restore"),
    ),
    # ------------------------------------------------------------ feed
    "activity.create": Case(
        "POST",
        "/v1/activities",
        lambda w, role: Call(
            "POST",
            "/v1/activities",
            {"type": "post", "content": "hi", "related": [{"type": "account", "id": w.ids["account"]}]},
        ),
    ),
    "activity.get": Case("GET", "/v1/activities/{activity_id}", _fixed("GET", "/v1/activities/{activity}")),
    "activity.comment": Case(
        "POST",
        "/v1/activities/{activity_id}/comments",
        _fixed("POST", "/v1/activities/{activity}/comments", {"content": "me too"}),
    ),
    "activity.comments": Case(
        "GET", "/v1/activities/{activity_id}/comments", _fixed("GET", "/v1/activities/{activity}/comments")
    ),
    "feed": Case(
        "GET",
        "/v1/feed",
        _fixed("GET", f"/v1/feed?since={FEED_AT}&until={FEED_AT}&limit=100"),
        sees=_in_items("activity"),
    ),
    # ------------------------------------------------------------ uploads and sign-ins
    "upload.create": Case(
        "POST",
        "/v1/uploads",
        _fixed("POST", "/v1/uploads", {"purpose": "signin_photo", "content_type": "image/jpeg", "size_bytes": 10}),
    ),
    "upload.get_photo": Case("GET", "/v1/uploads/{upload_id}", _fixed("GET", "/v1/uploads/{photo}")),
    "upload.get_receipt": Case("GET", "/v1/uploads/{upload_id}", _fixed("GET", "/v1/uploads/{receipt}")),
    "signin.create": Case("POST", "/v1/signins", _signin(account=False)),
    "signin.create_at_account": Case("POST", "/v1/signins", _signin(account=True)),
    "signin.get": Case("GET", "/v1/signins/{signin_id}", _fixed("GET", "/v1/signins/{signin}")),
    "signin.list": Case(
        "GET",
        "/v1/signins",
        _fixed("GET", "/v1/signins?user_id=rep_a&from={signin_day}&to={signin_day}&limit=100"),
        sees=_in_items("signin"),
    ),
    # ------------------------------------------------------------ schedule
    "plan.create": Case("POST", "/v1/plans", _fixed("POST", "/v1/plans", {"date": "2026-03-01", "title": "Visit"})),
    "plan.create_at_account": Case(
        "POST",
        "/v1/plans",
        lambda w, role: Call(
            "POST", "/v1/plans", {"date": "2026-03-01", "title": "Visit", "account_id": w.ids["account"]}
        ),
    ),
    "plan.get": Case("GET", "/v1/plans/{plan_id}", _fixed("GET", "/v1/plans/{plan}")),
    "plan.patch": Case("PATCH", "/v1/plans/{plan_id}", _fresh(World.plan, "PATCH", "/v1/plans/{id}", {"title": "T"})),
    "plan.list": Case(
        "GET", "/v1/plans", _fixed("GET", f"/v1/plans?user_id=rep_a&from={DAY}&to={DAY}"), sees=_in_items("plan")
    ),
    "log.create": Case("POST", "/v1/logs", _fixed("POST", "/v1/logs", {"date": "2026-03-01", "content": "Done"})),
    "log.create_for_plan": Case(
        "POST",
        "/v1/logs",
        lambda w, role: Call("POST", "/v1/logs", {"date": "2026-02-02", "content": "Done", "plan_id": w.plan()}),
    ),
    "log.get": Case("GET", "/v1/logs/{log_id}", _fixed("GET", "/v1/logs/{log}")),
    "log.list": Case(
        "GET", "/v1/logs", _fixed("GET", f"/v1/logs?user_id=rep_a&from={DAY}&to={DAY}"), sees=_in_items("log")
    ),
    "calendar": Case(
        "GET", "/v1/calendar", _fixed("GET", f"/v1/calendar?user_id=rep_a&month={PERIOD}"), sees=_calendar_has_plan
    ),
    "plan_comparison": Case(
        "GET",
        "/v1/plan-comparison",
        _fixed("GET", f"/v1/plan-comparison?user_id=rep_a&from={DAY}&to={DAY}"),
        sees=_comparison_has_plan,
    ),
    "route": Case("GET", "/v1/route", _fixed("GET", f"/v1/route?date={DAY}&from_lat=31.2&from_lng=121.4")),
    "fx.put": Case(
        "PUT",
        "/v1/admin/exchange-rates/{currency}/{date}",
        _fixed("PUT", "/v1/admin/exchange-rates/USD/2026-03-02", {"rate": "7.2"}),
    ),
    "fx.get": Case("GET", "/v1/exchange-rates/{currency}/{date}", _fixed("GET", "/v1/exchange-rates/USD/2026-03-05")),
    "goal.put": Case(
        "PUT",
        "/v1/goals/{scope_type}/{scope_id}/{period}",
        _fixed("PUT", f"/v1/goals/user/rep_a/{PERIOD}", {"targets": {"visits": 3}}),
    ),
    "goal.get": Case(
        "GET", "/v1/goals/{scope_type}/{scope_id}/{period}", _fixed("GET", f"/v1/goals/user/rep_a/{PERIOD}")
    ),
    "performance": Case("GET", "/v1/performance", _fixed("GET", "/v1/performance")),
    "opportunity_stats": Case("GET", "/v1/opportunity-stats", _fixed("GET", "/v1/opportunity-stats")),
    # ------------------------------------------------------------ expenses and budgets
    "mileage.claim": Case("POST", "/v1/mileage-claims", _fixed("POST", "/v1/mileage-claims", {"date": DAY})),
    "expense.create": Case("POST", "/v1/expenses", _fixed("POST", "/v1/expenses", EXPENSE_IN)),
    "expense.get": Case("GET", "/v1/expenses/{expense_id}", _fixed("GET", "/v1/expenses/{expense}")),
    "expense.patch": Case(
        "PATCH",
        "/v1/expenses/{expense_id}",
        _fresh(World.expense, "PATCH", "/v1/expenses/{id}", {"description": "edited"}),
    ),
    "expense.submit": Case(
        "POST", "/v1/expenses/{expense_id}/submit", _fresh(World.expense, "POST", "/v1/expenses/{id}/submit")
    ),
    "expense.approve": Case(
        "POST",
        "/v1/expenses/{expense_id}/approve",
        _fresh(lambda w: w.expense("submitted"), "POST", "/v1/expenses/{id}/approve", {}),
    ),
    "expense.approve_level2": Case(
        "POST",
        "/v1/expenses/{expense_id}/approve",
        _fresh(lambda w: w.expense("approved_l1", "6000.00"), "POST", "/v1/expenses/{id}/approve", {"comment": "ok"}),
    ),
    "expense.approve_chain_back": Case(
        "POST", "/v1/expenses/{expense_id}/approve", _fresh(_chain_back, "POST", "/v1/expenses/{id}/approve", {})
    ),
    "expense.approve_after_reorg": Case(
        "POST", "/v1/expenses/{expense_id}/approve", _fresh(_after_reorg, "POST", "/v1/expenses/{id}/approve", {})
    ),
    "expense.approve_after_deactivation": Case(
        "POST",
        "/v1/expenses/{expense_id}/approve",
        _fresh(_after_deactivation, "POST", "/v1/expenses/{id}/approve", {}),
    ),
    "expense.approve_delegated": Case(
        "POST", "/v1/expenses/{expense_id}/approve", _fresh(_delegated, "POST", "/v1/expenses/{id}/approve", {})
    ),
    "expense.approve_after_reactivation": Case(
        "POST",
        "/v1/expenses/{expense_id}/approve",
        _fresh(_reactivated(lambda w: w.expense("submitted")), "POST", "/v1/expenses/{id}/approve", {}),
    ),
    "approval_request.approve_after_reorg": Case(
        "POST",
        "/v1/approval-requests/{request_id}/approve",
        _fresh(_leave_after_reorg, "POST", "/v1/approval-requests/{id}/approve", {}),
    ),
    "approval_request.approve_after_reactivation": Case(
        "POST",
        "/v1/approval-requests/{request_id}/approve",
        _fresh(_reactivated(_leave), "POST", "/v1/approval-requests/{id}/approve", {}),
    ),
    "opportunity.overview_plan": Case(
        "GET",
        "/v1/opportunities/{object_id}/overview",
        _fresh(_plan_on_opportunity, "GET", "/v1/opportunities/{id}/overview"),
        sees=_overview_has("plans"),
    ),
    "opportunity.overview_signin": Case(
        "GET",
        "/v1/opportunities/{object_id}/overview",
        _fresh(_signin_on_opportunity, "GET", "/v1/opportunities/{id}/overview"),
        sees=_overview_has("signins"),
    ),
    "feed.expense_activity": Case(
        "GET",
        "/v1/feed",
        _feed_expense,
        sees=_has_expense_activity,
    ),
    "opportunity.overview_expense": Case(
        "GET",
        "/v1/opportunities/{object_id}/overview",
        _fresh(_expense_activity, "GET", "/v1/opportunities/{id}/overview"),
        sees=_has_expense_activity,
    ),
    "expense.reject": Case(
        "POST",
        "/v1/expenses/{expense_id}/reject",
        _fresh(lambda w: w.expense("submitted"), "POST", "/v1/expenses/{id}/reject", {"reason": "no receipt"}),
    ),
    "expense.list": Case(
        "GET",
        "/v1/expenses",
        _fixed("GET", f"/v1/expenses?from={WORLD_EXPENSE_DAY}&to={WORLD_EXPENSE_DAY}&limit=100"),
        sees=_in_items("expense"),
    ),
    "expense.list_user": Case(
        "GET",
        "/v1/expenses",
        _fixed("GET", f"/v1/expenses?user_id=rep_a&from={WORLD_EXPENSE_DAY}&to={WORLD_EXPENSE_DAY}&limit=100"),
        sees=_in_items("expense"),
    ),
    "expense.list_unit": Case(
        "GET",
        "/v1/expenses",
        _fixed(
            "GET",
            f"/v1/expenses?unit_type=department&unit_id=east&from={WORLD_EXPENSE_DAY}&to={WORLD_EXPENSE_DAY}&limit=100",
        ),
        sees=_in_items("expense"),
    ),
    "budget.put": Case(
        "PUT",
        "/v1/budgets/{unit_type}/{unit_id}/{period}",
        _fixed("PUT", "/v1/budgets/department/east/2026-03", _budget("2026-03")),
    ),
    "budget.get": Case(
        "GET", "/v1/budgets/{unit_type}/{unit_id}/{period}", _fixed("GET", f"/v1/budgets/department/east/{PERIOD}")
    ),
    "budget.get_person": Case(
        "GET", "/v1/budgets/{unit_type}/{unit_id}/{period}", _fixed("GET", f"/v1/budgets/person/rep_a/{PERIOD}")
    ),
    "expense_stats": Case("GET", "/v1/expense-stats", _fixed("GET", f"/v1/expense-stats?period={PERIOD}")),
    "expense_stats.unit": Case(
        "GET",
        "/v1/expense-stats",
        _fixed("GET", f"/v1/expense-stats?period={PERIOD}&unit_type=department&unit_id=east"),
    ),
    # ------------------------------------------------------------ information center
    "messages.list": Case("GET", "/v1/messages", _fixed("GET", "/v1/messages?limit=100"), sees=_in_items("message")),
    "message.read": Case(
        "POST", "/v1/messages/{message_id}/read", _fresh(World.message, "POST", "/v1/messages/{id}/read")
    ),
    "messages.read_all": Case(
        "POST",
        "/v1/messages/read-all",
        _read_all_call,
        after=lambda w, role, call: _read_all_leaves_others_unread(w, role, call.probe),
    ),
    # ------------------------------------------------------------ administration
    "admin.department.put": Case(
        "PUT",
        "/v1/admin/departments/{department_id}",
        _new("dept", "PUT", "/v1/admin/departments/{id}", {"name": "New", "parent_id": "hq"}),
    ),
    "admin.user.put": Case(
        "PUT",
        "/v1/admin/users/{user_id}",
        _new("user", "PUT", "/v1/admin/users/{id}", {"name": "New", "department_id": "hq"}),
    ),
    "admin.project.put": Case(
        "PUT",
        "/v1/admin/projects/{project_id}",
        _new("proj", "PUT", "/v1/admin/projects/{id}", {"name": "New", "owner_id": "rep_a"}),
    ),
    "admin.settings.put": Case(
        "PUT", "/v1/admin/settings", _fixed("PUT", "/v1/admin/settings", {"approval_limit": "5000.00"})
    ),
    "admin.settings.get": Case("GET", "/v1/admin/settings", _fixed("GET", "/v1/admin/settings")),
    "admin.work_calendar.put": Case(
        "PUT",
        "/v1/admin/work-calendar/{year}",
        _fixed("PUT", "/v1/admin/work-calendar/2030", {"holidays": ["2030-10-01"], "workdays": ["2030-10-12"]}),
    ),
    "admin.work_calendar.get": Case(
        "GET", "/v1/admin/work-calendar/{year}", _fixed("GET", "/v1/admin/work-calendar/2030")
    ),
    # ------------------------------------------------------------ work reports (rep_a's, to mgr_east)
    "admin.report_template.put": Case(
        "PUT",
        "/v1/admin/report-templates/{template_id}",
        _new("tpl", "PUT", "/v1/admin/report-templates/{id}", TEMPLATE),
    ),
    "report_templates.list": Case("GET", "/v1/report-templates", _fixed("GET", "/v1/report-templates")),
    "report.create": Case(
        "POST",
        "/v1/reports",
        lambda w, role: Call(
            "POST", "/v1/reports", {"template_id": _template(w), "period_start": _today(), "values": {}}
        ),
    ),
    "report.get": Case("GET", "/v1/reports/{report_id}", _fresh(_report, "GET", "/v1/reports/{id}")),
    "report.patch": Case(
        "PATCH", "/v1/reports/{report_id}", _fresh(_report, "PATCH", "/v1/reports/{id}", {"values": {"summary": "x"}})
    ),
    "report.list": Case(
        "GET", "/v1/reports", _report_listing("/v1/reports?role=mine&limit=100"), sees=_in_items("report")
    ),
    "report.list_received": Case(
        "GET", "/v1/reports", _report_listing("/v1/reports?role=received&limit=100"), sees=_in_items("report")
    ),
    "report.compliance": Case(
        "GET",
        "/v1/report-compliance",
        lambda w, role: Call("GET", f"/v1/report-compliance?template_id={_template(w)}&period_start={_today()}"),
    ),
    "admin.integration.put": Case(
        "PUT",
        "/v1/admin/integrations/finance",
        _fixed("PUT", "/v1/admin/integrations/finance", {"url": "https://finance.example.com/hook"}),
    ),
    "admin.jobs.list": Case("GET", "/v1/admin/jobs", _fixed("GET", "/v1/admin/jobs?limit=100")),
    "admin.jobs.get": Case("GET", "/v1/admin/jobs/{job_id}", _fresh(_job, "GET", "/v1/admin/jobs/{id}")),
    # ------------------------------------------------------------ org reads, approvals queue, team day
    "users.list": Case("GET", "/v1/users", _fixed("GET", "/v1/users?limit=100"), sees=_lists_user("id")),
    "users.get": Case("GET", "/v1/users/{user_id}", _fixed("GET", "/v1/users/rep_a")),
    "team": Case("GET", "/v1/team", _fixed("GET", "/v1/team?limit=100"), sees=_lists_user("id")),
    "team.day": Case(
        "GET", "/v1/team/day", _fixed("GET", f"/v1/team/day?date={DAY}&limit=100"), sees=_lists_user("user_id")
    ),
    "departments.list": Case("GET", "/v1/departments", _fixed("GET", "/v1/departments")),
    "projects.list": Case("GET", "/v1/projects", _fixed("GET", "/v1/projects?mine=true")),
    "approvals.list": Case("GET", "/v1/approvals", _fixed("GET", "/v1/approvals")),
    "approvals.bulk": Case(
        "POST",
        "/v1/approvals/bulk",
        lambda w, role: Call(
            "POST", "/v1/approvals/bulk", {"action": "approve", "expense_ids": [w.expense("submitted")]}
        ),
    ),
    "delegate.put": Case(
        "PUT",
        "/v1/me/delegate",
        _fixed("PUT", "/v1/me/delegate", {"delegate_id": "fin", "from": "2030-01-01", "to": "2030-01-02"}),
    ),
    "delegate.get": Case("GET", "/v1/me/delegate", _fixed("GET", "/v1/me/delegate")),
    "delegate.delete": Case("DELETE", "/v1/me/delegate", _fixed("DELETE", "/v1/me/delegate")),
    # ------------------------------------------------------------ phones (each role its own phone)
    "device.put": Case(
        "PUT",
        "/v1/me/devices/{installation_id}",
        lambda w, role: Call("PUT", f"/v1/me/devices/install-{role}", {"platform": "fcm", "token": f"tok-{role}"}),
        per_role=True,  # a token lives on in SNS: one role's phone would move to the next
    ),
    "devices.list": Case("GET", "/v1/me/devices", _fixed("GET", "/v1/me/devices")),
    "device.delete": Case(
        "DELETE",
        "/v1/me/devices/{installation_id}",
        lambda w, role: Call("DELETE", f"/v1/me/devices/install-{role}"),
        per_role=True,
    ),
    "push_settings.put": Case(
        "PUT",
        "/v1/me/notification-settings",
        _fixed("PUT", "/v1/me/notification-settings", {"muted_kinds": ["team_digest"]}),
    ),
    "push_settings.get": Case("GET", "/v1/me/notification-settings", _fixed("GET", "/v1/me/notification-settings")),
    "admin.user.deactivate": Case(
        "POST",
        "/v1/admin/users/{user_id}/deactivate",
        _fresh(_leaver, "POST", "/v1/admin/users/{id}/deactivate", {"handover_to": "rep_b"}),
    ),
    "admin.user.reactivate": Case(
        "POST", "/v1/admin/users/{user_id}/reactivate", _fresh(_gone_leaver, "POST", "/v1/admin/users/{id}/reactivate")
    ),
    # ------------------------------------------------------------ collaboration (tasks, instructions)
    "task.create": Case("POST", "/v1/tasks", _fixed("POST", "/v1/tasks", {"title": "T", "assignee_ids": ["rep_a"]})),
    "task.get": Case("GET", "/v1/tasks/{task_id}", _fresh(_task, "GET", "/v1/tasks/{id}")),
    "task.patch": Case("PATCH", "/v1/tasks/{task_id}", _fresh(_task, "PATCH", "/v1/tasks/{id}", {"title": "T2"})),
    "task.complete": Case("POST", "/v1/tasks/{task_id}/complete", _fresh(_task, "POST", "/v1/tasks/{id}/complete")),
    "task.reopen": Case("POST", "/v1/tasks/{task_id}/reopen", _fresh(_task, "POST", "/v1/tasks/{id}/reopen")),
    "task.list": Case("GET", "/v1/tasks", _listing("task", _task, "/v1/tasks?limit=100"), sees=_in_items("task")),
    "instruction.create": Case(
        "POST", "/v1/instructions", _fixed("POST", "/v1/instructions", {"content": "Go", "recipient_ids": ["rep_a"]})
    ),
    "instruction.get": Case(
        "GET", "/v1/instructions/{instruction_id}", _fresh(_instruction, "GET", "/v1/instructions/{id}")
    ),
    "instruction.ack": Case(
        "POST", "/v1/instructions/{instruction_id}/ack", _fresh(_instruction, "POST", "/v1/instructions/{id}/ack")
    ),
    "instruction.list": Case(
        "GET",
        "/v1/instructions",
        _listing("instruction", _instruction, "/v1/instructions?limit=100"),
        sees=_in_items("instruction"),
    ),
    "approval_request.create": Case("POST", "/v1/approval-requests", _fixed("POST", "/v1/approval-requests", LEAVE_IN)),
    "approval_request.get": Case(
        "GET", "/v1/approval-requests/{request_id}", _fresh(_leave, "GET", "/v1/approval-requests/{id}")
    ),
    "approval_request.approve": Case(
        "POST",
        "/v1/approval-requests/{request_id}/approve",
        _fresh(_leave, "POST", "/v1/approval-requests/{id}/approve", {}),
    ),
    "approval_request.reject": Case(
        "POST",
        "/v1/approval-requests/{request_id}/reject",
        _fresh(_leave, "POST", "/v1/approval-requests/{id}/reject", {"reason": "no"}),
    ),
    "approval_request.withdraw": Case(
        "POST",
        "/v1/approval-requests/{request_id}/withdraw",
        _fresh(_leave, "POST", "/v1/approval-requests/{id}/withdraw"),
    ),
    "approval_request.list": Case(
        "GET",
        "/v1/approval-requests",
        _listing("approval_request", _leave, "/v1/approval-requests?role=waiting&limit=100"),
        sees=_in_items("approval_request"),
    ),
    # ------------------------------------------------------------ finance webhooks (no bearer token)
    "webhook.unsigned": Case(
        "POST",
        "/v1/webhooks/finance/{tenant_id}",
        _fixed(
            "POST",
            "/v1/webhooks/finance/acme",
            {"type": "expense.payment_updated", "data": {"expense_id": "{expense}", "status": "paid"}},
        ),
    ),
    "webhook.signed": Case("POST", "/v1/webhooks/finance/{tenant_id}", _signed_payment, writes_tenant="acme"),
    # ------------------------------------------------------------ offline sync, calendar feed
    "sync.get": Case(
        "GET",
        "/v1/sync",
        _fixed("GET", "/v1/sync?types=accounts&limit=500"),
        sees=lambda w, body: w.ids["account"] in {c["id"] for c in body["changes"]},
    ),
    "calendar_feed.create": Case("POST", "/v1/me/calendar-feed", _fixed("POST", "/v1/me/calendar-feed")),
    "calendar_feed.remove": Case("DELETE", "/v1/me/calendar-feed", _fixed("DELETE", "/v1/me/calendar-feed")),
    # no bearer token: the secret in the URL is the credential (an unknown one is 404 for all)
    "calendar_feed.get": Case(
        "GET", "/v1/calendar-feed/{token}", _fixed("GET", "/v1/calendar-feed/" + "A" * 43 + ".ics")
    ),
}


# ================================================================ the ACTION matrix
# Who may DO what to an object of rep_a's (issue #12): role x object x action, every cell
# a status code. Rules (API.md "CRM objects", "CRM information", "Expenses"):
# - read: the visible range (404 outside it, never 403).
# - patch / transfer (PATCH owner_id) / team change: the owner, the owner's managers (any
#   depth), heads of the owner's department and its ancestors, admins; a team member or
#   other viewer who may read gets 403 `not_allowed`.
# - comment: whoever may read the activity (a team member included). Comments take no
#   `mentions` in this code base yet: no mention cells.
# - charge: an expense charging department `east` (one above rep_a's `east_key`): own
#   department or one above, own/member projects, self; finance and admins any; else 403
#   `unit_not_allowed`; another tenant has no `east` (422 `unknown_unit`).
# - approve: rep_a's submitted expense, approver from the (stable) reporting tree:
#   mgr_east. Approvers re-resolved after a reorg are another change's matrix.
# - plans: read by self, managers and admins; changed by their owner only (403).
# - unknown_user: a valid token whose `sub` the org does not have: 403 `unknown_user` on
#   every cell; so does a deactivated user (`gone`) with a token issued before.
# "-" marks an action the object does not have.
ACTION_ROLES = {  # column -> the role (tests/integration/hostile.py ROLES) that plays it
    "owner": "rep_a",  # owner
    "team": "rep_t",  # team member (of the account; nobody's report, no department head)
    "mgr": "mgr_east",  # manager
    "mgr2": "vp",  # manager's manager
    "head": "kam",  # department head (of east_key, rep_a's department), manages nobody
    "peer": "rep_b",  # peer (same manager)
    "other": "rep_c",  # other department
    "fin": "fin",  # finance
    "admin": "admin",  # tenant admin
    "ghost": "ghost",  # unknown user: valid token, no such user in the org
    "gone": "rep_gone",  # deactivated user: a token issued before the deactivation
    "xten": "x_admin",  # other tenant (admin and finance there)
}
ACTION_OBJECTS = ("account", "contact", "opportunity", "lead", "activity", "expense", "plan")
ACTION_OBJECTS += ("signin", "log")  # rep_a's own records: read by self, managers, heads of her departments, admins
ACTION_OBJECTS += ("task", "instruction", "approval_request")  # collaboration: rep_a's own task (self-assigned),
# an instruction from mgr_east to rep_a, rep_a's leave request (approve: its approver, mgr_east)
ACTIONS = ("read", "patch", "transfer", "team", "comment", "charge", "approve")

# fmt: off
ACTION_MATRIX = """
cell                 owner team mgr mgr2 head peer other fin admin ghost gone xten
account.read         200   200  200 200  200  404  404   404 200   403   403  404
account.patch        200   403  200 200  200  404  404   404 200   403   403  404
account.transfer     200   403  200 200  200  404  404   404 200   403   403  404
account.team         200   403  200 200  200  404  404   404 200   403   403  404
account.comment      201   201  201 201  201  404  404   404 201   403   403  404
account.charge       -     -    -   -    -    -    -     -   -     -     -    -
account.approve      -     -    -   -    -    -    -     -   -     -     -    -
contact.read         200   404  200 200  200  404  404   404 200   403   403  404
contact.patch        200   404  200 200  200  404  404   404 200   403   403  404
contact.transfer     200   404  200 200  200  404  404   404 200   403   403  404
contact.team         -     -    -   -    -    -    -     -   -     -     -    -
contact.comment      201   404  201 201  201  404  404   404 201   403   403  404
contact.charge       -     -    -   -    -    -    -     -   -     -     -    -
contact.approve      -     -    -   -    -    -    -     -   -     -     -    -
opportunity.read     200   404  200 200  200  404  404   404 200   403   403  404
opportunity.patch    200   404  200 200  200  404  404   404 200   403   403  404
opportunity.transfer 200   404  200 200  200  404  404   404 200   403   403  404
opportunity.team     -     -    -   -    -    -    -     -   -     -     -    -
opportunity.comment  201   404  201 201  201  404  404   404 201   403   403  404
opportunity.charge   -     -    -   -    -    -    -     -   -     -     -    -
opportunity.approve  -     -    -   -    -    -    -     -   -     -     -    -
lead.read            200   404  200 200  200  404  404   404 200   403   403  404
lead.patch           200   404  200 200  200  404  404   404 200   403   403  404
lead.transfer        200   404  200 200  200  404  404   404 200   403   403  404
lead.team            -     -    -   -    -    -    -     -   -     -     -    -
lead.comment         201   404  201 201  201  404  404   404 201   403   403  404
lead.charge          -     -    -   -    -    -    -     -   -     -     -    -
lead.approve         -     -    -   -    -    -    -     -   -     -     -    -
activity.read        200   404  200 200  200  404  404   404 200   403   403  404
activity.patch       -     -    -   -    -    -    -     -   -     -     -    -
activity.transfer    -     -    -   -    -    -    -     -   -     -     -    -
activity.team        -     -    -   -    -    -    -     -   -     -     -    -
activity.comment     201   404  201 201  201  404  404   404 201   403   403  404
activity.charge      -     -    -   -    -    -    -     -   -     -     -    -
activity.approve     -     -    -   -    -    -    -     -   -     -     -    -
expense.read         200   404  200 200  200  404  404   200 200   403   403  404
expense.patch        200   404  403 403  403  404  404   403 403   403   403  404
expense.transfer     -     -    -   -    -    -    -     -   -     -     -    -
expense.team         -     -    -   -    -    -    -     -   -     -     -    -
expense.comment      -     -    -   -    -    -    -     -   -     -     -    -
expense.charge       201   403  201 403  403  201  403   201 201   403   403  422
expense.approve      403   404  200 403  403  404  404   403 403   403   403  404
plan.read            200   404  200 200  200  404  404   404 200   403   403  404
plan.patch           200   404  403 403  403  404  404   404 403   403   403  404
plan.transfer        -     -    -   -    -    -    -     -   -     -     -    -
plan.team            -     -    -   -    -    -    -     -   -     -     -    -
plan.comment         -     -    -   -    -    -    -     -   -     -     -    -
plan.charge          -     -    -   -    -    -    -     -   -     -     -    -
plan.approve         -     -    -   -    -    -    -     -   -     -     -    -
signin.read          200   404  200 200  200  404  404   404 200   403   403  404
signin.patch         -     -    -   -    -    -    -     -   -     -     -    -
signin.transfer      -     -    -   -    -    -    -     -   -     -     -    -
signin.team          -     -    -   -    -    -    -     -   -     -     -    -
signin.comment       -     -    -   -    -    -    -     -   -     -     -    -
signin.charge        -     -    -   -    -    -    -     -   -     -     -    -
signin.approve       -     -    -   -    -    -    -     -   -     -     -    -
log.read             200   404  200 200  200  404  404   404 200   403   403  404
log.patch            -     -    -   -    -    -    -     -   -     -     -    -
log.transfer         -     -    -   -    -    -    -     -   -     -     -    -
log.team             -     -    -   -    -    -    -     -   -     -     -    -
log.comment          -     -    -   -    -    -    -     -   -     -     -    -
log.charge           -     -    -   -    -    -    -     -   -     -     -    -
log.approve          -     -    -   -    -    -    -     -   -     -     -    -
task.read            200   404  200 200  404  404  404   404 404   403   403  404
task.patch           200   404  403 403  404  404  404   404 404   403   403  404
task.transfer        -     -    -   -    -    -    -     -   -     -     -    -
task.team            -     -    -   -    -    -    -     -   -     -     -    -
task.comment         -     -    -   -    -    -    -     -   -     -     -    -
task.charge          -     -    -   -    -    -    -     -   -     -     -    -
task.approve         -     -    -   -    -    -    -     -   -     -     -    -
instruction.read     200   404  200 200  404  404  404   404 404   403   403  404
instruction.patch    -     -    -   -    -    -    -     -   -     -     -    -
instruction.transfer -     -    -   -    -    -    -     -   -     -     -    -
instruction.team     -     -    -   -    -    -    -     -   -     -     -    -
instruction.comment  -     -    -   -    -    -    -     -   -     -     -    -
instruction.charge   -     -    -   -    -    -    -     -   -     -     -    -
instruction.approve  -     -    -   -    -    -    -     -   -     -     -    -
approval_request.read     200   404  200 200  200  404  404   404 200   403   403  404
approval_request.patch    -     -    -   -    -    -    -     -   -     -     -    -
approval_request.transfer -     -    -   -    -    -    -     -   -     -     -    -
approval_request.team     -     -    -   -    -    -    -     -   -     -     -    -
approval_request.comment  -     -    -   -    -    -    -     -   -     -     -    -
approval_request.charge   -     -    -   -    -    -    -     -   -     -     -    -
approval_request.approve  403   404  200 403  403  404  404   404 403   403   403  404
"""
# fmt: on

# the error codes a refusal may carry, by status
ACTION_ERRORS = {
    403: {"not_allowed", "unknown_user", "unit_not_allowed", "not_owner", "not_approver", "not_creator"},
    404: {"not_found"},
    422: {"unknown_unit"},
}


def action_expectations() -> dict[str, dict[str, str]]:
    """{"object.action": {role: code}}: every object x action present, "-" where n/a."""
    lines = [line.split() for line in ACTION_MATRIX.strip().splitlines()]
    header, rows = lines[0], lines[1:]
    assert tuple(header[1:]) == tuple(ACTION_ROLES), header
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        assert len(row) == len(header), row
        assert row[0] not in out, f"{row[0]} twice"
        out[row[0]] = dict(zip(ACTION_ROLES, row[1:], strict=True))
    assert set(out) == {f"{o}.{a}" for o in ACTION_OBJECTS for a in ACTIONS}, "a missing object x action"
    return out


CRM_PATH = {"account": "accounts", "contact": "contacts", "opportunity": "opportunities", "lead": "leads"}
PATCH_BODY = {"account": {"name": "Renamed"}, "contact": {"name": "Renamed"}, "lead": {"company": "Bar Ltd"}}
PATCH_BODY["opportunity"] = {"stage": "proposal"}


def _crm_fresh(w: World, kind: str) -> str:
    """An object of ``kind`` only the action matrix acts on (the world's, put back after each test)."""
    return w.ids[f"acted_{kind}"]


def _activity_on(w: World, kind: str, object_id: str) -> str:
    from chalicelib.services.feed import feed

    return feed.create_activity(principal("rep_a"), "post", "about it", [(kind, object_id)], None)["id"]


def _crm_action(kind: str, action: str) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        object_id = _crm_fresh(w, kind)
        path = f"/v1/{CRM_PATH[kind]}/{object_id}"
        if action == "read":
            return Call("GET", path)
        if action == "patch":
            return Call("PATCH", path, PATCH_BODY[kind])
        if action == "transfer":
            return Call("PATCH", path, {"owner_id": "rep_b"})
        if action == "team":
            return Call("PUT", f"{path}/team/rep_b", {"role": "follow_up"})
        assert action == "comment"
        return Call("POST", f"/v1/activities/{_activity_on(w, kind, object_id)}/comments", {"content": "me too"})

    return build


def _activity_action(action: str) -> Callable[[World, str], Call]:
    """An activity of rep_a's on rep_a's team-less account."""

    def build(w: World, role: str) -> Call:
        activity_id = _activity_on(w, "account", w.ids["account"])
        if action == "read":
            return Call("GET", f"/v1/activities/{activity_id}")
        return Call("POST", f"/v1/activities/{activity_id}/comments", {"content": "me too"})

    return build


def _expense_action(action: str) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        if action == "charge":
            return Call("POST", "/v1/expenses", EXPENSE_IN)
        if action == "approve":
            return Call("POST", f"/v1/expenses/{w.expense('submitted')}/approve", {})
        expense_id = w.expense()
        if action == "read":
            return Call("GET", f"/v1/expenses/{expense_id}")
        return Call("PATCH", f"/v1/expenses/{expense_id}", {"description": "edited"})

    return build


def _plan_action(action: str) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        plan_id = w.plan()
        if action == "read":
            return Call("GET", f"/v1/plans/{plan_id}")
        return Call("PATCH", f"/v1/plans/{plan_id}", {"title": "T"})

    return build


def _collab_action(kind: str, action: str) -> Callable[[World, str], Call]:
    def build(w: World, role: str) -> Call:
        if kind == "task":
            from chalicelib.services.collab import tasks

            new = tasks.NewTask(title=w.unique("Task "), assignee_ids=["rep_a"])
            task_id = tasks.create(principal("rep_a"), new).task_id
            if action == "read":
                return Call("GET", f"/v1/tasks/{task_id}")
            return Call("PATCH", f"/v1/tasks/{task_id}", {"title": "T"})
        if kind == "instruction":
            return Call("GET", f"/v1/instructions/{_instruction(w)}")
        if action == "read":
            return Call("GET", f"/v1/approval-requests/{_leave(w)}")
        return Call("POST", f"/v1/approval-requests/{_leave(w)}/approve", {})

    return build


def action_call(cell: str) -> Callable[[World, str], Call]:
    kind, action = cell.split(".")
    if kind in ("task", "instruction", "approval_request"):
        return _collab_action(kind, action)
    if kind in CRM_PATH:
        return _crm_action(kind, action)
    if kind == "activity":
        return _activity_action(action)
    if kind == "expense":
        return _expense_action(action)
    if kind in ("signin", "log"):
        return CASES[f"{kind}.get"].build  # rep_a's own record, read through its route
    assert kind == "plan", cell
    return _plan_action(action)
