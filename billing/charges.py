"""Charges: from a plan and what happened in a period to invoice lines (DESIGN.md section 4).

The price formulas are the catalog's (catalog/pricing.py); this module turns them into
dated, described lines. Each line is rounded half-up to whole fen once. A figure beyond the
documented maxima (catalog/limits.py) raises ``LimitExceeded`` here, before anything is
written: the billing run records it as that contract's billing error.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l

from billing.invoices import LineDraft
from catalog.limits import MAX_INVOICE_FEN, MAX_PERIOD_QUANTITY, LimitExceeded, check_amount
from catalog.models import Plan
from catalog.pricing import parse_tiers, usage_lines
from marketplace.money import format_fen

ONE = Decimal(1)


def _name(plan: Plan) -> str:
    return plan.name


def subscription_line(plan: Plan, start: datetime, end: datetime) -> LineDraft:
    assert plan.price_fen is not None
    return LineDraft(
        kind="subscription",
        description=str(_l("%(plan)s subscription", plan=_name(plan))),
        quantity=ONE,
        unit_fen=Decimal(plan.price_fen),
        amount_fen=plan.price_fen,
        vat_rate_bp=plan.vat_rate_bp,
        period_start=start,
        period_end=end,
        plan_id=plan.id,
    )


def usage_period_lines(
    plan: Plan,
    quantity: Decimal,
    start: datetime,
    end: datetime,
    *,
    spend_cap_fen: int | None = None,
) -> list[LineDraft]:
    """Base fee, one line per tier used, and a negative line for what the spend cap waives."""
    if quantity > MAX_PERIOD_QUANTITY:
        raise LimitExceeded(
            "quantity_too_large",
            f"{quantity} units in the period is beyond the maximum of {MAX_PERIOD_QUANTITY}",
        )
    lines: list[LineDraft] = []
    if plan.base_fee_fen:
        lines.append(
            LineDraft(
                kind="base_fee",
                description=str(_l("%(plan)s base fee", plan=_name(plan))),
                quantity=ONE,
                unit_fen=Decimal(plan.base_fee_fen),
                amount_fen=plan.base_fee_fen,
                vat_rate_bp=plan.vat_rate_bp,
                period_start=start,
                period_end=end,
                plan_id=plan.id,
            )
        )
    tiers = parse_tiers(plan.tiers or [])
    mode = plan.tier_mode.value if plan.tier_mode else "graduated"
    for line in usage_lines(tiers, mode, quantity, free_units=plan.free_units):
        lines.append(
            LineDraft(
                kind="usage",
                description=str(
                    _l(
                        "%(meter)s: %(quantity)s %(unit)s at %(price)s fen (tier %(tier)d)",
                        meter=plan.meter,
                        quantity=format(Decimal(line.quantity).normalize(), "f"),
                        unit=plan.unit or "",
                        price=format(line.unit_fen.normalize(), "f"),
                        tier=line.tier + 1,
                    )
                ),
                quantity=Decimal(line.quantity),
                unit_fen=line.unit_fen,
                amount_fen=check_amount(line.amount_fen),
                vat_rate_bp=plan.vat_rate_bp,
                period_start=start,
                period_end=end,
                plan_id=plan.id,
                details={
                    "tier": line.tier,
                    "meter": plan.meter,
                    "free_units": plan.free_units,
                    "total_quantity": str(quantity),
                },
            )
        )
    total = check_amount(sum(line.amount_fen for line in lines), MAX_INVOICE_FEN)
    if spend_cap_fen is not None and total > spend_cap_fen:
        waived = total - spend_cap_fen
        lines.append(
            LineDraft(
                kind="spend_cap",
                description=str(
                    _l(
                        "Above your spend cap of %(cap)s: not charged",
                        cap=format_fen(spend_cap_fen),
                    )
                ),
                quantity=ONE,
                unit_fen=Decimal(-waived),
                amount_fen=-waived,
                vat_rate_bp=plan.vat_rate_bp,
                period_start=start,
                period_end=end,
                plan_id=plan.id,
                details={"spend_cap_fen": spend_cap_fen},
            )
        )
    return lines


def usage_estimate_fen(
    plan: Plan,
    quantity: Decimal,
    start: datetime,
    end: datetime,
    *,
    spend_cap_fen: int | None = None,
) -> int:
    """The charge so far for a period's usage (base fee and cap included)."""
    lines = usage_period_lines(plan, quantity, start, end, spend_cap_fen=spend_cap_fen)
    return sum(line.amount_fen for line in lines)
