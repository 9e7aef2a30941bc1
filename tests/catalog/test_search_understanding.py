"""Search that understands how SMEs ask: the thesaurus, pain points, traditional and
full-width input, loosening to some of the words; the scorer against Whoosh's own BM25F.
The search adapter with a real Whoosh index on disk (plain documents); the console edits
and the search page on the real database (test_search_words.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import whoosh.index
from whoosh import query as wq
from whoosh import scoring as whoosh_scoring

from catalog.search import SearchIndex, SearchQuery, analysis, generations
from catalog.search.documents import document_fields, schema
from catalog.search.queries import text_query
from catalog.search.scoring import Scorer
from catalog.search.taxonomy import scenarios
from catalog.search.vocabulary import (
    EMPTY,
    PainPoint,
    SynonymSet,
    Vocabulary,
    merged,
    packaged,
    packaged_pain_points,
    packaged_sets,
)
from tests.catalog.search_corpus import make_doc

CORPUS = [
    # Two listings alike but for the word: one says 质检, the other only 质量检测.
    make_doc(slug="says-zhijian", name="质检助手", summary="拍照上传，自动生成报告。"),
    make_doc(slug="says-full-term", name="质量检测助手", summary="拍照上传，自动生成报告。"),
    make_doc(
        slug="fabric",
        name="验布机视觉系统",
        summary="布匹瑕疵在线识别。",
        industries=("C17",),
        scenarios=("pm.quality",),
    ),
    make_doc(
        slug="aps",
        name="APS排程软件",
        summary="订单排程与排机，插单重排。",
        scenarios=("pm.scheduling",),
    ),
    make_doc(
        slug="boiler",
        name="锅炉燃烧优化",
        summary="降低天然气消耗，燃烧效率在线优化。",
        scenarios=("pm.energy",),
    ),
    make_doc(
        slug="meter",
        name="电表数据分析云",
        summary="峰谷电价分析，找出电费异常。",
        scenarios=("pm.energy",),
    ),
    make_doc(
        slug="vision-qc",
        name="视觉检测一体机",
        summary="工业相机识别表面划痕。",
        scenarios=("pm.quality",),
    ),
    make_doc(
        slug="vision-safety",
        name="视觉安全帽识别",
        summary="摄像头识别未戴安全帽。",
        scenarios=("pm.safety",),
    ),
    make_doc(
        slug="warehouse-traditional",
        name="倉儲管理系統",
        summary="掃碼出入庫，庫存預警。",
        scenarios=("lg.warehouse",),
    ),
    make_doc(
        slug="en-both",
        name="质量巡检",
        name_en="Quality inspection app",
        summary_en="Quality inspection on the line",
    ),
    make_doc(slug="en-quality", name="质量看板", name_en="Quality dashboard"),
    make_doc(slug="en-inspection", name="巡检记录", name_en="Inspection rounds"),
    make_doc(slug="unrelated", name="协同办公平台", summary="审批与公文流转。"),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory):
    index = SearchIndex(tmp_path_factory.mktemp("understanding") / "index")
    index.rebuild(CORPUS)
    yield index
    index.close()


def search(index: SearchIndex, q: str, **kwargs: Any):
    return index.search(SearchQuery(q=q, per_page=kwargs.pop("per_page", 20), **kwargs))


def slugs(result: Any) -> list[str]:
    return [hit.slug for hit in result.hits]


# -- the thesaurus -----------------------------------------------------------------------


def test_abbreviation_finds_a_listing_that_says_only_the_full_term(index):
    assert "says-full-term" not in slugs(index.search(SearchQuery(q="质检"), vocabulary=EMPTY))

    result = search(index, "质检")

    assert {"says-zhijian", "says-full-term", "fabric"} <= set(slugs(result))
    assert not result.fuzzy and not any(hit.partial for hit in result.hits)


def test_the_word_as_typed_ranks_above_its_synonyms(index):
    assert slugs(search(index, "质检"))[:2] == ["says-zhijian", "says-full-term"]
    found = slugs(search(index, "质量检测"))
    assert found[0] == "says-full-term"
    assert found.index("says-full-term") < found.index("says-zhijian")


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("排产", {"aps"}),  # the listing says 排程 and 排机
        ("节能", {"boiler", "meter"}),  # 降低天然气消耗, 电费
        ("节电", {"boiler", "meter"}),  # 节能, 电费
        ("QC", {"says-zhijian", "says-full-term"}),
    ],
)
def test_synonyms_of_the_same_need_meet(index, q, expected):
    assert expected <= set(slugs(search(index, q)))
    assert not expected & set(slugs(index.search(SearchQuery(q=q), vocabulary=EMPTY)))


def test_synonym_matches_are_highlighted(index):
    hit = next(h for h in search(index, "质检").hits if h.slug == "says-full-term")
    assert "<mark>" in hit.highlights["name"]


# -- pain points -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "scenario", "expected"),
    [
        ("电费太高", "pm.energy", {"boiler", "meter"}),
        ("老是漏检", "pm.quality", {"fabric", "vision-qc"}),
        ("交期总是拖", "pm.scheduling", {"aps"}),
        ("库存积压怎么办", "lg.warehouse", {"warehouse-traditional"}),
    ],
)
def test_a_problem_in_the_owners_words_finds_its_scenario(index, q, scenario, expected):
    result = search(index, q)

    assert result.scenarios == (scenario,)
    assert set(slugs(result)) == expected
    assert not result.fuzzy


def test_a_pain_point_ranks_its_scenarios_listings_higher(index):
    # Both say 视觉; the quality listing solves 漏检.
    result = search(index, "视觉 漏检")
    assert slugs(result).index("vision-qc") < slugs(result).index("vision-safety")
    assert search(index, "视觉").scenarios == ()


def test_every_packaged_pain_point_leads_to_a_known_scenario():
    known = set(scenarios())
    points = packaged_pain_points()
    assert len(points) >= 50
    assert {p.scenario for p in points} <= known
    assert len(packaged_sets()) >= 150


# -- script and width --------------------------------------------------------------------


def test_traditional_input_finds_simplified_listings(index):
    assert "says-full-term" in slugs(search(index, "質量檢測"))
    assert slugs(search(index, "排產"))[:1] == ["aps"]


def test_simplified_input_finds_a_listing_written_in_traditional(index):
    assert slugs(search(index, "仓储管理"))[:1] == ["warehouse-traditional"]
    assert "warehouse-traditional" in slugs(search(index, "库存预警"))


def test_full_width_input_is_half_width(index):
    assert slugs(search(index, "ＡＰＳ"))[:1] == ["aps"]
    assert slugs(search(index, "Ｑｕａｌｉｔｙ　ｉｎｓｐｅｃｔｉｏｎ"))[:1] == ["en-both"]


def test_an_index_built_by_an_older_analysis_is_rebuilt(tmp_path: Path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(CORPUS[:2])
    (index.location / generations.ANALYSIS).unlink()  # as an index built before folding
    assert not index.analysis_is_current()

    assert index.rebuild(CORPUS[:2], only_if_stale=True) == 2
    assert index.analysis_is_current()
    assert index.rebuild(CORPUS[:2], only_if_stale=True) is None  # nothing to do
    index.close()


# -- loosening -----------------------------------------------------------------------------


def test_two_english_words_loosen_below_the_listings_with_both(index):
    result = search(index, "quality inspection")

    # Both words: the app, and the listings of the "Quality inspection" scenario.
    strict = {"en-both", "fabric", "vision-qc"}
    assert result.strict_total == len(strict)
    assert slugs(result)[0] == "en-both"
    assert set(slugs(result)[:3]) == strict
    assert not any(hit.partial for hit in result.hits[:3])
    assert {"en-quality", "en-inspection"} <= {h.slug for h in result.hits if h.partial}
    assert all(hit.partial for hit in result.hits[3:])
    assert result.total == len(result.hits)


def test_loosening_happens_only_below_a_page(index):
    full_page = search(index, "quality inspection", per_page=2)
    assert full_page.strict_total is None and full_page.total == 3

    result = index.search(SearchQuery(q="quality inspection"), loosen=False)
    assert result.total == 3 and not any(hit.partial for hit in result.hits)


def test_chinese_words_that_never_meet_loosen_too(index):
    result = search(index, "锅炉 验布机")  # no listing has both

    assert result.strict_total == 0
    assert {"boiler", "fabric"} <= set(slugs(result))
    assert all(hit.partial for hit in result.hits)


# -- vocabulary rules ----------------------------------------------------------------------


def test_synonym_set_lines_parse_and_refuse_nonsense():
    parsed = SynonymSet.parse("质检，质量检测 | 验布、缺陷检测")
    assert parsed.same == ("质检", "质量检测") and parsed.related == ("验布", "缺陷检测")
    assert parsed.key == "质检"
    for bad in ("质检", " | 验布", "质检, 质检", "质检, ！！"):
        with pytest.raises(ValueError):
            SynonymSet.parse(bad)


def test_related_words_are_weaker_and_lead_back_only_through_their_own_set():
    words = Vocabulary((SynonymSet(("质检", "质量检测"), ("验布",)),))
    assert words.expansions("质检") == {"质量检测": 0.8, "验布": 0.5}
    assert words.expansions("验布") == {}


def test_operator_overrides_replace_or_disable_packaged_entries():
    without = merged({"质检": None}, pain_overrides={"电费太高": None})
    assert "质量检测" not in without.expansions("质检")
    assert without.pain_spans("电费太高") != packaged().pain_spans("电费太高")
    added = merged(added_pain_points=[PainPoint("机器老停", "pm.equipment")])
    assert added.pain_spans("机器老停") == [(0, 4, "pm.equipment")]


# -- the scorer against Whoosh's own BM25F -------------------------------------------------

SCORER_SAMPLE = [
    make_doc(slug=f"s{i}", name=name, summary=summary)
    for i, (name, summary) in enumerate(
        [
            ("质检系统", "质检 质检 报告"),
            ("视觉质检平台", "表面缺陷检测，质检报告自动生成，适用于纺织和五金行业的中小企业"),
            ("能耗管理", "电表 能耗 分析"),
            ("质检", "质检"),
            ("排产软件", "订单 排产 质检 联动，车间看板与报工一体，适合离散制造"),
            ("质量追溯", "批次 追溯 质检 记录"),
        ]
    )
]


@pytest.mark.parametrize(
    "q",
    [
        wq.Term("body", "质检"),
        wq.Term("name", "质检"),
        wq.Or([wq.Term("name", "质检", boost=4.0), wq.Term("body", "质检")]),
        wq.And([wq.Term("body", "质检"), wq.Term("body", "报告")]),
    ],
    ids=["body", "name", "fields", "and"],
)
def test_custom_scorer_ranks_like_whooshs_bm25f(tmp_path: Path, q: wq.Query):
    """The scorer reads Whoosh's postings and field lengths and mirrors its BM25F; an
    upgrade of whoosh-reloaded that changes either fails here (pyproject pins 2.7.x)."""
    index = SearchIndex(tmp_path / "index")
    index.rebuild(SCORER_SAMPLE)
    with index._searcher() as (name, searcher):
        ours = Scorer(searcher.reader(), index._snapshot(name, searcher)).scores(q)
        theirs = {
            hit.docnum: hit.score
            for hit in searcher.search(q, limit=None)
            if searcher.weighting.__class__ is whoosh_scoring.BM25F
        }
    index.close()
    assert theirs, "Whoosh's default weighting is not BM25F any more"
    assert sorted(ours, key=lambda d: (-ours[d], d)) == sorted(
        theirs, key=lambda d: (-theirs[d], d)
    )
    for docnum, score in theirs.items():
        assert ours[docnum] == pytest.approx(score, rel=0.02)


def test_text_query_without_a_vocabulary_is_the_words_as_typed(tmp_path: Path):
    ix = whoosh.index.create_in(str(tmp_path), schema())
    writer = ix.writer()
    writer.add_document(**document_fields(CORPUS[0]))
    writer.commit()
    with ix.searcher() as searcher:
        plain = text_query(searcher.reader(), None, "质检", vocabulary=None)  # type: ignore[arg-type]
    assert plain is not None and plain.scenarios == ()
    assert all(isinstance(leaf, wq.Term) for leaf in plain.strict.leaves())


def test_traditional_folding_can_be_switched_off_for_the_benchmark(monkeypatch):
    monkeypatch.setattr(analysis, "fold_traditional", False)
    assert analysis.normalize("質量") == "質量"
    monkeypatch.setattr(analysis, "fold_traditional", True)
    assert analysis.normalize("質量ＡＢ") == "质量ab"
