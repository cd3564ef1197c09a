"""Separation of duties as a property (issue 24 item 1): hypothesis builds random org trees,
then submits expenses (one or two levels), sets and removes delegations, moves people in
the tree and decides what waits, checking after every step that
- no expense is ever decided by its submitter, nor by one person at two levels;
- every waiting expense sits in exactly the queue of the one a decision accepts now, who
  is neither its submitter nor a decider of an earlier level.
Service level (no HTTP) and a fresh tenant per example, so it stays fast."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from chalicelib.auth import Principal
from chalicelib.errors import AppError
from chalicelib.models.expenses import ApprovalWait
from chalicelib.services.expenses import approvals, expenses
from chalicelib.services.flows import offboarding
from chalicelib.services.org import org
from tests.support import today

USERS = [f"u{i}" for i in range(6)]
TENANTS = (f"prop{n}" for n in itertools.count())


class ApprovalMachine(RuleBasedStateMachine):
    @initialize(managers=st.tuples(*[st.integers(0, i - 1) for i in range(1, len(USERS))]))
    def build_tree(self, managers: tuple[int, ...]) -> None:
        self.t = next(TENANTS)
        org.put_department(self.t, "d", "D", None, None)
        org.put_user(self.t, org.NewUser(USERS[0], "U0", "d", None, None, None))
        for i, manager in enumerate(managers, start=1):
            org.put_user(self.t, org.NewUser(USERS[i], f"U{i}", "d", USERS[manager], None, None))
        org.put_settings(self.t, {"approval_limit": "100.00"})
        self.expenses: list[str] = []

    def who(self, user: str, groups: frozenset[str] = frozenset()) -> Principal:
        return Principal(user, self.t, groups)

    @rule(user=st.sampled_from(USERS[1:]), amount=st.sampled_from(["50.00", "500.00"]))
    def submit(self, user: str, amount: str) -> None:
        fields = {"amount": amount, "category": "travel", "occurred_on": today().isoformat()}
        e = expenses.create(self.who(user), {**fields, "unit": {"type": "person", "id": user}})
        try:
            expenses.submit(self.who(user), e.expense_id)
        except AppError as exc:
            assert exc.code == "no_approver", exc
            return
        self.expenses.append(e.expense_id)

    @rule(user=st.sampled_from(USERS), delegate=st.sampled_from(USERS))
    def delegate(self, user: str, delegate: str) -> None:
        day = today().isoformat()
        try:
            approvals.set_delegation(self.who(user), delegate, day, day)
        except AppError as exc:
            assert exc.code in ("invalid_delegate", "delegation_cycle"), exc

    @rule(user=st.sampled_from(USERS))
    def undelegate(self, user: str) -> None:
        approvals.remove_delegation(self.who(user))

    @rule(user=st.sampled_from(USERS[1:]), manager=st.sampled_from(USERS))
    def reorg(self, user: str, manager: str) -> None:
        admin = self.who("admin", frozenset({"admin"}))
        try:
            offboarding.put_user(admin, org.NewUser(user, user.upper(), "d", manager, None, None))
        except AppError as exc:
            assert exc.code in ("manager_cycle", "invalid_manager"), exc

    @rule(data=st.data(), action=st.sampled_from(["approve", "reject"]))
    def decide(self, data: st.DataObject, action: str) -> None:
        waiting = [w for w in map(self.wait_of, self.expenses) if w is not None]
        if not waiting:
            return
        wait = data.draw(st.sampled_from(waiting))
        result = approvals.decide_one(self.who(wait.approver_id), action, wait.expense_id, "ok")
        assert result["status"] == "ok", result  # every queue entry is decidable by its holder

    def wait_of(self, expense_id: str) -> ApprovalWait | None:
        return ApprovalWait.fetch(self.t, expense_id)

    @invariant()
    def separation_of_duties(self) -> None:
        for expense_id in getattr(self, "expenses", []):
            e = expenses.load(self.t, expense_id)
            assert e is not None
            deciders = [a["approver_id"] for a in e.approvals]
            assert e.user_id not in deciders and len(set(deciders)) == len(deciders), e.approvals
            wait = self.wait_of(expense_id)
            if e.status != "submitted":
                assert wait is None
                continue
            now = expenses.current_approvers(e)
            level = expenses.approved_levels(e)
            if wait is None:  # nobody left who may decide (counted, logged)
                assert len(now) <= level
                continue
            assert wait.approver_id == now[level] == expenses.next_approver(e), (wait.approver_id, now)
            assert wait.approver_id != e.user_id and wait.approver_id not in deciders


def test_no_expense_is_decided_by_its_submitter_or_twice_by_one_person_and_every_wait_is_decidable(demo_org):
    run_state_machine_as_test(
        ApprovalMachine,
        settings=settings(
            max_examples=4,
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        ),
    )
