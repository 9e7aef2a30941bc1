"""What a plan would cost for the numbers a buyer types: the storefront's price calculator.

Every figure comes from ``catalog.pricing``, the formulas billing rates periods with, so the
estimate a buyer sees is what the invoice would say. The answer is plain data (amounts in
fen plus display text), served as JSON to price-calculator.js and rendered by the page
itself without JavaScript.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _

from catalog import pricing
from catalog.limits import MAX_INVOICE_FEN, MAX_PERIOD_QUANTITY
from catalog.models import BillingModel, Direction, Plan
from marketplace.i18n import current_language
from marketplace.money import format_fen

MAX_QUANTITY = MAX_PERIOD_QUANTITY
_QUANTITY = re.compile(r"\d{1,13}(?:\.\d{1,6})?")  # meters may count fractions (GPU hours)
_DECIMAL = re.compile(r"-?\d{1,13}(?:\.\d{1,6})?")


class EstimateError(ValueError):
    """A number the buyer typed cannot be used; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# --- display ---------------------------------------------------------------------------


def unit_price(fen: str | Decimal | int | None) -> str:
    """A unit price in (possibly fractional) fen as yuan: "1.5" -> "¥0.015"."""
    if fen is None:
        return ""
    value = Decimal(str(fen))
    if value == value.to_integral_value():
        return format_fen(int(value))
    whole, _sep, fraction = format(value.scaleb(-2).normalize(), "f").partition(".")
    return f"¥{int(whole):,}.{fraction.ljust(2, '0')}"


def number(value: Decimal | int) -> str:
    """A quantity or KPI value for people: 12500 -> "12,500", Decimal("82.50") -> "82.5"."""
    if isinstance(value, int):
        return f"{value:,}"
    text = format(value.normalize(), "f") if value else "0"
    whole, _sep, fraction = text.partition(".")
    sign = "-" if whole.startswith("-") else ""
    grouped = f"{sign}{int(whole.lstrip('-') or 0):,}"
    return f"{grouped}.{fraction}" if fraction else grouped


def _unit(plan: Plan) -> str:
    if current_language() == "en" and plan.unit_en:
        return plan.unit_en
    return plan.unit or ""


def _kpi_unit(plan: Plan) -> str:
    if current_language() == "en" and plan.kpi_unit_en:
        return plan.kpi_unit_en
    return plan.kpi_unit or ""


def _line(label: str, amount_fen: int | None) -> dict[str, Any]:
    return {
        "label": label,
        "amount_fen": amount_fen,
        "amount": "" if amount_fen is None else format_fen(amount_fen),
    }


# --- input -----------------------------------------------------------------------------


def _typed(args: Mapping[str, str], name: str) -> str:
    # NFKC turns full-width digits (１２３) into ASCII; people type thousands separators.
    raw = unicodedata.normalize("NFKC", args.get(name) or "")
    return re.sub(r"[,\s_]", "", raw)


def parse_quantity(args: Mapping[str, str], name: str = "quantity") -> int | Decimal:
    text = _typed(args, name)
    if not _QUANTITY.fullmatch(text) or Decimal(text) > MAX_QUANTITY:
        raise EstimateError(
            name, _("Enter the expected monthly quantity: a number, 0 or more (e.g. 5000).")
        )
    return int(text) if text.isdigit() else Decimal(text)


def parse_measure(args: Mapping[str, str], name: str) -> Decimal:
    text = _typed(args, name)
    if not _DECIMAL.fullmatch(text):
        raise EstimateError(name, _("Enter a number such as 82.5 (at most six decimal places)."))
    return Decimal(text)


# --- estimates -------------------------------------------------------------------------


def _tier_range(tiers: list[pricing.Tier], index: int) -> str:
    lower = 1 if index == 0 else (tiers[index - 1].up_to or 0) + 1
    upper = tiers[index].up_to
    if upper is None:
        return str(_("%(low)s and above", low=number(lower)))
    return str(_("%(low)s to %(high)s", low=number(lower), high=number(upper)))


