"""The search adapter (catalog/search): pinyin syllables and initials find Chinese words."""

from __future__ import annotations

import pytest

from tests.catalog.search_corpus import search, slugs

QUALITY = {"fabric-inspection", "pcb-aoi", "food-trace", "quality-inspector-app"}
NAMED_QUALITY = {"fabric-inspection", "quality-inspector-app"}  # 质检 in the name


@pytest.mark.parametrize("q", ["zhijian", "zhi jian", "ZhiJian"])
def test_pinyin_full_syllables_find_zhijian(catalog_index, q):
    result = search(catalog_index, q=q)

    assert set(slugs(result)) >= QUALITY
    assert result.hits[0].slug in NAMED_QUALITY
    assert "<mark>质检</mark>" in result.hits[0].highlights["name"]


def test_pinyin_initials_find_zhijian(catalog_index):
    result = search(catalog_index, q="zj")

    assert set(slugs(result)) >= QUALITY
    # Initials are ambiguous: 足迹 (zuji) is "zj" as well, and that listing is found too.
    assert "carbon-footprint" in slugs(result)
    assert set(slugs(result)[:3]) & NAMED_QUALITY


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("nenghao", "energy-meter"),
        ("paichan", "aps-lite"),
        ("suanli", "gpu-rental"),
        ("weihu", "vibration-pdm"),
    ],
)
def test_pinyin_finds_other_scenarios(catalog_index, q, expected):
    assert expected in slugs(search(catalog_index, q=q))
