"""Money is exact: decimal strings in, integer cents stored, two-place strings out."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.errors import Unprocessable
from chalicelib.models.budgets import Budget
from chalicelib.services.expenses import budgets


@given(st.integers(min_value=0, max_value=10**14))
def test_money_round_trips_through_cents_exactly(cents):
    assert budgets.to_cents(budgets.money(cents)) == cents


@pytest.mark.parametrize("value,cents", [("0.1", 10), ("128.5", 12850), ("0.07", 7), ("100", 10000)])
def test_to_cents_of_decimal_strings_is_exact(value, cents):
    assert budgets.to_cents(value) == cents


def test_to_cents_refuses_sub_cent_amounts():
    with pytest.raises(Unprocessable):
        budgets.to_cents(Decimal("0.001"))


def test_money_of_negative_remaining_keeps_sign():
    assert budgets.money(-5050) == "-50.50"


def test_thresholds_reached_need_usage_at_percent_of_amount():
    b = Budget(tenant_id="t", unit_type="department", unit_id="d", period="2026-11")
    b.amount_cents, b.thresholds, b.spent_cents, b.reserved_cents = 10000, [50, 80, 100], 3000, 4999
    assert budgets.reached(b) == [50]
    b.reserved_cents = 5000
    assert budgets.reached(b) == [50, 80]
    b.amount_cents = None
    assert budgets.reached(b) == []
