"""The search adapter (catalog/search): the fuzzy retry and "did you mean" suggestions."""

from __future__ import annotations

import pytest

from tests.catalog.search_corpus import search, slugs


@pytest.mark.parametrize(
    ("q", "suggestion", "expected"),
    [
        ("predictiv mantenance", "predictive maintenance", "vibration-pdm"),
        ("qualty", "quality", "fabric-inspection"),
    ],
)
def test_english_typo_is_corrected(catalog_index, q, suggestion, expected):
    result = search(catalog_index, q=q)

    assert result.did_you_mean == suggestion
    assert result.fuzzy  # nothing matched exactly, so the hits come from the fuzzy retry
    assert expected in slugs(result)
    assert slugs(search(catalog_index, q=suggestion))  # the suggestion itself finds things


def test_pinyin_typo_gets_a_suggestion(catalog_index):
    result = search(catalog_index, q="zhijain")

    assert result.did_you_mean == "zhijian"


def test_chinese_fuzzy_retry_needs_only_one_word(catalog_index):
    result = search(catalog_index, q="纺织 火箭发动机")

    assert result.fuzzy
    assert "fabric-inspection" in slugs(result)
    assert result.did_you_mean is None


def test_exact_matches_are_not_fuzzy_and_get_no_suggestion(catalog_index):
    result = search(catalog_index, q="quality")

    assert not result.fuzzy
    assert result.did_you_mean is None


def test_nothing_at_all_matches(catalog_index):
    result = search(catalog_index, q="xqzvbn")

    assert result.total == 0
    assert result.hits == []
    assert all(not counts for counts in result.facets.values())
