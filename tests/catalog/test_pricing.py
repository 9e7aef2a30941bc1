"""Price definitions: tiers (graduated and volume), free units, base fee, outcome charge."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.pricing import (
    Tier,
    improvement,
    outcome_charge,
    parse_tiers,
    usage_charge,
    usage_lines,
)

TIERS = parse_tiers(
    [
        {"up_to": 1000, "unit_fen": "2"},
        {"up_to": 10000, "unit_fen": "1.5"},
        {"up_to": None, "unit_fen": "1"},
    ]
)


@pytest.mark.parametrize(
    ("quantity", "graduated", "volume"),
    [
        (0, 0, 0),
        (1, 2, 2),
        (1000, 2000, 2000),
        (1001, 2000 + 2, 1502),  # 1001 x 1.5 = 1501.5 -> 1502
        (10000, 2000 + 13500, 15000),
        (12000, 2000 + 13500 + 2000, 12000),
    ],
)
def test_graduated_and_volume_examples(quantity: int, graduated: int, volume: int) -> None:
    assert usage_charge(TIERS, "graduated", quantity) == graduated
    assert usage_charge(TIERS, "volume", quantity) == volume


def test_free_units_and_base_fee() -> None:
    assert usage_charge(TIERS, "graduated", 500, free_units=1000, base_fee_fen=9900) == 9900
    # Tier bounds count all usage: units 1,001-1,500 are in the second tier at 1.5 fen.
    assert usage_charge(TIERS, "graduated", 1500, free_units=1000, base_fee_fen=9900) == 9900 + 750
    lines = usage_lines(TIERS, "graduated", 1500, free_units=600)
    assert [(line.quantity, line.tier) for line in lines] == [(400, 0), (500, 1)]
    # Volume: the total (1,500) picks the tier; the free units are not charged.
    assert usage_charge(TIERS, "volume", 1500, free_units=1000) == 750


def test_each_line_rounds_half_up_once() -> None:
    tiers = parse_tiers([{"up_to": None, "unit_fen": "0.5"}])
    assert usage_charge(tiers, "graduated", 1) == 1  # 0.5 fen -> 1 fen
    assert usage_charge(tiers, "graduated", 3) == 2  # 1.5 -> 2
    assert usage_charge(tiers, "volume", 5) == 3  # 2.5 -> 3


tier_lists = st.lists(
    st.tuples(st.integers(1, 10_000), st.decimals(min_value=0, max_value=1000, places=3)),
    min_size=1,
    max_size=5,
).map(
    lambda rows: [
        Tier(up_to=bound, unit_fen=price)
        for bound, price in zip(
            [*sorted({sum(r[0] for r in rows[: i + 1]) for i in range(len(rows))})[:-1], None],
            [r[1] for r in rows],
            strict=False,
        )
    ]
)


@given(tier_lists, st.integers(0, 50_000), st.integers(0, 5_000))
def test_graduated_equals_sum_of_exact_tier_amounts(
    tiers: list[Tier], quantity: int, free: int
) -> None:
    lines = usage_lines(tiers, "graduated", quantity, free_units=free)
    assert sum(line.quantity for line in lines) == max(quantity - free, 0)
    for line in lines:
        exact = Fraction(line.unit_fen) * line.quantity
        assert abs(Fraction(line.amount_fen) - exact) <= Fraction(1, 2)
    assert usage_charge(tiers, "graduated", quantity, free_units=free) == sum(
        line.amount_fen for line in lines
    )


@given(tier_lists, st.integers(1, 50_000))
def test_volume_prices_every_unit_at_one_tier(tiers: list[Tier], quantity: int) -> None:
    (line,) = usage_lines(tiers, "volume", quantity)
    assert line.quantity == quantity  # no free units here
    tier = tiers[line.tier]
    assert tier.up_to is None or quantity <= tier.up_to
    if line.tier > 0:
        assert quantity > tiers[line.tier - 1].up_to


@given(tier_lists, st.integers(0, 20_000), st.integers(0, 20_000))
def test_graduated_charge_never_falls_when_more_is_used(tiers: list[Tier], a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert usage_charge(tiers, "graduated", low) <= usage_charge(tiers, "graduated", high)


amounts = st.decimals(min_value=0, max_value=10**6, places=2)


@given(st.sampled_from(["increase", "decrease"]), amounts, amounts)
def test_improvement_is_direction_aware_and_never_negative(
    direction: str, baseline: Decimal, measured: Decimal
) -> None:
    gained = improvement(direction, baseline, measured)
    assert gained >= 0
    better = measured > baseline if direction == "increase" else measured < baseline
    assert (gained > 0) == better


@given(
    st.sampled_from(["increase", "decrease"]),
    amounts,
    amounts,
    st.decimals(min_value=0, max_value=1000, places=3),
    st.one_of(st.none(), st.integers(1, 10**8)),
    st.integers(0, 10**6),
)
def test_outcome_charge_formula(direction, baseline, measured, price, cap, base) -> None:
    charge = outcome_charge(
        direction=direction,
        baseline=baseline,
        measured=measured,
        price_per_unit_fen=price,
        cap_fen=cap,
        base_fee_fen=base,
    )
    gained = Fraction(improvement(direction, baseline, measured))
    exact = gained * Fraction(price)
    variable = charge - base
    assert variable >= 0
    if cap is not None:
        assert variable <= cap
    if cap is None or exact + Fraction(1, 2) <= cap:
        assert abs(Fraction(variable) - exact) <= Fraction(1, 2)
    if gained == 0:
        assert charge == base  # no improvement, no variable charge


def test_outcome_share_of_value() -> None:
    # 1,000 kWh saved x ¥0.75 = ¥750 of value; a 20% share is ¥150.
    charge = outcome_charge(
        direction="decrease",
        baseline=Decimal(42000),
        measured=Decimal(41000),
        share_bp=2000,
        value_per_unit_fen=Decimal(75),
        base_fee_fen=50000,
    )
    assert charge == 15000 + 50000


def test_outcome_cap() -> None:
    charge = outcome_charge(
        direction="increase",
        baseline=Decimal("90.0"),
        measured=Decimal("99.5"),
        price_per_unit_fen=Decimal(1_000_000),
        cap_fen=5_000_000,
    )
    assert charge == 5_000_000