def usage_estimate(plan: Plan, quantity: int | Decimal) -> dict[str, Any]:
    """A month with ``quantity`` units: free units, each tier's line, base fee, total."""
    assert plan.tier_mode is not None
    tiers = pricing.parse_tiers(plan.tiers or [])
    mode = plan.tier_mode.value
    unit = _unit(plan)
    total = pricing.usage_charge(
        tiers, mode, quantity, free_units=plan.free_units, base_fee_fen=plan.base_fee_fen
    )
    lines = []
    if plan.free_units:
        free = min(quantity, plan.free_units)
        lines.append(_line(_("Free: %(n)s %(unit)s", n=number(free), unit=unit), 0))
    for item in pricing.usage_lines(tiers, mode, quantity, free_units=plan.free_units):
        label = _(
            "Tier %(tier)d (%(range)s): %(n)s %(unit)s × %(price)s",
            tier=item.tier + 1,
            range=_tier_range(tiers, item.tier),
            n=number(item.quantity),
            unit=unit,
            price=unit_price(item.unit_fen),
        )
        lines.append(_line(label, item.amount_fen))
    if plan.base_fee_fen:
        lines.append(_line(_("Monthly base fee"), plan.base_fee_fen))
    if mode == "volume":
        note = _("Every unit is charged at the price of the tier your monthly total reaches.")
    else:
        note = _("Each tier's units are charged at that tier's price.")
    return {
        "plan_id": plan.id,
        "billing_model": plan.billing_model.value,
        "quantity": number(quantity),
        "lines": lines,
        "total_fen": total,
        "total": format_fen(total),
        "note": note,
    }


def outcome_estimate(plan: Plan, baseline: Decimal, measured: Decimal) -> dict[str, Any]:
    """A month whose measured KPI is ``measured`` against ``baseline``: the charge for the
    improvement, the cap when it applies, the base fee, the total."""
    assert plan.direction is not None
    direction = plan.direction.value
    gained = pricing.improvement(direction, baseline, measured)
    variable = pricing.outcome_variable_fen(
        gained,
        price_per_unit_fen=plan.price_per_unit_fen,
        share_bp=plan.share_bp,
        value_per_unit_fen=plan.value_per_unit_fen,
    )
    total = pricing.outcome_charge(
        direction=direction,
        baseline=baseline,
        measured=measured,
        price_per_unit_fen=plan.price_per_unit_fen,
        share_bp=plan.share_bp,
        value_per_unit_fen=plan.value_per_unit_fen,
        cap_fen=plan.cap_fen,
        base_fee_fen=plan.base_fee_fen,
    )
    unit = _kpi_unit(plan)
    if plan.price_per_unit_fen is not None:
        price = _(
            "%(n)s %(unit)s × %(price)s",
            n=number(gained),
            unit=unit,
            price=unit_price(plan.price_per_unit_fen),
        )
    else:
        price = _(
            "%(share)s%% of the value (%(n)s %(unit)s × %(price)s)",
            share=number(Decimal(plan.share_bp or 0).scaleb(-2)),
            n=number(gained),
            unit=unit,
            price=unit_price(plan.value_per_unit_fen),
        )
    lines = [
        _line(_("Improvement: %(n)s %(unit)s", n=number(gained), unit=unit), None),
        _line(price, variable),
    ]
    capped = plan.cap_fen is not None and variable > plan.cap_fen
    if plan.cap_fen is not None and capped:
        cap = _("Capped at %(cap)s a month", cap=format_fen(plan.cap_fen))
        lines.append(_line(cap, plan.cap_fen - variable))
    if plan.base_fee_fen:
        lines.append(_line(_("Monthly base fee"), plan.base_fee_fen))
    if plan.direction is Direction.INCREASE:
        note = _("Higher is better: improvement = measured - baseline.")
    else:
        note = _("Lower is better: improvement = baseline - measured.")
    return {
        "plan_id": plan.id,
        "billing_model": plan.billing_model.value,
        "baseline": number(baseline),
        "measured": number(measured),
        "improvement": number(gained),
        "capped": capped,
        "lines": lines,
        "total_fen": total,
        "total": format_fen(total),
        "note": note,
    }


def estimate(plan: Plan, args: Mapping[str, str]) -> dict[str, Any]:
    """The calculator's answer for a plan and the numbers typed (``quantity`` for a usage
    plan; ``baseline`` and ``measured`` for an outcome plan). No figure beyond what one
    invoice may bill (catalog/limits.py) is shown: such numbers are refused."""
    if plan.billing_model is BillingModel.USAGE:
        field, answer = "quantity", usage_estimate(plan, parse_quantity(args))
    elif plan.billing_model is BillingModel.OUTCOME:
        field, answer = (
            "measured",
            outcome_estimate(
                plan, parse_measure(args, "baseline"), parse_measure(args, "measured")
            ),
        )
    else:
        raise EstimateError(
            "plan", _("A subscription has a fixed price; there is nothing to estimate.")
        )
    amounts = [answer["total_fen"], *(line["amount_fen"] or 0 for line in answer["lines"])]
    if any(abs(amount) > MAX_INVOICE_FEN for amount in amounts):
        raise EstimateError(
            field,
            _(
                "That is more than one month can be billed (at most %(max)s); enter a smaller number.",
                max=format_fen(MAX_INVOICE_FEN),
            ),
        )
    return answer
