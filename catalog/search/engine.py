"""Running a :class:`SearchQuery` against one generation of the index.

The text query picks and scores the matching documents (catalog/search/scoring.py), with
the thesaurus and pain points of a vocabulary (catalog/search/vocabulary.py), and is
loosened to any of its words when every word finds less than a page;
filters, facet counts, sorting and paging then run on the generation's snapshot of stored
values kept as integer bitsets (catalog/search/snapshot.py), because Whoosh's own faceting
would re-read every matching document for each of the six facets. The text's matches are
found as a bitset too (Scorer.matches); scores are computed only for the documents that
pass the filters, when the results are ranked by relevance, or for the page shown
otherwise (at 100,000 listings a word with its synonyms matches tens of thousands).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from itertools import repeat
from operator import neg
from typing import Any

from whoosh import query as wq

from catalog.search.analysis import ascii_words
from catalog.search.highlight import MatchedTerms, highlight
from catalog.search.model import FACETS, Hit, SearchQuery, SearchResult
from catalog.search.queries import correction, matched_terms, text_query
from catalog.search.scoring import Scorer
from catalog.search.snapshot import FrequencyCache, Snapshot, docnums_of, mask_of
from catalog.search.vocabulary import Vocabulary

FEW_HITS = 3  # below this many hits a query with Latin words gets a "did you mean"
SUMMARY_SNIPPET_CHARS = 160


def _first(
    query: SearchQuery,
    snapshot: Snapshot,
    scores: dict[int, float] | None,
    partial: set[int],
    docnums: list[int],
    wanted: int,
) -> list[int]:
    """The first ``wanted`` of ``docnums`` in the order of the query's sort: by relevance
    (score, then newest), or by the sort's key with newest first breaking ties; listings
    that match every word before partial ones, whatever the sort. Keys are tuples built by
    zip and map, which compare without a Python call per document."""
    if query.sort == "relevance" and scores is not None:
        keys: Iterable[tuple[Any, ...]] = zip(
            map(neg, map(scores.get, docnums, repeat(0.0))),
            map(snapshot.newest_rank.__getitem__, docnums),
            docnums,
            strict=True,
        )
    else:  # newest, and relevance without text
        sort = "newest" if query.sort == "relevance" else query.sort
        # Sorting every document once pays when many are to be ordered; a few are ordered
        # by their keys (a write starts a new generation, which sorts again).
        positions = snapshot.positions(sort, compute=len(docnums) * 8 > snapshot.size)
        if positions is not None:
            keys = zip(map(positions.__getitem__, docnums), docnums, strict=True)
        else:
            keys = zip(map(snapshot.sort_key(sort), docnums), docnums, strict=True)
    if partial:
        keys = ((docnum in partial, *key) for docnum, key in zip(docnums, keys, strict=True))
    chosen = heapq.nsmallest(wanted, keys) if wanted < len(docnums) // 2 else sorted(keys)[:wanted]
    return [key[-1] for key in chosen]


def execute(
    reader: Any,
    snapshot: Snapshot,
    query: SearchQuery,
    vocabulary: Vocabulary | None = None,
    *,
    loosen: bool = True,
) -> SearchResult:
    """Search one generation: ``reader`` and the ``snapshot`` of its stored values, with
    the thesaurus and pain points of ``vocabulary``. With ``loosen``, a query of several
    words whose strict matches (every word) fill less than a page gets the listings that
    match only some of its words below them (``Hit.partial``)."""
    reader = FrequencyCache(reader, snapshot.frequencies)
    scorer = Scorer(reader, snapshot)
    # The documents matching the text (deleted ones too, until masked by snapshot.live);
    # scores are computed at the end, for the documents that pass the filters only.
    matches: int | None = None
    scored: wq.Query | None = None  # whose scores rank the strict matches
    used: wq.Query | None = None  # whose terms are highlighted
    fuzzy = False
    strict_count = 0
    text_mask = snapshot.live
    understood = text_query(reader, snapshot, query.q, vocabulary=vocabulary) if query.q else None
    if understood is not None:
        used = scored = understood.strict
        matches = scorer.matches(scored)
        strict_count = matches.bit_count()
        if not matches and not (loosen and understood.loose is not None):
            # Nothing in the whole index matches the text, whatever the filters, and there
            # are not several words to loosen to: retry fuzzily. (Deciding on the
            # unfiltered match keeps facet counts consistent.)
            retry = text_query(reader, snapshot, query.q, fuzzy=True)
            if retry is not None:
                used = scored = retry.strict
                matches = scorer.matches(scored)
                fuzzy = bool(matches)
        text_mask = matches & snapshot.live

    base = text_mask
    if query.max_monthly_fen is not None:
        base &= snapshot.price_cap(query.max_monthly_fen)
    selected = {
        facet: snapshot.bits[facet].get(value, 0) for facet, value in query.filters().items()
    }
    strict_mask = base
    for bits in selected.values():
        strict_mask &= bits
    strict_total = strict_mask.bit_count()

    extra = 0  # documents matching only some of the words (loosened)
    loose = understood.loose if understood is not None and loosen and not fuzzy else None
    if loose is not None and matches is not None and strict_total < query.per_page:
        extra = scorer.matches(loose) & ~matches
        if not extra and not matches:
            # Not even one of the words matches: the fuzzy retry, as for a single word.
            retry = text_query(reader, snapshot, query.q, fuzzy=True)
            if retry is not None:
                used = scored = retry.strict
                matches = scorer.matches(scored)
                fuzzy = bool(matches)
                base = matches & snapshot.live
                if query.max_monthly_fen is not None:
                    base &= snapshot.price_cap(query.max_monthly_fen)
        if extra:
            extra_mask = extra & snapshot.live
            if query.max_monthly_fen is not None:
                extra_mask &= snapshot.price_cap(query.max_monthly_fen)
            base |= extra_mask
            used = loose

    facets: dict[str, dict[str, int]] = {}
    for facet in FACETS:
        others = base
        for other, bits in selected.items():
            if other != facet:
                others &= bits
        counts = {
            v: c for v, bits in snapshot.bits[facet].items() if (c := (others & bits).bit_count())
        }
        chosen = getattr(query, facet)
        if chosen is not None:
            counts.setdefault(chosen, 0)
        facets[facet] = dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))

    result_mask = base
    for bits in selected.values():
        result_mask &= bits
    total = result_mask.bit_count()

    did_you_mean = None
    if query.q and (fuzzy or strict_total < FEW_HITS) and ascii_words(query.q):
        suggestion = correction(reader, snapshot, query.q)
        if suggestion:
            better = text_query(reader, snapshot, suggestion, vocabulary=vocabulary)
            if better is not None and scorer.matches(better.strict).bit_count() > strict_count:
                did_you_mean = suggestion

    def scores_of(mask: int) -> dict[int, float] | None:
        """The scores of the documents in ``mask``: of the strict query, or of the loose
        one for those matching only some words."""
        if scored is None or matches is None:  # both are set together
            return None
        found = scorer.scores_in(scored, mask & matches)
        if extra and loose is not None and mask & extra:
            found.update(scorer.scores_in(loose, mask & extra))
        return found

    start = (query.page - 1) * query.per_page
    hits: list[Hit] = []
    if start < total:
        wanted = start + query.per_page
        partial = set(docnums_of(result_mask & extra)) if extra else set()
        by_relevance = query.sort == "relevance" and scored is not None
        scores = scores_of(result_mask) if by_relevance else None
        ordered = _first(query, snapshot, scores, partial, docnums_of(result_mask), wanted)
        page = ordered[start:wanted]
        if not by_relevance:
            scores = scores_of(mask_of(page, snapshot.size))
        terms = matched_terms(reader, used) if used is not None else MatchedTerms()
        for docnum in page:
            hits.append(
                _hit(
                    reader.stored_fields(docnum)["meta"],
                    (scores or {}).get(docnum, 0.0),
                    terms,
                    partial=docnum in partial,
                )
            )
    return SearchResult(
        total=total,
        page=query.page,
        per_page=query.per_page,
        hits=hits,
        facets=facets,
        did_you_mean=did_you_mean,
        fuzzy=fuzzy,
        scenarios=understood.scenarios if understood is not None and not fuzzy else (),
        strict_total=strict_total if extra else None,
    )


def _hit(meta: dict[str, Any], score: float, terms: MatchedTerms, *, partial: bool) -> Hit:
    highlights = {
        "name": highlight(meta["name"], terms),
        "summary": highlight(meta["summary"], terms, SUMMARY_SNIPPET_CHARS),
    }
    if meta["name_en"]:
        highlights["name_en"] = highlight(meta["name_en"], terms)
    if meta["summary_en"]:
        highlights["summary_en"] = highlight(meta["summary_en"], terms, SUMMARY_SNIPPET_CHARS)
    return Hit(
        id=meta["id"],
        slug=meta["slug"],
        score=round(score, 4),
        highlights=highlights,
        partial=partial,
    )
