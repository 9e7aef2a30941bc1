"""How a plan prices a quantity: tiers, free units, base fee, outcome improvement.

These are the price definitions of DESIGN.md section 4, in integer fen with decimal unit
prices rounded half-up once per line. Billing rates periods with them; the storefront's
price calculator shows the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, DivisionByZero, Inexact, InvalidOperation, localcontext
from typing import Any

from marketplace.money import BASIS_POINTS_PER_UNIT, round_half_up

# Outcome charges multiply an improvement by a price (and a share): exactly, then rounded
# once. Decimal's default context keeps 28 digits and would round a long product silently;
# this one has room for any product of stored values and traps Inexact, so a result is
# exact or an error.
_EXACT = Context(prec=120, traps=[Inexact, InvalidOperation, DivisionByZero])


@dataclass(frozen=True, slots=True)
class Tier:
    up_to: int | None  # inclusive upper bound of this tier; None for the last tier
    unit_fen: Decimal


def parse_tiers(raw: Sequence[Mapping[str, Any]]) -> list[Tier]:
    return [
        Tier(None if t.get("up_to") is None else int(t["up_to"]), Decimal(str(t["unit_fen"])))
        for t in raw
    ]


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One priced line: ``quantity`` units at ``unit_fen`` make ``amount_fen``."""

    quantity: int | Decimal
    unit_fen: Decimal
    amount_fen: int
    tier: int  # index of the tier


def usage_lines(
    tiers: Sequence[Tier], mode: str, quantity: int | Decimal, *, free_units: int = 0
) -> list[UsageLine]:
    """The lines a period's quantity costs. Tier bounds count the period's whole usage;
    the first ``free_units`` of it cost nothing.

    graduated: the units within each tier at that tier's price (like tax brackets);
    volume: every billable unit at the price of the tier the total falls in.
    """
    if quantity < 0:
        raise ValueError("quantity cannot be negative")
    billable = max(quantity - free_units, 0)
    if billable == 0:
        return []
    if mode == "volume":
        index = next(
            i for i, tier in enumerate(tiers) if tier.up_to is None or quantity <= tier.up_to
        )
        unit = tiers[index].unit_fen
        return [UsageLine(billable, unit, round_half_up(unit * billable), index)]
    lines: list[UsageLine] = []
    lower: int | Decimal = 0
    for index, tier in enumerate(tiers):
        upper = quantity if tier.up_to is None else min(tier.up_to, quantity)
        count = upper - max(lower, free_units)
        if count > 0:
            lines.append(
                UsageLine(count, tier.unit_fen, round_half_up(tier.unit_fen * count), index)
            )
        lower = upper
        if tier.up_to is None or quantity <= tier.up_to:
            break
    return lines


def usage_charge(
    tiers: Sequence[Tier],
    mode: str,
    quantity: int | Decimal,
    *,
    free_units: int = 0,
    base_fee_fen: int = 0,
) -> int:
    """What a period with ``quantity`` units costs, base fee included."""
    return base_fee_fen + sum(
        line.amount_fen for line in usage_lines(tiers, mode, quantity, free_units=free_units)
    )


def improvement(direction: str, baseline: Decimal, measured: Decimal) -> Decimal:
    """How much better the measured value is than the baseline; never below zero."""
    delta = measured - baseline if direction == "increase" else baseline - measured
    return max(delta, Decimal(0))


@dataclass(frozen=True, slots=True)
class OutcomeCharge:
    """One period's outcome charge, step by step (DESIGN.md section 4)."""

    improvement: Decimal
    exact_fen: Decimal  # improvement x price, or improvement x value x share: not rounded
    variable_fen: int  # exact_fen rounded half up, once
    cap_fen: int | None
    base_fee_fen: int

    @property
    def capped(self) -> bool:
        return self.cap_fen is not None and self.variable_fen > self.cap_fen

    @property
    def charged_fen(self) -> int:
        """The improvement's charge after the cap, before the base fee."""
        return (
            min(self.variable_fen, self.cap_fen) if self.cap_fen is not None else self.variable_fen
        )

    @property
    def total_fen(self) -> int:
        return self.charged_fen + self.base_fee_fen


def outcome_exact_fen(
    gained: Decimal,
    *,
    price_per_unit_fen: Decimal | None = None,
    share_bp: int | None = None,
    value_per_unit_fen: Decimal | None = None,
) -> Decimal:
    """The exact charge for an improvement before rounding, cap and base fee: a price per
    unit of improvement, or a share of the value of the improvement."""
    with localcontext(_EXACT):
        if price_per_unit_fen is not None:
            return gained * price_per_unit_fen
        if share_bp is None or value_per_unit_fen is None:
            raise ValueError("an outcome plan has a unit price or a share of value")
        return gained * value_per_unit_fen * share_bp / BASIS_POINTS_PER_UNIT


def outcome_variable_fen(
    gained: Decimal,
    *,
    price_per_unit_fen: Decimal | None = None,
    share_bp: int | None = None,
    value_per_unit_fen: Decimal | None = None,
) -> int:
    """The charge for an improvement before cap and base fee, rounded half up once at the
    end of the line: a share of value is not rounded to fen before the share is taken."""
    return round_half_up(
        outcome_exact_fen(
            gained,
            price_per_unit_fen=price_per_unit_fen,
            share_bp=share_bp,
            value_per_unit_fen=value_per_unit_fen,
        )
    )


def outcome_breakdown(
    *,
    direction: str,
    baseline: Decimal,
    measured: Decimal,
    price_per_unit_fen: Decimal | None = None,
    share_bp: int | None = None,
    value_per_unit_fen: Decimal | None = None,
    cap_fen: int | None = None,
    base_fee_fen: int = 0,
) -> OutcomeCharge:
    """improvement, its exact charge, the one rounding, the cap and the base fee."""
    gained = improvement(direction, baseline, measured)
    exact = outcome_exact_fen(
        gained,
        price_per_unit_fen=price_per_unit_fen,
        share_bp=share_bp,
        value_per_unit_fen=value_per_unit_fen,
    )
    return OutcomeCharge(gained, exact, round_half_up(exact), cap_fen, base_fee_fen)


def outcome_charge(
    *,
    direction: str,
    baseline: Decimal,
    measured: Decimal,
    price_per_unit_fen: Decimal | None = None,
    share_bp: int | None = None,
    value_per_unit_fen: Decimal | None = None,
    cap_fen: int | None = None,
    base_fee_fen: int = 0,
) -> int:
    """charge = min(cap, improvement x price) + base (DESIGN.md section 4), where
    improvement x price is rounded half up to whole fen once."""
    return outcome_breakdown(
        direction=direction,
        baseline=baseline,
        measured=measured,
        price_per_unit_fen=price_per_unit_fen,
        share_bp=share_bp,
        value_per_unit_fen=value_per_unit_fen,
        cap_fen=cap_fen,
        base_fee_fen=base_fee_fen,
    ).total_fen
