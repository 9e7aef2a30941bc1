"""The outcome charge is rounded once, at the end of the line: improvement x value per unit
x share (or improvement x price) in exact arithmetic, then half up to whole fen, then the
cap, then the base fee (DESIGN.md section 4). Every place that shows the charge agrees."""

from __future__ import annotations

import math
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction

import pytest
from flask import Flask
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing.outcomes import invoicing, verification
from billing.outcomes.api import ReportOut
from billing.outcomes.chart import outcome_chart
from catalog.estimates import outcome_estimate
from catalog.pricing import outcome_charge
from marketplace.money import apply_basis_points, round_half_up
from tests.billing.factories import COMMISSION_BP
from tests.billing.test_outcomes import agreed, reported

# Energy saved, valued at ¥0.655 a kWh, the vendor takes a quarter of the value:
# 1,001 kWh x 65.5 fen = 65,565.5 fen of value; 25% of it is 16,391.375 fen -> 16,391.
# Rounding the value to fen first (65,566) and then the share gave 16,391.5 -> 16,392.
SHARE_TERMS = {
    "price_per_unit_fen": None,
    "share_bp": 2_500,
    "value_per_unit_fen": "65.5",
    "cap_fen": 5_000_000,
    "base_fee_fen": 50_000,
}
MEASURED = 40_999  # against a baseline of 42,000 kWh: 1,001 kWh saved
ONCE_FEN = 16_391


def half_up(value: Fraction) -> int:
    """The reference rounding, for non-negative amounts: halves go up."""
    return math.floor(value + Fraction(1, 2))


def test_a_share_of_value_is_rounded_once() -> None:
    charge = outcome_charge(
        direction="decrease",
        baseline=Decimal(42_000),
        measured=Decimal(MEASURED),
        share_bp=2_500,
        value_per_unit_fen=Decimal("65.5"),
    )
    twice = apply_basis_points(round_half_up(Decimal(1_001) * Decimal("65.5")), 2_500)
    assert (charge, twice) == (ONCE_FEN, ONCE_FEN + 1)


@pytest.fixture
def request_context(app: Flask) -> Iterator[None]:
    with app.test_request_context():
        yield


@pytest.mark.usefixtures("request_context")
def test_the_invoice_the_api_the_chart_and_the_estimate_agree(session: Session) -> None:
    contract, buyer, vendor = agreed(session, **SHARE_TERMS)
    result = reported(session, contract, vendor, MEASURED)
    plan = contract.plan

    assert invoicing.charge_fen(contract, result.measured) == ONCE_FEN
    assert ReportOut().dump(result)["charge_fen"] == ONCE_FEN
    (bar,) = outcome_chart(session, contract).periods
    assert bar.charge_fen == ONCE_FEN + SHARE_TERMS["base_fee_fen"]
    estimate = outcome_estimate(plan, Decimal(42_000), Decimal(MEASURED))
    assert estimate["total_fen"] == ONCE_FEN + SHARE_TERMS["base_fee_fen"]
    assert ONCE_FEN in [line["amount_fen"] for line in estimate["lines"]]

    verification.confirm(session, result, actor=buyer, now=result.submitted_at)
    (invoice,) = invoicing.invoice_confirmed(
        session, now=result.submitted_at, commission_bp=COMMISSION_BP
    )
    line = next(line for line in invoice.lines if line.kind == "outcome")
    assert line.amount_fen == ONCE_FEN
    assert line.quantity == Decimal(1_001)
    assert line.unit_fen == Decimal("16.375")  # 25% of 65.5 fen per kWh
    assert line.details["exact_fen"] == "16391.375"
    assert line.details["share_bp"] == 2_500 and line.details["value_per_unit_fen"] == "65.5"
    assert invoice.total_fen == ONCE_FEN + SHARE_TERMS["base_fee_fen"]


# Values as stored: Numeric(24, 6) measurements and unit prices in fen with six places.
values = st.decimals(min_value=0, max_value=10**15, places=6, allow_nan=False)
prices = st.decimals(min_value=0, max_value=10**12, places=6, allow_nan=False)
caps = st.one_of(st.none(), st.integers(1, 10**15))


@given(
    st.sampled_from(["increase", "decrease"]),
    values,
    values,
    prices,
    st.integers(1, 10_000),
    caps,
    st.integers(0, 10**12),
)
@example("decrease", Decimal(42_000), Decimal(MEASURED), Decimal("65.5"), 2_500, None, 0)
def test_share_of_value_equals_the_exact_fraction_rounded_once(
    direction: str,
    baseline: Decimal,
    measured: Decimal,
    value: Decimal,
    share_bp: int,
    cap: int | None,
    base: int,
) -> None:
    gained = max(
        Fraction(measured - baseline if direction == "increase" else baseline - measured), 0
    )
    variable = half_up(gained * Fraction(value) * share_bp / 10_000)
    expected = (variable if cap is None else min(variable, cap)) + base
    charge = outcome_charge(
        direction=direction,
        baseline=baseline,
        measured=measured,
        share_bp=share_bp,
        value_per_unit_fen=value,
        cap_fen=cap,
        base_fee_fen=base,
    )
    assert charge == expected


@given(st.sampled_from(["increase", "decrease"]), values, values, prices, caps)
# 34 significant digits: Decimal's default context (28) rounded the product before the fen.
@example(
    "increase", Decimal(0), Decimal("969226997581822.836144"), Decimal("677382743102.499319"), None
)
def test_price_per_unit_equals_the_exact_product_rounded_once(
    direction: str, baseline: Decimal, measured: Decimal, price: Decimal, cap: int | None
) -> None:
    gained = max(
        Fraction(measured - baseline if direction == "increase" else baseline - measured), 0
    )
    variable = half_up(gained * Fraction(price))
    charge = outcome_charge(
        direction=direction,
        baseline=baseline,
        measured=measured,
        price_per_unit_fen=price,
        cap_fen=cap,
    )
    assert charge == (variable if cap is None else min(variable, cap))
