"""Invoice lines in plain words, in the reader's language.

A line's stored ``description`` was worded once, in the language of whoever closed the
period, and for usage it names the meter's key (``inspected_images``). People read instead:
the solution's name, what the line is for, the quantity in the meter's unit label (张,
"images"), the unit price in 元 with every digit a fractional fen price has (¥0.015), and
the tier in words ("第 2 档：10,001 张及以上"). Everything is worded here when read, from the
line's kind and ``details`` and the plan it was rated with (its English fields when the
reader reads English and the plan has them), so the English page of an invoice closed on a
Chinese page reads English. Only a line of a kind not known here (none is made today) keeps
its stored description.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from billing.models import Invoice, InvoiceLine
from catalog.models import Plan


@dataclass(frozen=True)
class LineWords:
    title: str  # what the line is for, e.g. "AI 质检 · 按量计费：用量"
    quantity: str  # "1,500 张"
    unit_price: str  # "¥0.015 / 张"
    tier: str  # "第 2 档：10,001 张及以上", or ""


def yuan(fen: Decimal | int) -> str:
    """Fen (possibly fractional) as yuan with at least two decimals: 1.5 -> "¥0.015"."""
    value = Decimal(str(fen))
    sign = "-" if value < 0 else ""
    whole, _sep, fraction = format(abs(value).scaleb(-2).normalize(), "f").partition(".")
    return f"{sign}¥{int(whole):,}.{fraction.ljust(2, '0')}"


def count(quantity: Decimal | int) -> str:
    """A quantity with thousands separators and no trailing zeros: 1500.000 -> "1,500"."""
    value = Decimal(str(quantity)).normalize()
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return format(value, ",f")


def unit_label(plan: Plan | None, english: bool) -> str:
    """The meter's unit as people say it, never the meter's key."""
    if plan is None:
        return ""
    if english and plan.unit_en:
        return plan.unit_en
    return plan.unit or ""


def kpi_unit_label(plan: Plan, english: bool) -> str:
    """The unit of a pay-for-results plan's KPI as people say it."""
    if english and plan.kpi_unit_en:
        return plan.kpi_unit_en
    return plan.kpi_unit or ""


def tier_words(plan: Plan, tier: int, unit: str) -> str:
    """ "Tier 2: 1,001–10,000 images", from the plan's ladder (bounds count the whole usage)."""
    tiers = plan.tiers or []
    if not 0 <= tier < len(tiers):
        return ""
    low = 1 if tier == 0 else int(tiers[tier - 1]["up_to"]) + 1
    high = tiers[tier]["up_to"]
    if high is None:
        return _("Tier %(n)d: %(low)s %(unit)s and above", n=tier + 1, low=count(low), unit=unit)
    return _(
        "Tier %(n)d: %(low)s–%(high)s %(unit)s",
        n=tier + 1,
        low=count(low),
        high=count(int(high)),
        unit=unit,
    )


def line_words(
    line: InvoiceLine, plan: Plan | None, solution: str, *, english: bool, corrects: str = ""
) -> LineWords:
    """``corrects``: the number of the invoice a credit note or correction corrects."""
    unit = unit_label(plan, english)
    plan_name = ""
    if plan is not None:
        plan_name = plan.name_en if english and plan.name_en else plan.name
    per_unit = yuan(line.unit_fen)
    if line.kind in ("outcome", "outcome_correction") and plan is not None and plan.kpi_unit:
        kpi_unit = kpi_unit_label(plan, english)
        if line.kind == "outcome":
            title = _(
                "%(solution)s · %(plan)s: results achieved", solution=solution, plan=plan_name
            )
        else:
            title = _(
                "%(solution)s · %(plan)s: correction of the results on invoice %(number)s",
                solution=solution,
                plan=plan_name,
                number=corrects or "—",
            )
        return LineWords(
            title=title,
            quantity=f"{count(line.quantity)} {kpi_unit}",
            unit_price=f"{per_unit} / {kpi_unit}",
            tier="",
        )
    if line.kind == "usage" and plan is not None:
        title = _("%(solution)s · %(plan)s: usage", solution=solution, plan=plan_name)
        tier = tier_words(plan, int(line.details.get("tier", -1)), unit)
        if plan.free_units:
            free = _("first %(count)s %(unit)s free", count=count(plan.free_units), unit=unit)
            tier = f"{tier} · {free}" if tier else free
        return LineWords(
            title=title,
            quantity=f"{count(line.quantity)} {unit}".strip(),
            unit_price=f"{per_unit} / {unit}" if unit else per_unit,
            tier=tier,
        )
    cap = line.details.get("spend_cap_fen")
    titles = {
        "subscription": _(
            "%(solution)s · %(plan)s: subscription", solution=solution, plan=plan_name
        ),
        "proration_credit": _(
            "%(solution)s · %(plan)s: unused time of the period, credited",
            solution=solution,
            plan=plan_name,
        ),
        "proration_charge": _(
            "%(solution)s · %(plan)s: rest of the period", solution=solution, plan=plan_name
        ),
        "spend_cap": _(
            "%(solution)s · %(plan)s: above your spend cap of %(cap)s, not charged",
            solution=solution,
            plan=plan_name,
            cap=yuan(int(cap)),
        )
        if cap is not None
        else _(
            "%(solution)s · %(plan)s: above your spend cap, not charged",
            solution=solution,
            plan=plan_name,
        ),
        "service_credit": _(
            "%(solution)s · %(plan)s: service credit for %(days)s days of outage",
            solution=solution,
            plan=plan_name,
            days=line.details.get("outage_days", "?"),
        ),
        "base_fee": _("%(solution)s · %(plan)s: base fee", solution=solution, plan=plan_name),
        "outcome": _(
            "%(solution)s · %(plan)s: results achieved", solution=solution, plan=plan_name
        ),
    }
    title = titles.get(line.kind) if plan is not None else None
    return LineWords(
        title=title or line.description,
        quantity=count(line.quantity),
        unit_price=per_unit,
        tier="",
    )


def solution_name(invoice: Invoice, *, english: bool) -> str:
    """The solution's published name (English when read in English and it has one)."""
    contract = invoice.contract
    revision = contract.solution.published or contract.plan.revision
    return revision.name_en if english and revision.name_en else revision.name


def invoice_words(session: Session, invoice: Invoice, *, english: bool) -> list[LineWords]:
    """Every line of an invoice in words (the plans read in one query)."""
    plan_ids = {line.plan_id for line in invoice.lines if line.plan_id is not None}
    plans = (
        {plan.id: plan for plan in session.scalars(sa.select(Plan).where(Plan.id.in_(plan_ids)))}
        if plan_ids
        else {}
    )
    solution = solution_name(invoice, english=english)
    corrects = ""
    if invoice.corrects_invoice_id is not None:
        original = session.get(Invoice, invoice.corrects_invoice_id)
        corrects = original.number if original is not None else ""
    return [
        line_words(line, plans.get(line.plan_id or 0), solution, english=english, corrects=corrects)
        for line in invoice.lines
    ]
