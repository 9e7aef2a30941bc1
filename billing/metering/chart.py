"""The usage chart of a pay-after-use contract's current period, drawn on the server.

Daily quantities are bars (left axis); the estimated charge so far is a line (right axis),
computed with the same rating as the invoice, so its last point is the figure the buyer
will be invoiced (spend cap included). The template turns the geometry into inline SVG
(axes as marketplace/charts.py draws them): no JavaScript and no charting library, and it
prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import format_date
from sqlalchemy.orm import Session

from billing.charges import usage_estimate_fen
from billing.models import Contract, UsageEvent
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
    nice_ceiling,
    nice_fen_ceiling,
    quantity_label,
)

DAY = timedelta(days=1)
# Drawing area inside the SVG's viewBox (user units).
LEFT, RIGHT, TOP, BOTTOM = 64, 76, 30, 40
DATE_LABEL_ROOM = 62  # units one date label needs, so labels never overlap
# The spend cap is drawn as a line only when it is near the charge; a cap far above it
# would flatten the charge line, so it is then only named above the chart.
CAP_IN_SCALE_FACTOR = 2


@dataclass(frozen=True)
class Day:
    start: datetime
    label: str  # short local date, e.g. "1/15"
    quantity: Decimal
    charge_fen: int | None  # cumulative estimate; None for days still to come


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class UsageChart:
    days: list[Day]
    quantity: Decimal
    charge_fen: int
    spend_cap_fen: int | None
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    bars: list[Bar] = field(default_factory=list)
    line_points: str = ""
    last_point: tuple[float, float] | None = None
    quantity_ticks: list[Tick] = field(default_factory=list)
    charge_ticks: list[Tick] = field(default_factory=list)
    date_ticks: list[Tick] = field(default_factory=list)
    cap_y: float | None = None
    cap_above: bool = False  # the cap is far above the charge: named, not drawn
    today_x: float | None = None

    @property
    def has_usage(self) -> bool:
        return self.quantity > 0


def daily_quantities(
    session: Session, contract: Contract, start: datetime, count: int
) -> list[Decimal]:
    """Quantities per 24-hour slice of the period from ``start``, in one grouped query."""
    bounds = [start + DAY * (i + 1) for i in range(count)]
    bucket = sa.case(
        *[(UsageEvent.occurred_at < bound, index) for index, bound in enumerate(bounds[:-1])],
        else_=count - 1,
    )
    events = (
        sa.select(bucket.label("day"), UsageEvent.quantity.label("quantity"))
        .where(
            UsageEvent.contract_id == contract.id,
            UsageEvent.occurred_at >= start,
            UsageEvent.occurred_at < contract.current_period_end,
        )
        .subquery()
    )
    rows = session.execute(
        sa.select(events.c.day, sa.func.sum(events.c.quantity)).group_by(events.c.day)
    )
    quantities = [Decimal(0)] * count
    for day, total in rows:
        quantities[int(day)] = Decimal(str(total or 0))
    return quantities


def usage_chart(session: Session, contract: Contract, now: datetime) -> UsageChart:
    plan = contract.plan
    start, end = contract.current_period_start, contract.current_period_end
    count = max(1, math.ceil((end - start) / DAY))
    quantities = daily_quantities(session, contract, start, count)
    days: list[Day] = []
    running = Decimal(0)
    for index, quantity in enumerate(quantities):
        day_start = start + DAY * index
        running += quantity
        charge = (
            usage_estimate_fen(plan, running, start, end, spend_cap_fen=contract.spend_cap_fen)
            if day_start <= now
            else None
        )
        days.append(Day(day_start, format_date(day_start, "M/d"), quantity, charge))
    past = [d.charge_fen for d in days if d.charge_fen is not None]
    chart = UsageChart(
        days=days,
        quantity=running,
        charge_fen=past[-1] if past else 0,
        spend_cap_fen=contract.spend_cap_fen,
    )
    _lay_out(chart, unit=plan.unit or "")
    return chart


def for_phone(chart: UsageChart, unit: str) -> UsageChart:
    """The chart's figures laid out again in a viewBox sized for a phone."""
    phone = UsageChart(
        days=chart.days,
        quantity=chart.quantity,
        charge_fen=chart.charge_fen,
        spend_cap_fen=chart.spend_cap_fen,
        width=PHONE_WIDTH,
        height=PHONE_HEIGHT,
        right=PHONE_WIDTH - RIGHT,
        bottom=PHONE_HEIGHT - BOTTOM,
    )
    _lay_out(phone, unit)
    return phone


def _lay_out(chart: UsageChart, unit: str) -> None:
    plot_w = chart.right - chart.left
    plot_h = chart.bottom - chart.top
    slot = plot_w / len(chart.days)
    bar_w = max(2.0, slot * 0.66)

    q_max, q_step = nice_ceiling(float(max(d.quantity for d in chart.days)))
    charges = [d.charge_fen for d in chart.days if d.charge_fen is not None]
    # At least ¥1 on the axis, so every step is a whole number of fen.
    top_charge = max([*charges, 100])
    cap = chart.spend_cap_fen
    if cap and cap <= top_charge * CAP_IN_SCALE_FACTOR:
        top_charge = max(top_charge, cap)
    c_max, c_step = nice_fen_ceiling(top_charge)
    quantity_scale = Scale(0, q_max, q_step, top=chart.top, bottom=chart.bottom)
    charge_scale = Scale(0, c_max, c_step, top=chart.top, bottom=chart.bottom)
    chart.quantity_ticks = quantity_scale.ticks(quantity_label)
    chart.charge_ticks = charge_scale.ticks(money_label)
    points = []
    for index, day in enumerate(chart.days):
        x = chart.left + slot * index + (slot - bar_w) / 2
        if day.quantity > 0:
            height = max(1.0, plot_h * float(day.quantity) / q_max)
            chart.bars.append(
                Bar(
                    round(x, 1),
                    round(chart.bottom - height, 1),
                    round(bar_w, 1),
                    round(height, 1),
                    f"{day.label}: {quantity_label(float(day.quantity))} {unit}",
                )
            )
        if day.charge_fen is not None:
            centre = chart.left + slot * (index + 0.5)
            points.append((round(centre, 1), round(charge_scale.y(day.charge_fen), 1)))
    chart.line_points = " ".join(f"{x},{y}" for x, y in points)
    chart.last_point = points[-1] if points else None
    if cap and cap <= c_max:
        chart.cap_y = round(charge_scale.y(cap), 1)
    elif cap:
        chart.cap_above = True
    if len(points) < len(chart.days):
        chart.today_x = round(chart.left + slot * len(points), 1)
    every = label_every(len(chart.days), plot_w, DATE_LABEL_ROOM, fewest=2)
    chart.date_ticks = category_ticks(
        [day.label for day in chart.days], left=chart.left, slot=slot, every=every
    )
