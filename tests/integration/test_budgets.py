"""Budgets: who may set and read them, block and warn, threshold alerts exactly once
(also after a crash, through the hourly job), and usage under concurrent submissions."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.auth import Principal
from chalicelib.errors import AppError
from chalicelib.models.budgets import DUE_SHARDS
from chalicelib.services.expenses import budgets, expenses
from tests.support import BUDGET_PATH as PATH
from tests.support import EAST, alerts_for, put_budget, submit


def test_put_budget_by_admin_or_finance_only(api):
    body = {"amount": "100.00", "currency": "CNY", "mode": "block"}
    assert api.put(PATH, body, as_="admin")[0] == 200
    status, error = api.put(PATH, body, as_="mgr_east")
    assert status == 403 and error["error"]["code"] == "finance_only"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "1.00", "currency": "CNY", "mode": "block", "spent": "0"},
        {"amount": "1.00", "currency": "CNY", "mode": "block", "reserved": "0"},
        {"amount": "1.00", "currency": "CNY", "mode": "strict"},
        {"amount": 1.0, "currency": "CNY", "mode": "block"},
        {"amount": "1.00", "currency": "CNY", "mode": "block", "thresholds": [0]},
    ],
)
def test_put_budget_with_unknown_or_invalid_field_is_400(api, body):
    assert api.put(PATH, body, as_="fin")[0] == 400


def test_put_budget_for_unknown_unit_is_422_and_bad_path_is_400(api):
    body = {"amount": "1.00", "currency": "CNY", "mode": "block"}
    assert api.put("/v1/budgets/department/nowhere/2026-11", body, as_="fin")[0] == 422
    assert api.put("/v1/budgets/team/east/2026-11", body, as_="fin")[0] == 400
    assert api.put("/v1/budgets/department/east/2026-13", body, as_="fin")[0] == 400


def test_get_budget_readable_by_finance_admin_and_unit_owner_only(api):
    put_budget(api, "100.00")
    for user, status in (("fin", 200), ("admin", 200), ("mgr_east", 200), ("vp", 404), ("rep_a", 404)):
        assert api.get(PATH, as_=user)[0] == status, user
    assert api.get("/v1/budgets/department/west/2026-11", as_="fin")[0] == 404


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_block_budget_refuses_overrun_with_409_and_changes_nothing(api):
    put_budget(api, "100.00")
    assert submit(api, "60.00")[0] == 200
    status, error = submit(api, "40.01")
    assert status == 409 and error["error"]["code"] == "budget_exceeded"
    _, budget = api.get(PATH, as_="fin")
    assert (budget["reserved"], budget["spent"], budget["remaining"]) == ("60.00", "0.00", "40.00")
    _, stats = api.get("/v1/expense-stats?period=2026-11&group_by=unit", as_="fin")
    assert stats["groups"][0]["total"] == "60.00" and stats["groups"][0]["count"] == 1
    _, drafts = api.get("/v1/expenses?status=draft")
    assert len(drafts["items"]) == 1  # the refused one is still a draft
    assert submit(api, "40.00")[0] == 200  # exactly to the amount is fine


def test_warn_budget_accepts_overrun_with_warning(api):
    put_budget(api, "100.00", mode="warn")
    status, expense = submit(api, "150.00")
    assert status == 200 and expense["warnings"] == ["budget_exceeded"]
    _, budget = api.get(PATH, as_="fin")
    assert budget["reserved"] == "150.00" and budget["remaining"] == "-50.00"


def test_unit_without_budget_has_no_control_but_a_later_budget_sees_usage(api):
    assert submit(api, "900.00")[0] == 200
    assert api.get(PATH, as_="fin")[0] == 404
    budget = put_budget(api, "1000.00")
    assert (budget["reserved"], budget["remaining"]) == ("900.00", "100.00")
    assert submit(api, "100.01")[0] == 409


def test_submission_in_a_currency_without_a_rate_is_422_and_reserves_nothing(api):
    put_budget(api, "100.00")
    _, e = api.post(
        "/v1/expenses",
        {"amount": "1.00", "currency": "USD", "category": "x", "occurred_on": "2026-11-09", "unit": EAST},
    )
    status, error = api.post(f"/v1/expenses/{e['id']}/submit")
    assert status == 422 and error["error"]["code"] == "no_exchange_rate"
    assert api.get(PATH, as_="fin")[1]["reserved"] == "0.00"


def test_approve_moves_reserved_to_spent_and_reject_releases(api):
    put_budget(api, "100.00")
    _, a = submit(api, "30.00")
    _, b = submit(api, "20.00")
    api.post(f"/v1/expenses/{a['id']}/approve", {}, as_="mgr_east")
    api.post(f"/v1/expenses/{b['id']}/reject", {"reason": "no"}, as_="mgr_east")
    _, budget = api.get(PATH, as_="fin")
    assert (budget["spent"], budget["reserved"], budget["remaining"]) == ("30.00", "0.00", "70.00")


@pytest.mark.both_motos  # on moto with the local patches and as shipped
def test_threshold_crossings_alert_the_owner_once_per_threshold(api):
    put_budget(api, "100.00", thresholds=[50, 80, 100])
    submit(api, "40.00")
    assert alerts_for("mgr_east") == []
    submit(api, "45.00")  # 85%: crosses 50 and 80 at once
    assert sorted(m.title for m in alerts_for("mgr_east")) == [
        "Budget department east 2026-11 reached 50%",
        "Budget department east 2026-11 reached 80%",
    ]
    _, e = submit(api, "5.00")
    api.post(f"/v1/expenses/{e['id']}/reject", {"reason": "no"}, as_="mgr_east")
    submit(api, "5.00")  # back over 85% again: nothing new
    submit(api, "10.00")  # 100%
    assert len(alerts_for("mgr_east")) == 3
    _, budget = api.get(PATH, as_="fin")
    assert [a["threshold"] for a in budget["alerts"]] == [50, 80, 100]


def test_lowering_a_budget_alerts_at_once_and_never_twice(api):
    put_budget(api, "1000.00", thresholds=[80])
    submit(api, "500.00")
    put_budget(api, "600.00", thresholds=[80])
    put_budget(api, "500.00", thresholds=[80])
    assert len(alerts_for("mgr_east")) == 1


def test_hourly_job_sends_alerts_a_failing_request_left_pending_exactly_once(
    api, chalice_client, monkeypatch, drain_work
):
    put_budget(api, "100.00", thresholds=[50])
    original = budgets._deliver_alert
    monkeypatch.setattr(budgets, "_deliver_alert", lambda alert: (_ for _ in ()).throw(RuntimeError("crash")))
    status, body = submit(api, "60.00")
    assert status == 200 and body["status"] == "submitted"  # the alert failed after the commit: deferred
    monkeypatch.setattr(budgets, "_deliver_alert", original)
    assert alerts_for("mgr_east") == []
    tick = chalice_client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    for _ in range(2):  # the schedule may fire twice
        chalice_client.lambda_.invoke("budget_alerts", tick)
        drain_work()  # its tasks reach the fan-out worker
    assert len(alerts_for("mgr_east")) == 1
    assert budgets.run_due() == 0  # nothing left in the due index


def test_hourly_job_reads_only_what_is_due(api, ddb_requests):
    put_budget(api, "1000.00")
    for _ in range(3):
        submit(api, "10.00")
    ddb_requests.reset()
    assert budgets.run_due() == 0
    assert ddb_requests.calls == ["Query"] * DUE_SHARDS  # one per due-index shard, nothing else


def test_concurrent_submissions_against_block_budget_never_overrun(api, atomic_moto):
    """40 submissions of 7.00..11.00 race for a 200.00 block budget with thresholds."""
    put_budget(api, "200.00", thresholds=[50, 90, 100])
    amounts = [Decimal(7 + i % 5) for i in range(40)]
    users = ["rep_a", "rep_b"]
    drafts = []
    for i, amount in enumerate(amounts):
        user = users[i % 2]
        e = expenses.create(
            Principal(user, "acme", frozenset()),
            {"amount": str(amount), "category": "x", "occurred_on": "2026-11-09", "unit": EAST},
        )
        drafts.append((user, e.expense_id, amount))
    accepted: list[Decimal] = []
    errors: list[Any] = []
    barrier = threading.Barrier(len(drafts))

    def run(user: str, expense_id: str, amount: Decimal) -> None:
        barrier.wait()
        try:
            expenses.submit(Principal(user, "acme", frozenset()), expense_id)
            accepted.append(amount)
        except AppError as exc:
            if exc.code != "budget_exceeded":
                errors.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=run, args=d) for d in drafts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    budget = budgets.load("acme", "department", "east", "2026-11")
    usage = Decimal(int(budget.spent_cents) + int(budget.reserved_cents)) / 100
    assert usage == sum(accepted) and usage <= 200
    assert int(budget.available_cents) == 20000 - int(budget.reserved_cents)
    assert sum(accepted) > 190  # the budget was actually filled
    titles = sorted(m.title for m in alerts_for("mgr_east"))
    assert len(titles) == len(set(titles)) == len([t for t in (50, 90, 100) if sum(accepted) * 100 >= t * 200])
