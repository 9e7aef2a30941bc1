"""The effectiveness dashboard's charts (使用效能), drawn on the server like
billing/metering/chart.py: this module computes the geometry (axes from marketplace/charts.py),
templates/vouchers/_charts.html turns it into inline SVG. No JavaScript, no charting library,
and it prints.

Three shapes: the budget month by month as stacked columns (reserved, redeemed, released at
each month's end, under the budget line), the subsidy redeemed in each month as columns on
a scale of its own, and horizontal bars for rankings (enterprises by industry and district,
top vendors).

Scales follow the figures, not the budget: a ¥2,000,000 budget drawn to scale would flatten
¥25,000 of use into a hairline, so a budget far above the columns is stated in words beside
the chart instead of stretching its axis (``budget_off_scale``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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
)
from marketplace.money import format_fen
from vouchers.stats import MonthFigures

LEFT, RIGHT, TOP, BOTTOM = 72, 16, 24, 40
BAR_ROW = 26  # height of one horizontal bar's row
BAR_LABEL = 220  # width kept for the labels left of horizontal bars
BAR_VALUE = 110  # width kept for the values right of them
# Each chart is also laid out for a phone (``chart.phone``, marketplace.charts.PHONE_WIDTH);
# the page shows the one sized for the screen (site.css).
PHONE_BAR_LABEL, PHONE_BAR_VALUE = 124, 84
MONTH_LABEL_ROOM = 56  # units one "2026-01" label needs
# The budget line is drawn when it is at most this many times the tallest column.
BUDGET_ON_SCALE = 4

# The three parts of the budget, bottom to top, with their colours.
BUDGET_PARTS = (
    ("redeemed", "#2563eb"),
    ("reserved", "#93c5fd"),
    ("released", "#d1d5db"),
)


@dataclass(frozen=True)
class Segment:
    part: str  # "redeemed", "reserved" or "released"
    colour: str
    x: float
    y: float
    width: float
    height: float
    month: str
    value_fen: int


@dataclass
class BudgetChart:
    months: list[MonthFigures]
    budget_fen: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    segments: list[Segment] = field(default_factory=list)
    value_ticks: list[Tick] = field(default_factory=list)
    month_ticks: list[Tick] = field(default_factory=list)
    budget_y: float = 0.0
    budget_off_scale: bool = False  # the budget is stated in words, not drawn
    phone: BudgetChart | None = None

    @property
    def is_empty(self) -> bool:
        return not self.months

    @property
    def parts(self) -> tuple[tuple[str, str], ...]:
        """(part, colour) for the legend."""
        return BUDGET_PARTS


def budget_chart(
    months: Sequence[MonthFigures],
    budget_fen: int,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    with_phone: bool = True,
) -> BudgetChart:
    """Columns per month: what is redeemed, still reserved and released at its end."""
    chart = BudgetChart(
        list(months),
        budget_fen,
        width=width,
        height=height,
        right=width - RIGHT,
        bottom=height - BOTTOM,
    )
    if with_phone:
        chart.phone = budget_chart(
            months, budget_fen, width=PHONE_WIDTH, height=PHONE_HEIGHT, with_phone=False
        )
    tallest = max([100, *(_column_total(m) for m in months)])
    chart.budget_off_scale = bool(months) and budget_fen > tallest * BUDGET_ON_SCALE
    top_value = tallest if chart.budget_off_scale else max(budget_fen, tallest)
    axis_max, step = nice_fen_ceiling(top_value)
    scale = Scale(0, axis_max, step, top=chart.top, bottom=chart.bottom)

    def y(value: int) -> float:
        return round(scale.y(value), 1)

    chart.value_ticks = scale.ticks(money_label)
    chart.budget_y = y(budget_fen)
    if not months:
        return chart
    slot = (chart.right - chart.left) / len(months)
    bar_w = min(56.0, max(6.0, slot * 0.6))
    for index, month in enumerate(months):
        x = round(chart.left + slot * index + (slot - bar_w) / 2, 1)
        base = 0
        values = {
            "redeemed": month.redeemed_total_fen,
            "reserved": month.reserved_total_fen,
            "released": month.released_total_fen,
        }
        for part, colour in BUDGET_PARTS:
            value = values[part]
            if value <= 0:
                continue
            top_y, bottom_y = y(base + value), y(base)
            chart.segments.append(
                Segment(
                    part,
                    colour,
                    x,
                    top_y,
                    round(bar_w, 1),
                    round(max(1.0, bottom_y - top_y), 1),
                    month.month,
                    value,
                )
            )
            base += value
    every = label_every(len(months), chart.right - chart.left, MONTH_LABEL_ROOM, most=12)
    chart.month_ticks = category_ticks(
        [month.month for month in months], left=chart.left, slot=slot, every=every
    )
    return chart


def _column_total(month: MonthFigures) -> int:
    return month.reserved_total_fen + month.redeemed_total_fen + month.released_total_fen


@dataclass(frozen=True)
class HBar:
    label: str
    value_label: str
    y: float
    width: float
    title: str


@dataclass
class BarChart:
    bars: list[HBar]
    width: int = WIDTH
    height: int = 0
    left: int = BAR_LABEL
    right: int = WIDTH - BAR_VALUE
    row: int = BAR_ROW
    bar_height: int = BAR_ROW - 8
    label_chars: int = 24  # longer labels are cut with "…"
    phone: BarChart | None = None

    @property
    def is_empty(self) -> bool:
        return not self.bars


def bar_chart(items: Sequence[tuple[str, int, str]], *, phone: bool = False) -> BarChart:
    """Horizontal bars, longest first as given: (label, value, value as shown)."""
    if phone:
        chart = BarChart(
            [],
            width=PHONE_WIDTH,
            left=PHONE_BAR_LABEL,
            right=PHONE_WIDTH - PHONE_BAR_VALUE,
            label_chars=9,
        )
    else:
        chart = BarChart([])
        chart.phone = bar_chart(items, phone=True)
    chart.height = max(1, len(items)) * BAR_ROW + 8
    largest = max([value for _label, value, _shown in items] or [0])
    span = chart.right - chart.left
    for index, (label, value, shown) in enumerate(items):
        width = span * value / largest if largest else 0.0
        chart.bars.append(
            HBar(
                label=label,
                value_label=shown,
                y=4 + index * BAR_ROW,
                width=round(max(1.0, width) if value else 0.0, 1),
                title=f"{label}: {shown}",
            )
        )
    return chart


@dataclass(frozen=True)
class Column:
    label: str  # the month
    value_fen: int
    value_label: str
    x: float
    y: float
    width: float
    height: float


@dataclass
class ColumnChart:
    """Amounts as columns on their own scale (negative months, a net reversal, draw as
    nothing above the axis and keep their value label)."""

    columns: list[Column]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM
    value_ticks: list[Tick] = field(default_factory=list)
    label_ticks: list[Tick] = field(default_factory=list)
    phone: ColumnChart | None = None

    @property
    def is_empty(self) -> bool:
        return not self.columns


def column_chart(
    points: Sequence[tuple[str, int]],
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    with_phone: bool = True,
) -> ColumnChart:
    """One column per (label, fen), the axis fitted to the largest value."""
    chart = ColumnChart([], width=width, height=height, right=width - RIGHT, bottom=height - BOTTOM)
    if with_phone:
        chart.phone = column_chart(points, width=PHONE_WIDTH, height=PHONE_HEIGHT, with_phone=False)
    axis_max, step = nice_fen_ceiling(max([100, *(v for _l, v in points)]))
    scale = Scale(0, axis_max, step, top=chart.top, bottom=chart.bottom)

    def y(value: int) -> float:
        return round(scale.y(max(value, 0)), 1)

    chart.value_ticks = scale.ticks(money_label)
    if not points:
        return chart
    slot = (chart.right - chart.left) / len(points)
    bar_w = min(56.0, max(6.0, slot * 0.6))
    for index, (label, value) in enumerate(points):
        top_y = y(value)
        chart.columns.append(
            Column(
                label,
                value,
                format_fen(value),
                round(chart.left + slot * index + (slot - bar_w) / 2, 1),
                top_y,
                round(bar_w, 1),
                round(max(1.0, chart.bottom - top_y), 1) if value > 0 else 0.0,
            )
        )
    every = label_every(len(points), chart.right - chart.left, MONTH_LABEL_ROOM, most=12)
    chart.label_ticks = category_ticks(
        [label for label, _value in points], left=chart.left, slot=slot, every=every
    )
    return chart
