"""The axes of the charts drawn on the server (billing/metering/chart.py, billing/outcomes/chart.py,
vouchers/charts.py): round scales, their ticks and labels, and which category labels fit.

Each chart module computes its geometry in SVG user units and a template turns it into
inline SVG: no JavaScript and no charting library, and it prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from marketplace.money import format_fen

# A chart's viewBox (user units).
WIDTH, HEIGHT = 760, 280
# The same chart for a phone: 340 units drawn in about 358 px, so 11-unit text stays 11 px.
PHONE_WIDTH, PHONE_HEIGHT = 340, 240


@dataclass(frozen=True)
class Tick:
    position: float  # y on a value axis, x on a category axis
    label: str


def nice_ceiling(value: float, steps: int = 4) -> tuple[float, float]:
    """An axis maximum at or above ``value`` split into ``steps`` round steps (1, 2, 2.5, 5)."""
    if value <= 0:
        return float(steps), 1.0
    raw = value / steps
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step * steps >= value:
            return step * steps, step
    return 10 * magnitude * steps, 10 * magnitude  # pragma: no cover - the loop ends at 10


def nice_fen_ceiling(value_fen: int) -> tuple[int, int]:
    """:func:`nice_ceiling` of an amount, in whole fen: (axis maximum, step)."""
    axis_max, step = nice_ceiling(float(value_fen))
    return round(axis_max), round(step)


def nice_range(low: float, high: float, steps: int = 4) -> tuple[float, float, float]:
    """An axis from at or below ``low`` to at or above ``high`` in round steps, with some
    room at both ends; never below zero for values that are not."""
    span = high - low
    pad = span * 0.1 if span > 0 else (abs(high) * 0.05 or 1.0)
    bottom = max(low - pad, 0.0) if low >= 0 else low - pad
    _ceiling, step = nice_ceiling(high + pad - bottom, steps)
    # round() first: 38000 / 1000 may come out as 37.99999999.
    first = math.floor(round(bottom / step, 9)) * step
    last = math.ceil(round((high + pad) / step, 9)) * step
    return first, last, step


@dataclass(frozen=True)
class Scale:
    """A value axis: ``low`` drawn at y = ``bottom``, ``high`` at y = ``top`` (SVG's y grows
    downwards), a tick every ``step``."""

    low: float
    high: float
    step: float
    top: float
    bottom: float

    def y(self, value: Any) -> float:
        """Where ``value`` is drawn (not rounded)."""
        return self.bottom - (self.bottom - self.top) * (value - self.low) / (self.high - self.low)

    def ticks(self, label: Callable[[Any], str]) -> list[Tick]:
        """A tick at every step from ``low`` to ``high``, placed to a tenth of a unit."""
        values = (
            self.low + self.step * i for i in range(round((self.high - self.low) / self.step) + 1)
        )
        return [Tick(round(self.y(value), 1), label(value)) for value in values]


def quantity_label(value: float) -> str:
    """A quantity on an axis: "3.5", "12,500", "25k", "1.5M"."""
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M"
    if value >= 10_000:
        return f"{value / 1_000:g}k"
    return f"{value:,.10g}"


def money_label(fen: int) -> str:
    """An amount on an axis, without ".00" when it is whole yuan."""
    text = format_fen(fen)
    return text[:-3] if text.endswith(".00") else text


def label_every(
    count: int, room: int, label_room: int, *, fewest: int = 1, most: int | None = None
) -> int:
    """Every how many of ``count`` categories one is labelled, so that labels needing
    ``label_room`` units each fit ``room`` units (at least ``fewest`` labels, at most
    ``most``)."""
    fits = room // label_room
    if most is not None:
        fits = min(most, fits)
    return max(1, math.ceil(count / max(fewest, fits)))


def category_ticks(labels: Sequence[str], *, left: float, slot: float, every: int) -> list[Tick]:
    """A tick in the middle of every ``every``-th slot of ``slot`` units from ``left``."""
    return [
        Tick(round(left + slot * (i + 0.5), 1), label)
        for i, label in enumerate(labels)
        if i % every == 0
    ]
