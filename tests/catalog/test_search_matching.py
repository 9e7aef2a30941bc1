"""The search adapter (catalog/search): how Chinese, English and mixed words are cut and
matched, and which field ranks first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from catalog.search import SearchIndex
from catalog.search.taxonomy import industries
from tests.catalog.search_corpus import BY_SLUG, make_doc, search, slugs


@pytest.mark.parametrize(
    ("q", "expected", "top"),
    [
        (
            "质检",
            {"fabric-inspection", "pcb-aoi", "food-trace", "quality-inspector-app"},
            {"fabric-inspection", "quality-inspector-app"},
        ),
        ("预测性维护", {"vibration-pdm", "cnc-health"}, {"vibration-pdm"}),
        (
            "能耗",
            {"energy-meter", "carbon-footprint", "air-compressor-saving", "kiln-energy"},
            {"energy-meter"},
        ),
        (
            "排产",
            {"aps-lite", "garment-scheduling", "injection-mes", "mes-basic"},
            {"aps-lite", "garment-scheduling"},
        ),
        (
            "算力",
            {"gpu-rental", "compute-pack", "edge-inference"},
            {"gpu-rental", "compute-pack", "edge-inference"},
        ),
        (
            "智能体",
            {"production-agent", "purchase-agent", "service-agent"},
            {"production-agent", "purchase-agent", "service-agent"},
        ),
    ],
)
def test_chinese_queries_find_the_right_products(catalog_index, q, expected, top):
    result = search(catalog_index, q=q)

    assert expected <= set(slugs(result))
    assert result.hits[0].slug in top  # a listing with the word in its name ranks first
    assert not result.fuzzy


def test_every_chinese_hit_contains_the_query_word(catalog_index):
    result = search(catalog_index, q="能耗")

    for slug in slugs(result):
        doc = BY_SLUG[slug]
        assert "能耗" in doc.name + doc.summary + doc.description


def test_two_character_word_is_found_inside_a_longer_word(catalog_index):
    # "质检员" is cut as one word; "质检" must still find the listing that only says that.
    assert "质检" not in BY_SLUG["quality-inspector-app"].name.replace("质检员", "")

    assert "quality-inspector-app" in slugs(search(catalog_index, q="质检"))


def test_all_words_of_a_chinese_query_must_match(catalog_index):
    result = search(catalog_index, q="纺织 质检")

    assert slugs(result) == ["fabric-inspection"]


def test_name_outranks_summary_and_description(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(slug="in-description", name="生产管理软件", description="包含能耗统计报表。"),
            make_doc(slug="in-summary", name="生产管理软件", summary="顺带统计能耗。"),
            make_doc(slug="in-name", name="能耗看板"),
        ]
    )

    assert slugs(search(index, q="能耗")) == ["in-name", "in-summary", "in-description"]


def test_scenario_names_are_searchable(catalog_index):
    # None of these listings says 仓储管理 in its own words; the scenario name does.
    result = search(catalog_index, q="仓储管理")

    assert set(slugs(result)) == {"wms-cloud", "erp-small"}


def test_industry_names_are_searchable(catalog_index):
    if not industries():
        pytest.skip("marketplace/data/industries.csv is not installed yet")

    result = search(catalog_index, q="纺织")

    assert {"fabric-inspection"} <= set(slugs(result))


def test_english_query_is_stemmed(catalog_index):
    result = search(catalog_index, q="predicting failures")

    assert slugs(result)[0] == "vibration-pdm"
    assert "<mark>Predict</mark>" in result.hits[0].highlights["summary_en"]


def test_latin_words_in_chinese_text_are_found(catalog_index):
    assert slugs(search(catalog_index, q="APS")) == ["aps-lite"]
    assert {"gpu-rental"} <= set(slugs(search(catalog_index, q="gpu")))


def test_mixed_query_searches_every_language(catalog_index):
    assert slugs(search(catalog_index, q="PCB 质检")) == ["pcb-aoi"]


def test_jieba_loads_quietly_and_without_warnings(tmp_path):
    script = (
        "import sys; from pathlib import Path; from datetime import datetime, timezone\n"
        "from catalog.search import SearchIndex, SearchQuery, SolutionDoc\n"
        "index = SearchIndex(Path(sys.argv[1]))\n"
        "index.rebuild([SolutionDoc(id=1, slug='a', name='视觉质检',"
        " published_at=datetime.now(timezone.utc))])\n"
        "assert index.search(SearchQuery(q='zj')).total == 1\n"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and done.stdout == ""
