"""Conversion arithmetic against a decimal oracle: half-even to cents, exact decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.errors import Unprocessable
from chalicelib.services.expenses import fx

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)
rates = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("99999.99999999"), places=8)


@settings(max_examples=500, derandomize=True)
@given(amount=amounts, rate=rates)
def test_conversion_equals_the_decimal_oracle_rounded_half_even(amount, rate):
    exact = amount * rate  # Decimal multiplication of these sizes is exact at 28 digits
    assert fx.convert_amount(amount, rate) == exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@pytest.mark.parametrize(
    ("amount", "rate", "expected"),
    [("1.00", "0.125", "0.12"), ("1.00", "0.135", "0.14"), ("10.00", "7.12345", "71.23"), ("0.05", "0.1", "0.00")],
)
def test_conversion_ties_go_to_the_even_cent(amount, rate, expected):
    assert fx.convert_amount(Decimal(amount), Decimal(rate)) == Decimal(expected)


@pytest.mark.parametrize("bad", ["0", "-1", "1.123456789", "NaN", "Infinity", "1e3x", ""])
def test_parse_rate_refuses_what_is_not_a_positive_8_place_decimal(bad):
    with pytest.raises(Unprocessable):
        fx.parse_rate(bad)


def test_currency_codes_are_iso_4217():
    assert {"USD", "EUR", "JPY", "CNY", "HKD"} <= fx.ISO_4217
    with pytest.raises(Unprocessable):
        fx.require_currency("XYZ")
