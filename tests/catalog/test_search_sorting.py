"""The search adapter (catalog/search): sort orders and pages."""

from __future__ import annotations

from catalog.search import SearchIndex, SearchQuery
from tests.catalog.search_corpus import BY_SLUG, CORPUS, make_doc, search, slugs


def test_sort_by_price_puts_unpriced_solutions_last(catalog_index):
    ascending = search(catalog_index, sort="price_asc")
    descending = search(catalog_index, sort="price_desc")

    for result, reverse in ((ascending, False), (descending, True)):
        prices = [BY_SLUG[s].monthly_fen for s in slugs(result)]
        priced = [p for p in prices if p is not None]
        assert prices[: len(priced)] == sorted(priced, reverse=reverse)
        assert all(p is None for p in prices[len(priced) :])
        assert len(priced) < len(prices)


def test_sort_newest_and_empty_query_relevance_are_by_publication(catalog_index):
    newest = slugs(search(catalog_index, sort="newest"))
    expected = [d.slug for d in sorted(CORPUS, key=lambda d: d.published_at, reverse=True)]

    assert newest == expected
    assert slugs(search(catalog_index)) == expected


def test_sort_by_rating_then_rating_count(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(
        [
            make_doc(slug="unrated"),
            make_doc(slug="good-few", rating=4.5, rating_count=3),
            make_doc(slug="good-many", rating=4.5, rating_count=90),
            make_doc(slug="best", rating=4.9, rating_count=1),
        ]
    )

    assert slugs(search(index, sort="rating")) == ["best", "good-many", "good-few", "unrated"]


def test_sort_applies_within_text_matches(catalog_index):
    result = search(catalog_index, q="算力", sort="price_asc")

    assert slugs(result) == ["edge-inference", "compute-pack", "gpu-rental"]


def test_pages_split_the_results_and_a_page_past_the_end_is_empty(catalog_index):
    first = catalog_index.search(SearchQuery(per_page=15, page=1))
    third = catalog_index.search(SearchQuery(per_page=15, page=3))
    beyond = catalog_index.search(SearchQuery(per_page=15, page=9))

    assert len(first.hits) == 15 and len(third.hits) == len(CORPUS) - 30
    assert not set(slugs(first)) & set(slugs(third))
    assert beyond.hits == [] and beyond.total == len(CORPUS) and beyond.page == 9
    assert first.pages == 3
