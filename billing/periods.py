"""Billing periods: months (or years) counted from the contract's anchor.

A period starting on the 31st ends on the last day of a shorter month and returns to the
31st when the month allows, as Stripe's billing anchors do. Times are UTC; a period is
[start, end).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from marketplace.money import round_half_up


def add_months(anchor: datetime, months: int) -> datetime:
    """``anchor`` moved by whole months, the day clamped to the month's length."""
    month_index = anchor.month - 1 + months
    year = anchor.year + month_index // 12
    month = month_index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def months_per_period(interval: str) -> int:
    return 12 if interval == "year" else 1


def period_bounds(
    anchor: datetime, index: int, interval: str = "month"
) -> tuple[datetime, datetime]:
    """The ``index``-th period (0-based) of a contract anchored at ``anchor``."""
    step = months_per_period(interval)
    return add_months(anchor, index * step), add_months(anchor, (index + 1) * step)


def period_index(anchor: datetime, moment: datetime, interval: str = "month") -> int:
    """Which period ``moment`` falls in (0 for the first)."""
    step = months_per_period(interval)
    guess = ((moment.year - anchor.year) * 12 + moment.month - anchor.month) // step
    while add_months(anchor, guess * step) > moment:
        guess -= 1
    while add_months(anchor, (guess + 1) * step) <= moment:
        guess += 1
    return guess


def prorate(amount_fen: int, start: datetime, end: datetime, at: datetime) -> int:
    """The part of ``amount_fen`` for [at, end) of the period [start, end), by whole days."""
    total_days = (end.date() - start.date()).days
    remaining = (end.date() - max(at, start).date()).days
    remaining = min(max(remaining, 0), total_days)
    if total_days <= 0:
        return 0
    return round_half_up(Decimal(amount_fen) * remaining / total_days)


@dataclass(frozen=True)
class Proration:
    """What switching plans at ``at`` invoices at once: the unused days of the old plan
    credited, the rest of the period charged at the new price (nothing during a trial,
    where the new price applies from the trial's end)."""

    credit_fen: int
    charge_fen: int
    days_left: int
    days_total: int
    trial: bool = False

    @property
    def net_fen(self) -> int:
        return self.charge_fen - self.credit_fen


def proration(
    old_fen: int, new_fen: int, start: datetime, end: datetime, at: datetime, *, trial: bool
) -> Proration:
    days_total = (end.date() - start.date()).days
    days_left = min(max((end.date() - max(at, start).date()).days, 0), days_total)
    if trial:
        return Proration(0, 0, days_left, days_total, trial=True)
    return Proration(
        prorate(old_fen, start, end, at), prorate(new_fen, start, end, at), days_left, days_total
    )
