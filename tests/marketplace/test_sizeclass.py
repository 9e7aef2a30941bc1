"""Size classes at the MIIT 2011 boundaries (DESIGN.md section 2)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.sizeclass import SizeClass, classify

YUAN = 100
MILLION = 1_000_000 * YUAN


@pytest.mark.parametrize(
    ("employees", "revenue_fen", "expected"),
    [
        (19, 3 * MILLION, SizeClass.MICRO),  # one employee short of small
        (20, 3 * MILLION, SizeClass.SMALL),
        (20, 3 * MILLION - YUAN, SizeClass.MICRO),  # 2,999,999 yuan
        (20, 3 * MILLION - 1, SizeClass.MICRO),  # one fen short
        (299, 20 * MILLION, SizeClass.SMALL),
        (300, 20 * MILLION, SizeClass.MEDIUM),
        (300, 20 * MILLION - YUAN, SizeClass.SMALL),
        (999, 400 * MILLION, SizeClass.MEDIUM),
        (1000, 400 * MILLION, SizeClass.LARGE),
        (1000, 400 * MILLION - YUAN, SizeClass.MEDIUM),
        (5000, 1 * MILLION, SizeClass.MICRO),  # many people, little revenue: both must hold
        (0, 0, SizeClass.MICRO),
    ],
)
def test_boundaries(employees: int, revenue_fen: int, expected: SizeClass) -> None:
    assert classify(employees, revenue_fen) is expected


ORDER = [SizeClass.MICRO, SizeClass.SMALL, SizeClass.MEDIUM, SizeClass.LARGE]


@given(st.integers(0, 5000), st.integers(0, 10**12), st.integers(0, 100), st.integers(0, 10**10))
def test_more_people_or_revenue_never_lowers_the_class(
    employees: int, revenue: int, more_people: int, more_revenue: int
) -> None:
    before = ORDER.index(classify(employees, revenue))
    after = ORDER.index(classify(employees + more_people, revenue + more_revenue))
    assert after >= before


def test_a_province_can_change_the_thresholds(app) -> None:
    app.config["SIZE_CLASS_THRESHOLDS"] = [("small", 10, 1 * MILLION)]
    with app.app_context():
        assert classify(10, 1 * MILLION) is SizeClass.SMALL
        assert classify(20, 3 * MILLION) is SizeClass.SMALL
    assert classify(10, 1 * MILLION) is SizeClass.MICRO  # outside the app: MIIT defaults
