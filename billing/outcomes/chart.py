"""The chart of an outcome-billed (效果付费) contract, drawn on the server.

The agreed baseline is a horizontal line and each reported period's measured value a point
(left axis, the KPI's unit); the charge each report causes is a bar (right axis, yuan),
priced with the same formula as the invoice (billing.outcomes.invoicing.charge_fen plus the base fee).
Bars of results still awaiting the buyer or disputed are drawn as pending. Rejected reports
are left out, also of the scales. The template turns the geometry into inline SVG (axes as
marketplace/charts.py draws them): no JavaScript and no charting library, and it prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from billing.models import Contract
from billing.outcomes.invoicing import charge_fen
from billing.outcomes.models import OutcomeReport, ReportStatus
from catalog.models import Direction
from marketplace.charts import (
    HEIGHT,
    PHONE_HEIGHT,
    PHONE_WIDTH,
    WIDTH,
    Scale,
    Tick,
    category_ticks,
    label_every,
    money_label,
    nice_fen_ceiling,
    nice_range,
    quantity_label,
)
from marketplace.money import format_fen

# Drawing area inside the SVG's viewBox (user units), as the usage chart.
LEFT, RIGHT, TOP, BOTTOM = 64, 76, 30, 40
BAR_MAX_WIDTH = 40.0  # a few reports must not become slabs
MAX_PERIOD_LABELS = 7  # "10/5–11/5" needs about a seventh of the width
PERIOD_LABEL_ROOM = 88  # units one period label needs
PENDING = (ReportStatus.SUBMITTED, ReportStatus.DISPUTED)


@dataclass(frozen=True)
class Period:
    report_id: int
    start: datetime
    end: datetime
    label: str  # short local dates, e.g. "10/5–11/5"
    status: ReportStatus
    value: Decimal  # the value billed: the operator's adjustment, else as reported
    reported: Decimal  # as the vendor reported it
    charge_fen: int  # the outcome charge plus the plan's base fee

    @property
    def adjusted(self) -> bool:
        return self.value != self.reported

    @property
    def pending(self) -> bool:
        return self.status in PENDING


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    title: str
    # The vendor's figure when the operator adjusted it: drawn faint and hollow.
    reported_y: float | None = None
    reported_title: str | None = None


@dataclass(frozen=True)
class ChargeBar:
    x: float
    y: float
    width: float
    height: float
    title: str
    pending: bool  # awaiting the buyer or disputed: may still change or vanish


@dataclass
class OutcomeChart:
    periods: list[Period]
    baseline: Decimal
    baseline_label: str
    lower_is_better: bool
    confirmed_fen: int
    pending_fen: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    baseline_y: float = 0.0
    points: list[Point] = field(default_factory=list)
    bars: list[ChargeBar] = field(default_factory=list)
    value_ticks: list[Tick] = field(default_factory=list)
    charge_ticks: list[Tick] = field(default_factory=list)
    period_ticks: list[Tick] = field(default_factory=list)

    @property
    def has_pending(self) -> bool:
        return any(period.pending for period in self.periods)

    @property
    def has_adjusted(self) -> bool:
        return any(period.adjusted for period in self.periods)


def kpi_value(value: Decimal) -> str:
    """A measured value as people read it: "42,000", "0.35"."""
    whole, _sep, fraction = format(value.normalize(), "f").partition(".")
    return f"{int(whole):,}" + (f".{fraction}" if fraction else "")


def period_label(start: datetime, end: datetime) -> str:
    return f"{format_date(start, 'M/d')}–{format_date(end, 'M/d')}"


def outcome_chart(
    session: Session, contract: Contract, *, unit: str | None = None
) -> OutcomeChart | None:
    """The chart of the contract's reports; None when there is nothing to draw (no report
    other than rejected ones, or no agreed baseline). ``unit``: the KPI's unit as the
    reader says it (the plan's own by default)."""
    if contract.baseline is None:
        return None
    reports = session.scalars(
        sa.select(OutcomeReport)
        .where(
            OutcomeReport.contract_id == contract.id,
            OutcomeReport.status != ReportStatus.REJECTED,
        )
        .order_by(OutcomeReport.period_start, OutcomeReport.id)
    )
    base_fee_fen = contract.plan.base_fee_fen
    periods = []
    for report in reports:
        value = (
            report.billable_measured if report.billable_measured is not None else report.measured
        )
        periods.append(
            Period(
                report_id=report.id,
                start=report.period_start,
                end=report.period_end,
                label=period_label(report.period_start, report.period_end),
                status=report.status,
                value=value,
                reported=report.measured,
                charge_fen=charge_fen(contract, value) + base_fee_fen,
            )
        )
    if not periods:
        return None
    chart = OutcomeChart(
        periods=periods,
        baseline=contract.baseline,
        baseline_label=kpi_value(contract.baseline),
        lower_is_better=contract.plan.direction is Direction.DECREASE,
        confirmed_fen=sum(p.charge_fen for p in periods if not p.pending),
        pending_fen=sum(p.charge_fen for p in periods if p.pending),
    )
    _lay_out(chart, unit=(contract.plan.kpi_unit or "") if unit is None else unit)
    return chart


def for_phone(chart: OutcomeChart, unit: str) -> OutcomeChart:
    """The chart's figures laid out again in a viewBox sized for a phone (as the usage
    chart's), so its text is 11 px as rendered."""
    phone = OutcomeChart(
        periods=chart.periods,
        baseline=chart.baseline,
        baseline_label=chart.baseline_label,
        lower_is_better=chart.lower_is_better,
        confirmed_fen=chart.confirmed_fen,
        pending_fen=chart.pending_fen,
        width=PHONE_WIDTH,
        height=PHONE_HEIGHT,
        right=PHONE_WIDTH - RIGHT,
        bottom=PHONE_HEIGHT - BOTTOM,
    )
    _lay_out(phone, unit)
    return phone


def _lay_out(chart: OutcomeChart, unit: str) -> None:
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    slot = plot_w / len(chart.periods)
    bar_w = min(BAR_MAX_WIDTH, max(2.0, slot * 0.5))

    values = [float(chart.baseline)]
    for period in chart.periods:
        values += [float(period.value), float(period.reported)]
    value_scale = Scale(*nice_range(min(values), max(values)), top=chart.top, bottom=chart.bottom)
    # At least ¥1 on the axis, so every step is a whole number of fen.
    top_charge = max(*(p.charge_fen for p in chart.periods), 100)
    c_max, c_step = nice_fen_ceiling(top_charge)
    charge_scale = Scale(0, c_max, c_step, top=chart.top, bottom=chart.bottom)

    def y_value(value: Decimal | float) -> float:
        return round(value_scale.y(float(value)), 1)

    chart.value_ticks = value_scale.ticks(quantity_label)
    chart.charge_ticks = charge_scale.ticks(money_label)
    chart.baseline_y = y_value(chart.baseline)

    for index, period in enumerate(chart.periods):
        centre = chart.left + slot * (index + 0.5)
        status = period.status.label
        money = format_fen(period.charge_fen)
        height = plot_h * period.charge_fen / c_max
        if period.charge_fen:
            height = max(height, 1.0)  # a charge is never invisible
        chart.bars.append(
            ChargeBar(
                x=round(centre - bar_w / 2, 1),
                y=round(chart.bottom - height, 1),
                width=round(bar_w, 1),
                height=round(height, 1),
                title=(
                    _(
                        "%(period)s: charge %(amount)s if confirmed (%(status)s)",
                        period=period.label,
                        amount=money,
                        status=status,
                    )
                    if period.pending
                    else _(
                        "%(period)s: charge %(amount)s (confirmed)",
                        period=period.label,
                        amount=money,
                    )
                ),
                pending=period.pending,
            )
        )
        value = kpi_value(period.value)
        chart.points.append(
            Point(
                x=round(centre, 1),
                y=y_value(period.value),
                title=_(
                    "%(period)s: %(value)s %(unit)s against the baseline of %(baseline)s (%(status)s)",
                    period=period.label,
                    value=value,
                    unit=unit,
                    baseline=chart.baseline_label,
                    status=status,
                ),
                reported_y=y_value(period.reported) if period.adjusted else None,
                reported_title=(
                    _(
                        "%(period)s: reported as %(reported)s %(unit)s, adjusted by the operator to %(value)s",
                        period=period.label,
                        reported=kpi_value(period.reported),
                        unit=unit,
                        value=value,
                    )
                    if period.adjusted
                    else None
                ),
            )
        )

    every = label_every(len(chart.periods), plot_w, PERIOD_LABEL_ROOM, most=MAX_PERIOD_LABELS)
    chart.period_ticks = category_ticks(
        [period.label for period in chart.periods], left=chart.left, slot=slot, every=every
    )
