"""The search adapter (catalog/search): filters, facet counts and price bands."""

from __future__ import annotations

import pytest

from catalog.search import FACETS, SolutionDoc, price_band
from tests.catalog.search_corpus import CORPUS, search, slugs

FACET_ATTRIBUTE = {
    "industry": "industries",
    "scenario": "scenarios",
    "delivery": "delivery",
    "billing_model": "billing_models",
    "voucher_kind": "voucher_kinds",
}


def _values(doc: SolutionDoc, facet: str) -> tuple[str, ...]:
    if facet == "price_band":
        return (price_band(doc.monthly_fen),)
    value = getattr(doc, FACET_ATTRIBUTE[facet])
    return (value,) if isinstance(value, str) else value


@pytest.mark.parametrize(
    "base",
    [
        {},
        {"q": "质检"},
        {"q": "管理"},
        {"q": "zhineng"},
        {"delivery": "saas"},
        {"q": "系统", "voucher_kind": "cloud", "max_monthly_fen": 200_000},
        {"scenario": "pm.quality", "price_band": "500-2000"},
        {"industry": "C34", "billing_model": "subscription", "sort": "price_asc"},
    ],
)
def test_every_facet_count_equals_the_total_of_that_filtered_search(catalog_index, base):
    result = search(catalog_index, **base)

    every_value = {facet: {v for doc in CORPUS for v in _values(doc, facet)} for facet in FACETS}
    for facet in FACETS:
        for value in every_value[facet]:
            narrowed = search(catalog_index, **{**base, facet: value})
            assert result.facets[facet].get(value, 0) == narrowed.total, (facet, value)


def test_facet_counts_leave_out_the_facets_own_filter(catalog_index):
    result = search(catalog_index, scenario="pm.energy")

    assert result.total == 4
    assert result.facets["scenario"]["pm.energy"] == 4
    assert result.facets["scenario"]["pm.quality"] == 4  # what choosing it instead would give
    assert result.facets["delivery"] == {"saas": 3, "edge": 1}  # within pm.energy


def test_selected_value_is_listed_even_without_matches(catalog_index):
    result = search(catalog_index, q="算力", delivery="service")

    assert result.total == 0
    assert result.facets["delivery"]["service"] == 0
    assert result.facets["delivery"]["maas"] == 2


@pytest.mark.parametrize(
    ("facet", "value"),
    [
        ("industry", "C34"),
        ("scenario", "pm.quality"),
        ("delivery", "edge"),
        ("billing_model", "outcome"),
        ("voucher_kind", "compute"),
        ("price_band", "none"),
        ("price_band", "gte10000"),
        ("price_band", "lt500"),
    ],
)
def test_filters_are_exact(catalog_index, facet, value):
    result = search(catalog_index, **{facet: value})

    expected = {doc.slug for doc in CORPUS if value in _values(doc, facet)}
    assert expected and set(slugs(result)) == expected
    assert result.total == len(expected)


def test_max_monthly_price_excludes_unpriced_solutions(catalog_index):
    result = search(catalog_index, max_monthly_fen=50_000)

    expected = {d.slug for d in CORPUS if d.monthly_fen is not None and d.monthly_fen <= 50_000}
    assert set(slugs(result)) == expected
    assert "office-approval" in expected  # 99 yuan
    assert "gpu-rental" not in expected  # usage only, no monthly price


@pytest.mark.parametrize(
    ("fen", "band"),
    [
        (None, "none"),
        (0, "lt500"),
        (49_999, "lt500"),
        (50_000, "500-2000"),
        (199_999, "500-2000"),
        (200_000, "2000-10000"),
        (999_999, "2000-10000"),
        (1_000_000, "gte10000"),
    ],
)
def test_price_bands(fen, band):
    assert price_band(fen) == band
