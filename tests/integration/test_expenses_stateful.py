"""The expense state machine, explored by hypothesis: create, submit, approve, reject,
retried transitions (409, nothing changes) and replays under the same Idempotency-Key
(the first answer of a transition that took effect again, nothing changes), with the budget and statistics invariants
checked after every step, through the HTTP edge."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from chalicelib.services.expenses import budgets

AMOUNTS = ["30.00", "45.50", "60.00", "99.99"]
THRESHOLDS = [50, 100]
PERIODS = (
    f"{2000 + n // 12}-{n % 12 + 1:02d}" for n in itertools.count()
)  # past months: no expense is dated after today
KEYS = itertools.count()  # Idempotency-Keys unique across examples: a reused key is 422 by contract


class ExpenseMachine(RuleBasedStateMachine):
    api: Any = None

    @initialize(mode=st.sampled_from(["block", "warn"]), amount=st.sampled_from(["100.00", "200.00"]))
    def start(self, mode: str, amount: str) -> None:
        self.period = next(PERIODS)  # a fresh month per example: examples never share a budget
        self.mode, self.amount = mode, Decimal(amount)
        status, _ = self.api.put(
            f"/v1/budgets/department/east/{self.period}",
            {"amount": amount, "currency": "CNY", "mode": mode, "thresholds": THRESHOLDS},
            as_="fin",
        )
        assert status == 200
        self.status: dict[str, str] = {}
        self.amounts: dict[str, Decimal] = {}
        self.max_usage = Decimal(0)
        self.last: tuple[str, str, Any, str, tuple[int, Any]] | None = None

    def usage(self) -> Decimal:
        return sum((self.amounts[e] for e, s in self.status.items() if s in ("submitted", "approved")), Decimal(0))

    def call(self, path: str, body: Any, as_: str) -> tuple[int, Any]:
        key = f"k{next(KEYS)}"
        result = self.api.post(path, body, as_=as_, headers={"Idempotency-Key": key})
        # A refusal is not remembered under its key: the same request again is a new attempt,
        # which may pass once the budget has room (test_idempotency.py). Only an answer that
        # took effect is replayed.
        self.last = (path, key, body, as_, result) if result[0] < 300 else None
        return result

    def pick(self, wanted: str, data: st.DataObject) -> str | None:
        candidates = sorted(e for e, s in self.status.items() if s == wanted)
        return data.draw(st.sampled_from(candidates)) if candidates else None

    @rule(amount=st.sampled_from(AMOUNTS))
    def create(self, amount: str) -> None:
        status, e = self.api.post(
            "/v1/expenses",
            {
                "amount": amount,
                "category": "travel",
                "occurred_on": f"{self.period}-10",
                "unit": {"type": "department", "id": "east"},
            },
        )
        assert status == 201
        self.status[e["id"]], self.amounts[e["id"]] = "draft", Decimal(amount)

    @rule(data=st.data())
    def submit(self, data: st.DataObject) -> None:
        expense_id = self.pick("draft", data)
        if expense_id is None:
            return
        over = self.usage() + self.amounts[expense_id] > self.amount
        status, body = self.call(f"/v1/expenses/{expense_id}/submit", {}, "rep_a")
        if over and self.mode == "block":
            assert status == 409 and body["error"]["code"] == "budget_exceeded"
            return
        assert status == 200 and body["status"] == "submitted"
        assert ("budget_exceeded" in body["warnings"]) == over
        self.status[expense_id] = "submitted"
        self.max_usage = max(self.max_usage, self.usage())

    @rule(data=st.data())
    def approve(self, data: st.DataObject) -> None:
        expense_id = self.pick("submitted", data)
        if expense_id is None:
            return
        status, body = self.call(f"/v1/expenses/{expense_id}/approve", {"comment": "ok"}, "mgr_east")
        assert status == 200 and body["status"] == "approved"
        self.status[expense_id] = "approved"

    @rule(data=st.data())
    def reject(self, data: st.DataObject) -> None:
        expense_id = self.pick("submitted", data)
        if expense_id is None:
            return
        status, body = self.call(f"/v1/expenses/{expense_id}/reject", {"reason": "no"}, "mgr_east")
        assert status == 200 and body["status"] == "rejected"
        self.status[expense_id] = "rejected"

    @rule(data=st.data(), action=st.sampled_from(["submit", "approve", "reject"]))
    def retry(self, data: st.DataObject, action: str) -> None:
        """A transition repeated without a key on an expense already past it: 409."""
        decided = sorted(e for e, s in self.status.items() if s in ("approved", "rejected"))
        if not decided:
            return
        expense_id = data.draw(st.sampled_from(decided))
        body = {"reason": "again"} if action == "reject" else {}
        status, _ = self.api.post(
            f"/v1/expenses/{expense_id}/{action}", body, as_="mgr_east" if action != "submit" else "rep_a"
        )
        assert status == 409

    @rule()
    def replay(self) -> None:
        """The last transition again under its Idempotency-Key: the same answer, no effect."""
        if self.last is None:
            return
        path, key, body, as_, first = self.last
        assert self.api.post(path, body, as_=as_, headers={"Idempotency-Key": key}) == first

    @invariant()
    def budget_matches_live_expenses(self) -> None:
        if not hasattr(self, "period"):
            return
        budget = budgets.load("acme", "department", "east", self.period)
        spent = sum((self.amounts[e] for e, s in self.status.items() if s == "approved"), Decimal(0))
        reserved = sum((self.amounts[e] for e, s in self.status.items() if s == "submitted"), Decimal(0))
        assert Decimal(int(budget.spent_cents)) / 100 == spent
        assert Decimal(int(budget.reserved_cents)) / 100 == reserved
        assert Decimal(int(budget.available_cents)) / 100 == self.amount - spent - reserved
        if self.mode == "block":
            assert spent + reserved <= self.amount
        fired = {a["threshold"] for a in budgets.alerts_of(budget)}
        assert fired == {t for t in THRESHOLDS if self.max_usage > 0 and self.max_usage * 100 >= t * self.amount}

    @invariant()
    def statistics_match_live_expenses(self) -> None:
        if not hasattr(self, "period"):
            return
        _, stats = self.api.get(f"/v1/expense-stats?period={self.period}&group_by=unit", as_="fin")
        live = [self.amounts[e] for e, s in self.status.items() if s in ("submitted", "approved")]
        total = sum((Decimal(g["total"]) for g in stats["groups"]), Decimal(0))
        assert total == sum(live, Decimal(0)) and sum(g["count"] for g in stats["groups"]) == len(live)


def test_expense_state_machine_keeps_budget_and_statistics_invariants(api):
    ExpenseMachine.api = api
    run_state_machine_as_test(
        ExpenseMachine,
        settings=settings(
            max_examples=20,
            stateful_step_count=8,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
