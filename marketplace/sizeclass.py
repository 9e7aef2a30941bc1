"""Enterprise size class for industry (MIIT 2011, 工信部联企业〔2011〕300号).

The thresholds are one table, tested from the largest class down; a province that uses
other figures sets ``SIZE_CLASS_THRESHOLDS`` in its configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from marketplace.enums import LabeledEnum

YUAN = 100  # fen per yuan


class SizeClass(LabeledEnum):
    LARGE = "large", _l("Large enterprise")
    MEDIUM = "medium", _l("Medium enterprise")
    SMALL = "small", _l("Small enterprise")
    MICRO = "micro", _l("Micro enterprise")


# (class, minimum employees, minimum annual revenue in fen); both minimums must be met.
MIIT_2011_INDUSTRY: tuple[tuple[str, int, int], ...] = (
    ("large", 1000, 400_000_000 * YUAN),
    ("medium", 300, 20_000_000 * YUAN),
    ("small", 20, 3_000_000 * YUAN),
)


def thresholds() -> Sequence[tuple[str, int, int]]:
    if has_app_context() and current_app.config.get("SIZE_CLASS_THRESHOLDS"):
        return current_app.config["SIZE_CLASS_THRESHOLDS"]
    return MIIT_2011_INDUSTRY


def classify(employees: int, annual_revenue_fen: int) -> SizeClass:
    """The size class of an industrial enterprise; anything below every row is micro."""
    for name, min_employees, min_revenue_fen in thresholds():
        if employees >= min_employees and annual_revenue_fen >= min_revenue_fen:
            return SizeClass(name)
    return SizeClass.MICRO
