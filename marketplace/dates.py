"""Dates typed by people, and the instants stored for them.

A date-only field (a voucher program's application window, a settlement period) means
that calendar day in China (Asia/Shanghai), both ends inclusive. It is stored as an
instant: a first day as the local midnight that starts it (:func:`day_start`), a last day
as the local midnight that ends it (:func:`day_end`, the next day's start, so a window
reads ``start <= t < end``). Shown, the stored instants give back the days typed:
:func:`first_day` and :func:`last_day` invert them, whatever the reader's time zone. A
last day of 2027-06-30 is stored as 2027-06-30T16:00:00Z and shown as 2027年6月30日.

Instants and days from outside are accepted between 2000 and 2100 only: beyond, date
arithmetic and the conversion to UTC overflow (year 1 at +01:00 is before year 1 in UTC),
and no program or settlement means them. :class:`Moment` and :class:`Day` are the API's
fields for them; forms check days with :func:`day_in_range`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask_babel import lazy_gettext as _l

CHINA = ZoneInfo("Asia/Shanghai")
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2100, 12, 31)

OUT_OF_RANGE_DAY = _l("Enter a date between 2000 and 2100.")
OUT_OF_RANGE_MOMENT = _l("Enter a time between 2000 and 2100.")


def day_start(day: date) -> datetime:
    """The instant a first day starts: its midnight in China."""
    return datetime.combine(day, time(), tzinfo=CHINA)


def day_end(day: date) -> datetime:
    """The instant a last day ends (exclusive): the next midnight in China."""
    return day_start(day + timedelta(days=1))


def first_day(start: datetime) -> date:
    """The day a stored start falls on, in China: first_day(day_start(d)) == d."""
    return start.astimezone(CHINA).date()


def last_day(end: datetime) -> date:
    """The last day before a stored (exclusive) end, in China: last_day(day_end(d)) == d."""
    return (end.astimezone(CHINA) - timedelta(microseconds=1)).date()


def day_in_range(day: date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


def moment_in_range(moment: datetime) -> bool:
    """An aware instant within the days above, seen in China (False when it cannot even
    be converted)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return False
    try:
        return day_in_range(moment.astimezone(CHINA).date())
    except (OverflowError, ValueError):
        return False


class Moment(ma.fields.AwareDateTime):
    """An ISO 8601 time with an offset, between 2000 and 2100 (422 beyond)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not moment_in_range(moment):
            raise ma.ValidationError(str(OUT_OF_RANGE_MOMENT))
        return moment.astimezone(UTC)


class Day(ma.fields.Date):
    """An ISO 8601 calendar day (China), between 2000 and 2100 (422 beyond)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        if not day_in_range(day):
            raise ma.ValidationError(str(OUT_OF_RANGE_DAY))
        return day
