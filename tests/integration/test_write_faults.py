"""Storage faults on every write path: DynamoDB throttling or a transaction conflict on each
distinct write step a request makes, after botocore's own retries: every write whose kind
(operation and the shapes of its keys) differs from its neighbours', and the first and the
last of a run of writes of one kind (a re-index's batches: the same step repeated). Each
answer is a success (the service retried) or a clean 503 ``retry_later``, never a 500; a 503
leaves the table exactly as it was; the retry (same Idempotency-Key where the route takes
one) has the effect of one clean request, and a replay adds nothing.

A crash in the middle of any idempotent route (an exception between two writes) leaves no
idempotency lock behind: the retry with the same key succeeds once.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from chalicelib.web import REGISTRY, RETRYABLE_AWS_CODES
from tests.integration.authz_matrix import CASES
from tests.integration.hostile import (  # noqa: F401
    CONFLICT,
    TENANT,
    THROTTLE,
    Call,
    World,
    _shape,
    changes,
    clean_world,
    principal,
    restore,
    scanned_items,
    table_items,
    world,
)

# write route -> (matrix case that builds a valid request, who sends it)
SCENARIOS: dict[str, tuple[str, str]] = {
    "account.create": ("account.create", "rep_a"),
    "account.patch": ("account.patch", "rep_a"),
    "account.team.put": ("account.team.put", "rep_a"),
    "account.team.delete": ("account.team.delete", "rep_a"),
    "contact.create": ("contact.create_on_account", "rep_a"),
    "contact.patch": ("contact.patch", "rep_a"),
    "opportunity.create": ("opportunity.create", "rep_a"),
    "opportunity.patch_stage": ("opportunity.patch", "rep_a"),
    "lead.create": ("lead.create", "rep_a"),
    "lead.patch": ("lead.patch", "rep_a"),
    "activity.create": ("activity.create", "rep_a"),
    "activity.comment": ("activity.comment", "mgr_east"),
    "upload.create": ("upload.create", "rep_a"),
    "signin.create": ("signin.create_at_account", "rep_a"),
    "plan.create": ("plan.create", "rep_a"),
    "plan.patch": ("plan.patch", "rep_a"),
    "log.create": ("log.create_for_plan", "rep_a"),
    "expense.create": ("expense.create", "rep_a"),
    "expense.patch": ("expense.patch", "rep_a"),
    "expense.submit": ("expense.submit", "rep_a"),
    "expense.approve": ("expense.approve", "mgr_east"),
    "expense.reject": ("expense.reject", "mgr_east"),
    "budget.put": ("budget.put", "fin"),
    "message.read": ("message.read", "rep_a"),
    "messages.read_all": ("messages.read_all", "rep_a"),
    "admin.department.put": ("admin.department.put", "admin"),
    "admin.user.put": ("admin.user.put", "admin"),
    "admin.project.put": ("admin.project.put", "admin"),
    "admin.settings.put": ("admin.settings.put", "admin"),
    "admin.integration.put": ("admin.integration.put", "admin"),
    "webhook.payment": ("webhook.signed", "anon"),
    # this round's write routes
    "account.archive": ("account.archive", "rep_a"),
    "account.restore": ("account.restore", "rep_a"),
    "contact.archive": ("contact.archive", "rep_a"),
    "contact.restore": ("contact.restore", "rep_a"),
    "opportunity.archive": ("opportunity.archive", "rep_a"),
    "opportunity.restore": ("opportunity.restore", "rep_a"),
    "lead.archive": ("lead.archive", "rep_a"),
    "lead.restore": ("lead.restore", "rep_a"),
    "admin.user.deactivate": ("admin.user.deactivate", "admin"),
    "admin.user.reactivate": ("admin.user.reactivate", "admin"),
    "approvals.bulk": ("approvals.bulk", "mgr_east"),
    "delegate.put": ("delegate.put", "rep_a"),
    "delegate.delete": ("delegate.delete", "rep_a"),
    "fx.put": ("fx.put", "fin"),
    "goal.put": ("goal.put", "mgr_east"),
    "mileage.claim": ("mileage.claim", "rep_a"),
    # collaboration
    "task.create": ("task.create", "mgr_east"),
    "task.patch": ("task.patch", "mgr_east"),
    "task.complete": ("task.complete", "rep_a"),
    "task.reopen": ("task.reopen", "rep_a"),
    "instruction.create": ("instruction.create", "mgr_east"),
    "instruction.ack": ("instruction.ack", "rep_a"),
    "approval_request.create": ("approval_request.create", "rep_a"),
    "approval_request.approve": ("approval_request.approve", "mgr_east"),
    "approval_request.reject": ("approval_request.reject", "mgr_east"),
    "approval_request.withdraw": ("approval_request.withdraw", "rep_a"),
    # work reports and the work calendar
    "admin.work_calendar.put": ("admin.work_calendar.put", "admin"),
    "admin.report_template.put": ("admin.report_template.put", "admin"),
    "report.create": ("report.create", "rep_a"),
    "report.patch": ("report.patch", "rep_a"),
    # phones and offline
    "device.put": ("device.put", "rep_a"),
    "device.delete": ("device.delete", "rep_a"),
    "push_settings.put": ("push_settings.put", "rep_a"),
    "calendar_feed.create": ("calendar_feed.create", "rep_a"),
    "calendar_feed.remove": ("calendar_feed.remove", "rep_a"),
}


def _delegated_then_delete(w: World, role: str) -> Call:
    """rep_a has a delegate, so the DELETE removes one (the matrix's case has none to remove)."""
    from chalicelib.services.expenses import delegation

    delegation.put(TENANT, "rep_a", "fin", "2030-01-01", "2030-01-02")
    return Call("DELETE", "/v1/me/delegate")


def _signed_in_day_claim(w: World, role: str) -> Call:
    """A day with two sign-ins 1 km apart and a mileage rate (the matrix's day has none)."""
    from chalicelib.services.fieldwork import signins
    from chalicelib.services.org import org

    org.put_settings(TENANT, {"mileage_rate": "0.80"})
    for n, lat in enumerate((31.2286, 31.2376)):
        when = f"{SIGNIN_DAY}T0{n + 1}:00:00Z"
        signins.create_signin(
            principal("rep_a"),
            signins.NewSignIn(kind="check_in", lat=lat, lng=121.4479, accuracy_m=5, client_time=when),
        )
    return Call("POST", "/v1/mileage-claims", {"date": SIGNIN_DAY})


def _completed_then_reopen(w: World, role: str) -> Call:
    """A task rep_a completed, so the reopen changes it (the matrix's fresh task is open)."""
    from chalicelib.services.collab import tasks

    task = tasks.create(principal("mgr_east"), tasks.NewTask(title=w.unique("Task "), assignee_ids=["rep_a"]))
    tasks.complete(principal("rep_a"), task.task_id, True)
    return Call("POST", f"/v1/tasks/{task.task_id}/reopen")


def _registered_then_delete(w: World, role: str) -> Call:
    """rep_a's phone is registered, so the DELETE removes it (the matrix's world has none)."""
    from chalicelib.services.push import devices

    installation = w.unique("install-")
    devices.register(devices.Registration(TENANT, "rep_a", installation, "fcm", w.unique("tok-")))
    return Call("DELETE", f"/v1/me/devices/{installation}")


def _feed_then_revoke(w: World, role: str) -> Call:
    """rep_a has a calendar feed, so the DELETE revokes it (the matrix's world has none)."""
    from chalicelib.services.sync import calfeed

    calfeed.create_feed(principal("rep_a"))
    return Call("DELETE", "/v1/me/calendar-feed")


SIGNIN_DAY = "2026-02-11"
# scenario -> its own request where the matrix case's request would write nothing
BUILDS: dict[str, Callable[[World, str], Call]] = {
    "delegate.delete": _delegated_then_delete,
    "mileage.claim": _signed_in_day_claim,
    "task.reopen": _completed_then_reopen,
    "device.delete": _registered_then_delete,
    "calendar_feed.remove": _feed_then_revoke,
}
IDEMPOTENT = {(op.method, op.path) for op in REGISTRY if op.idempotent}


def _idempotent(case: str) -> bool:
    import app  # noqa: F401 - fills REGISTRY

    spec = CASES[case]
    return (spec.method, spec.route) in {(op.method, op.path) for op in REGISTRY if op.idempotent}


def test_every_write_route_has_a_fault_scenario():
    import app  # noqa: F401 - fills REGISTRY

    writes = {(op.method, op.path) for op in REGISTRY if op.method != "GET"}
    covered = {(CASES[c].method, CASES[c].route) for c, _ in SCENARIOS.values()}
    assert writes - covered == set()


def fault_positions(writes: list[tuple[str, list[str]]]) -> list[int]:
    """The 1-based positions of the writes a fault is injected at: the first and the last of
    every run of consecutive writes of one kind (one operation on keys of the same shapes)."""
    kinds = [(operation, tuple(sorted({_shape(pk) for pk in pks}))) for operation, pks in writes]
    edges = {n for n in range(len(kinds)) if n == 0 or kinds[n - 1] != kinds[n]}
    edges |= {n for n in range(len(kinds)) if n == len(kinds) - 1 or kinds[n + 1] != kinds[n]}
    return [n + 1 for n in sorted(edges)]


def test_fault_positions_cover_every_kind_of_write_and_both_ends_of_a_run():
    batch = ("BatchWriteItem", ["T#acme#L#ALL", "T#acme#L#OWNER#rep_a"])
    writes = [("PutItem", ["T#acme#IDEM#k"]), ("TransactWriteItems", ["T#acme#ACC#acc_01JAAAAAAAAAAAAAAAAAAAAAAA"])]
    writes += [batch] * 5 + [("UpdateItem", ["T#acme#ACC#acc_01JAAAAAAAAAAAAAAAAAAAAAAA"])] + [batch] * 2
    assert fault_positions(writes) == [1, 2, 3, 7, 8, 9, 10]
    assert fault_positions(writes[:1]) == [1]


def test_table_snapshots_are_what_a_consistent_scan_answers(clean_world):  # noqa: F811
    w = clean_world
    assert table_items() == scanned_items() and len(table_items()) > 100
    case, role = SCENARIOS["opportunity.patch_stage"]
    w.send(role, CASES[case].build(w, role))  # numbers, maps, lists and sets change
    assert table_items() == scanned_items()


def _run(w, role, call, key):
    before = table_items()
    status, body = w.send(role, call, key)
    return before, status, body, table_items()


def fault_cells(writes: list[tuple[str, list[str]]]) -> list[tuple[int, str]]:
    """(position, error) pairs to inject: at each fault position, a transaction meets both a
    conflict (a cancellation with a TransactionConflict reason) and throttling, which take
    different paths in ``models.base.Tx``; a plain write meets one of them, alternating,
    since both are the same retryable ClientError to it (``web.RETRYABLE_AWS_CODES``)."""
    cells: list[tuple[int, str]] = []
    plain = 0
    for nth in fault_positions(writes):
        if writes[nth - 1][0] == "TransactWriteItems":
            cells += [(nth, THROTTLE), (nth, CONFLICT)]
        else:
            cells.append((nth, (THROTTLE, CONFLICT)[plain % 2]))
            plain += 1
    return cells


def test_fault_cells_give_transactions_both_errors_and_plain_writes_one():
    writes = [
        ("PutItem", ["T#acme#IDEM#k"]),
        ("TransactWriteItems", ["T#acme#ACC#a"]),
        ("UpdateItem", ["T#acme#ACC#a"]),
    ]
    assert fault_cells(writes) == [(1, THROTTLE), (2, THROTTLE), (2, CONFLICT), (3, CONFLICT)]
    assert {THROTTLE, CONFLICT} <= RETRYABLE_AWS_CODES


# Every side effect after a commit point is settled (services/platform/aftercommit.py): retried in
# the request, re-driven from the stream if it still fails; so no cell here is expected to
# fail. (This test found 15 such defects, then 16 in the list-index and directory writes;
# all fixed.)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_write_with_storage_fault_on_each_write_is_retried_or_a_clean_503(clean_world, scenario):  # noqa: F811
    w = clean_world
    case, role = SCENARIOS[scenario]
    spec, idem = CASES[case], _idempotent(case)
    w.hook.touched.clear()

    def fresh_call():
        """The world as built, and the scenario's objects as its build left them (built once)."""
        restore(w.snapshot, set(w.hook.touched))
        w.hook.touched.clear()
        return w.prepared(scenario, lambda: BUILDS.get(scenario, spec.build)(w, role))

    call = fresh_call()
    with w.hook.arm():
        before, ok_status, ok_body, after = _run(w, role, call, "clean" if idem else None)
        writes, cells = len(w.hook.writes), fault_cells(w.hook.writes)
    assert ok_status < 300, ok_body
    clean = changes(before, after)
    assert writes >= 1
    for nth, code in cells:
        call = fresh_call()
        key = f"fault-{nth}-{code}" if idem else None
        with w.hook.arm(fail_nth=nth, error=code) as hook:
            before, status, body, after = _run(w, role, call, key)
        where = f"{scenario}: {code} on write {nth} of {writes} ({hook.fired})"
        assert hook.fired, where
        if status == 503:
            assert body["error"]["code"] == "retry_later", where
            assert changes(before, after) == {}, f"partial write after a 503: {where}"
            status, body = w.send(role, call, key)
            assert status == ok_status, (where, body)
            assert changes(before, table_items()) == clean, f"the retry did not have one effect: {where}"
            if idem:
                settled = table_items()
                again = w.send(role, call, key)
                assert again == (status, body), where
                assert changes(settled, table_items()) == {}, where
        else:
            assert status == ok_status, (where, body)
            assert changes(before, after) == clean, f"success with another effect: {where}"


IDEMPOTENT_SCENARIOS = [s for s, (c, _) in SCENARIOS.items() if c in CASES and (CASES[c].method == "POST")]


@pytest.mark.parametrize("scenario", sorted(IDEMPOTENT_SCENARIOS))
def test_crash_mid_handler_leaves_no_lock_and_the_retry_succeeds_once(clean_world, scenario):  # noqa: F811
    from chalicelib.models.idempotency import IdempotencyRecord

    w = clean_world
    case, role = SCENARIOS[scenario]
    if not _idempotent(case):
        pytest.skip("the route takes no Idempotency-Key")
    call = BUILDS.get(scenario, CASES[case].build)(w, role)
    before = table_items()
    # write 1 takes the key; write 2 is the handler's first own write: crash there
    with w.hook.arm(fail_nth=2, error=RuntimeError) as hook:
        status, body = w.send(role, call, "crash")
    assert hook.fired and status == 500, body
    assert [r for r in IdempotencyRecord.scan() if r.status == "in_progress"] == []
    assert changes(before, table_items()) == {}, "the crash left a partial write"
    status, body = w.send(role, call, "crash")
    assert status < 300, body
    assert w.send(role, call, "crash") == (status, body)
