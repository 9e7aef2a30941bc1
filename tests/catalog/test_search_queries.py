"""The search adapter (catalog/search): SearchQuery validation, request arguments, and
queries that are plain text whatever characters they hold."""

from __future__ import annotations

import pytest

from catalog.search import InvalidQuery, SearchQuery
from tests.catalog.search_corpus import CORPUS, search, slugs


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort": "cheapest"}, "sort"),
        ({"per_page": 0}, "per_page"),
        ({"per_page": 101}, "per_page"),
        ({"page": 0}, "page"),
        ({"page": "2"}, "page"),
        ({"delivery": "cloud"}, "delivery"),
        ({"billing_model": "free"}, "billing_model"),
        ({"voucher_kind": "cash"}, "voucher_kind"),
        ({"price_band": "cheap"}, "price_band"),
        ({"industry": "X99"}, "industry"),
        ({"industry": "c13"}, "industry"),
        ({"scenario": "pm.unknown"}, "scenario"),
        ({"max_monthly_fen": -1}, "max_monthly_fen"),
        ({"max_monthly_fen": True}, "max_monthly_fen"),
        ({"q": "质" * 201}, "q"),
    ],
)
def test_invalid_query_names_the_field(kwargs, field):
    with pytest.raises(InvalidQuery) as caught:
        SearchQuery(**kwargs)

    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_query_from_request_arguments():
    query = SearchQuery.from_args(
        {"q": " 质检 ", "page": "2", "per_page": "50", "delivery": "", "max_monthly_fen": "200000"}
    )

    assert query == SearchQuery(q="质检", page=2, per_page=50, max_monthly_fen=200_000)
    with pytest.raises(InvalidQuery) as caught:
        SearchQuery.from_args({"page": "two"})
    assert caught.value.field == "page"


def test_blank_filters_mean_no_filter(catalog_index):
    assert search(catalog_index, delivery=" ", q="  ").total == len(CORPUS)


def test_punctuation_and_query_syntax_are_just_text(catalog_index):
    # (typed, the same words without the syntax): never a parse error, and the same hits.
    cases = [
        ('质检 AND "', "质检"),  # an operator and an unclosed quote
        ("能耗)", "能耗"),  # an unbalanced bracket
        ("(能耗)", "能耗"),
        ('"能耗"', "能耗"),  # not a phrase query
        ("能耗^5", "能耗"),  # not a boost
        ("质检*", "质检"),  # not a prefix wildcard
        ("*:*", ""),  # no words at all: a blank search, which lists everything
        ("~!@#", ""),
        ("title:质检", "title 质检"),  # not a field: "title" is a word like any other
        ("name:能耗", "name 能耗"),  # "name" is a field of the index, and still a word
    ]
    for typed, plain in cases:
        result = search(catalog_index, q=typed)
        expected = search(catalog_index, q=plain)
        assert slugs(result) == slugs(expected), typed
        assert not result.fuzzy, typed
        # The default search (thesaurus and loosening on) takes the text the same way.
        default = catalog_index.search(SearchQuery(q=typed))
        assert slugs(default) == slugs(catalog_index.search(SearchQuery(q=plain))), typed

    energy = {"energy-meter", "carbon-footprint", "air-compressor-saving", "kiln-energy"}
    assert energy <= set(slugs(search(catalog_index, q="能耗)")))  # the listings that say 能耗
    assert search(catalog_index, q="~!@#").total == len(CORPUS)
    # Every word of a query must match and no listing says "name": nothing is found,
    # where a field query would have found the listings named 能耗.
    assert search(catalog_index, q="name:能耗").total == 0
