"""Full-text search over published solutions: Whoosh with jieba and pypinyin.

The database is the source of truth and this index is derived from it. Callers turn
published solutions into :class:`SolutionDoc` records and, after commit, call
:meth:`SearchIndex.upsert` / :meth:`SearchIndex.delete` (on :class:`IndexBusy` or
:class:`SearchUnavailable`, mark the rows for the next reindex), and
:meth:`SearchIndex.rebuild` from the reindex command. :meth:`SearchIndex.search` takes a
validated :class:`SearchQuery` (:class:`InvalidQuery` names a bad field) and returns a
:class:`SearchResult`.

Inside: ``model`` (these types), ``index`` (the SearchIndex: searchers, bounded writers,
rebuild-and-swap), ``generations`` (the directories on disk and the write journal),
``documents`` (schema and what is indexed per solution), ``analysis`` (jieba, stemming,
pinyin), ``queries`` (user text to a query; "did you mean"), ``scoring`` (matching and
BM25), ``snapshot`` (stored values as bitsets for filters, facets and sorts), ``engine``
(one search from query to result), ``highlight``, ``taxonomy`` (scenario and industry
names).
"""

from catalog.search.index import SearchIndex
from catalog.search.model import (
    BILLING_MODELS,
    DELIVERIES,
    FACETS,
    MAX_PER_PAGE,
    PRICE_BAND_NAMES,
    PRICE_BANDS,
    SORTS,
    VOUCHER_KINDS,
    Hit,
    IndexBusy,
    InvalidQuery,
    SearchError,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    SolutionDoc,
    price_band,
)

__all__ = [
    "BILLING_MODELS",
    "DELIVERIES",
    "FACETS",
    "MAX_PER_PAGE",
    "PRICE_BANDS",
    "PRICE_BAND_NAMES",
    "SORTS",
    "VOUCHER_KINDS",
    "Hit",
    "IndexBusy",
    "InvalidQuery",
    "SearchError",
    "SearchIndex",
    "SearchQuery",
    "SearchResult",
    "SearchUnavailable",
    "SolutionDoc",
    "price_band",
]
