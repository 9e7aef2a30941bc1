"""The search adapter (catalog/search): highlighted, escaped and cut excerpts."""

from __future__ import annotations

from catalog.search import SearchIndex
from tests.catalog.search_corpus import make_doc, search


def test_highlights_mark_matches_in_name_and_summary(catalog_index):
    hit = search(catalog_index, q="预测性维护").hits[1]

    assert hit.slug == "cnc-health"
    assert hit.highlights["name"] == "数控机床健康管理"
    assert "<mark>预测性维护</mark>" in hit.highlights["summary"]


def test_injected_markup_comes_out_escaped(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(
                slug="evil",
                name='<script>alert("x")</script>视觉质检',
                summary='<img src=x onerror="alert(1)">质检报告',
                name_en="<b>quality</b>",
            )
        ]
    )

    hit = search(index, q="质检 quality").hits[0]

    assert hit.highlights["name"] == (
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;视觉<mark>质检</mark>"
    )
    assert hit.highlights["summary"].startswith("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;")
    assert hit.highlights["name_en"] == "&lt;b&gt;<mark>quality</mark>&lt;/b&gt;"
    for html in hit.highlights.values():
        assert "<script" not in html and "<img" not in html and "<b>" not in html


def test_long_summaries_are_cut_around_the_first_match(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild([make_doc(slug="long", summary="很长的介绍。" * 60 + "最后提到能耗。")])

    html = search(index, q="能耗").hits[0].highlights["summary"]

    assert html.startswith("…") and "<mark>能耗</mark>" in html
    assert len(html) < 200
