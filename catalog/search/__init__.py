"""Full-text search over published solutions (Whoosh + jieba + pypinyin).

The database is the source of truth; this index is derived from it. Callers turn
published solutions into :class:`SolutionDoc` records and call :meth:`SearchIndex.upsert`
/ :meth:`SearchIndex.delete` after commit (on :class:`IndexBusy` or
:class:`SearchUnavailable`, mark the rows for the next reindex) and
:meth:`SearchIndex.rebuild` from the reindex command.
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
