"""The index schema, and how a :class:`SearchQuery` runs against one Whoosh searcher.

Whoosh finds and scores the documents matching the text; everything after that (filters,
facet counts, sorting, paging) runs on a per-generation snapshot of the stored values kept
as integer bitsets, because counting 80 facet values through Whoosh's own faceting would
re-read every matching document per facet.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from whoosh import query as wq
from whoosh.analysis import SpaceSeparatedTokenizer
from whoosh.codec.base import Automata
from whoosh.fields import ID, KEYWORD, STORED, TEXT, Schema
from whoosh.searching import Searcher

from catalog.search import taxonomy
from catalog.search.analysis import (
    ascii_words,
    bigrams,
    chinese_index_tokens,
    english_analyzer,
    english_stems,
    normalize,
    pinyin_tokens,
    query_parts,
)
from catalog.search.highlight import MatchedTerms, highlight
from catalog.search.model import FACETS, Hit, SearchQuery, SearchResult, SolutionDoc, price_band

# Field -> query-time boost. The name is a field of its own; the rest of the text shares a
# "body" field in which the summary is written twice, so name > summary > description and
# each query word costs two postings lookups instead of five (a union of Whoosh matchers
# per word is what makes an AND of common words slow).
CHINESE_FIELDS = {"name": 4.0, "body": 1.0}
ENGLISH_FIELDS = {"name_en": 4.0, "body_en": 1.0}
PINYIN_FIELDS = {"pinyin_name": 3.0, "pinyin_text": 1.0}

FEW_HITS = 3  # below this many hits an ASCII query gets a "did you mean"
SUMMARY_SNIPPET_CHARS = 160


def schema() -> Schema:
    words = SpaceSeparatedTokenizer()  # Chinese and pinyin arrive already tokenized
    return Schema(
        id=ID(unique=True),
        meta=STORED,  # the whole SolutionDoc, for results and for catching up a rebuild
        **{name: TEXT(analyzer=words, phrase=False) for name in (*CHINESE_FIELDS, *PINYIN_FIELDS)},
        **{name: TEXT(analyzer=english_analyzer, phrase=False) for name in ENGLISH_FIELDS},
        # Unstemmed English words, for corrections. Scorable only because Whoosh 2.7 stats a
        # file for every posting of a field without a length column while committing.
        spell=KEYWORD(scorable=True),
    )


@lru_cache(maxsize=512)
def _tag_tokens(name_zh: str) -> tuple[str, str]:
    """Chinese and pinyin tokens of a scenario or industry name (few, and often repeated)."""
    return " ".join(chinese_index_tokens(name_zh)), " ".join(pinyin_tokens(name_zh))


def document_fields(doc: SolutionDoc) -> dict[str, Any]:
    scenarios = taxonomy.scenarios()
    industries = taxonomy.industries()
    tags = [scenarios[c] for c in doc.scenarios if c in scenarios]
    tags += [industries[c] for c in doc.industries if c in industries]
    tag_tokens = [_tag_tokens(tag.name_zh) for tag in tags]
    taxonomy_en = " ".join(tag.name_en for tag in tags)
    # pinyin of the scenarios only: industry names would make "zj" match every 制造业
    scenario_pinyin = [
        pinyin for (_zh, pinyin), tag in zip(tag_tokens, tags, strict=True) if tag.code in scenarios
    ]
    english_words = ascii_words(f"{doc.name_en} {doc.summary_en} {taxonomy_en}")
    summary = " ".join(chinese_index_tokens(doc.summary))
    body = [
        summary,
        summary,
        *(zh for zh, _pinyin in tag_tokens),
        " ".join(chinese_index_tokens(doc.vendor_name)),
        " ".join(chinese_index_tokens(doc.description)),
    ]
    return {
        "id": str(doc.id),
        "meta": doc.to_dict(),
        "name": " ".join(chinese_index_tokens(doc.name)),
        "body": " ".join(body),
        "name_en": doc.name_en,
        "body_en": f"{doc.summary_en} {doc.summary_en} {taxonomy_en}",
        "pinyin_name": " ".join(pinyin_tokens(doc.name)),
        "pinyin_text": " ".join([*pinyin_tokens(doc.summary, full=False), *scenario_pinyin]),
        "spell": " ".join(sorted({w for w in english_words if len(w) > 2 and w.isalpha()})),
    }


# -- snapshot of stored values, per index generation --------------------------------------


def mask_of(docnums: Iterable[int], size: int) -> int:
    buffer = bytearray((size >> 3) + 1)
    for docnum in docnums:
        buffer[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(buffer, "little")


_BYTE_BITS = [tuple(i for i in range(8) if byte >> i & 1) for byte in range(256)]


def docnums_of(mask: int) -> list[int]:
    result: list[int] = []
    for index, byte in enumerate(mask.to_bytes((mask.bit_length() + 7) // 8, "little")):
        if byte:
            base = index << 3
            result.extend(base + bit for bit in _BYTE_BITS[byte])
    return result


def _facet_values(meta: dict[str, Any]) -> Iterable[tuple[str, Iterable[str]]]:
    yield "industry", meta["industries"]
    yield "scenario", meta["scenarios"]
    yield "delivery", (meta["delivery"],)
    yield "billing_model", meta["billing_models"]
    yield "voucher_kind", meta["voucher_kinds"]
    yield "price_band", (price_band(meta["monthly_fen"]),)


@dataclass(frozen=True, slots=True)
class SegmentValues:
    """Stored values of one immutable Whoosh segment (deleted documents included)."""

    metas: list[dict[str, Any]]
    timestamps: list[float]  # published_at
    bits: dict[str, dict[str, int]]  # facet -> value -> bitset of segment docnums

    @classmethod
    def load(cls, reader: Any) -> SegmentValues:
        metas = [reader.stored_fields(n)["meta"] for n in range(reader.doc_count_all())]
        members: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        for docnum, meta in enumerate(metas):
            for facet, values in _facet_values(meta):
                for value in values:
                    members[facet].setdefault(value, []).append(docnum)
        size = len(metas)
        bits = {
            facet: {value: mask_of(nums, size) for value, nums in by_value.items()}
            for facet, by_value in members.items()
        }
        timestamps = [datetime.fromisoformat(m["published_at"]).timestamp() for m in metas]
        return cls(metas, timestamps, bits)


class Snapshot:
    """Stored values of every document of one index generation, by Whoosh docnum."""

    def __init__(self, leaves: list[tuple[int, SegmentValues, Iterable[int]]]) -> None:
        self.metas: list[dict[str, Any]] = []
        self.bits: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
        live: list[int] = []
        for offset, values, live_docnums in leaves:
            assert offset == len(self.metas)
            self.metas.extend(values.metas)
            for facet, by_value in values.bits.items():
                target = self.bits[facet]
                for value, bits in by_value.items():
                    target[value] = target.get(value, 0) | bits << offset
            live.extend(offset + n for n in live_docnums)
        self.size = len(self.metas)
        self.live = mask_of(live, self.size)
        self.price = [m["monthly_fen"] for m in self.metas]
        timestamps = [t for _offset, values, _live in leaves for t in values.timestamps]
        # Position in newest-first order (ties by id), the tie-breaker of every sort.
        order = sorted(range(self.size), key=lambda n: (-timestamps[n], self.metas[n]["id"]))
        self.newest_rank = [0] * self.size
        for position, docnum in enumerate(order):
            self.newest_rank[docnum] = position
        self._price_caps: dict[int, int] = {}

    def price_cap(self, max_fen: int) -> int:
        """Documents with a monthly price <= max_fen."""
        if max_fen not in self._price_caps:
            if len(self._price_caps) > 64:
                self._price_caps.clear()
            self._price_caps[max_fen] = mask_of(
                (n for n, p in enumerate(self.price) if p is not None and p <= max_fen), self.size
            )
        return self._price_caps[max_fen]


# -- text queries -----------------------------------------------------------------------


class _Or(wq.Or):
    # Whoosh picks a matcher that preloads every posting for segments under 5,000
    # documents; inside an AND that reads all of a common word's postings, where the
    # binary union tree skips to the candidates of the rarer word.
    matcher_type = wq.Or.DEFAULT_MATCHER


def _terms(fields: dict[str, float], text: str) -> list[wq.Query]:
    return [wq.Term(name, text, boost=boost) for name, boost in fields.items()]


def terms_within(
    reader: Any, fields: Iterable[str], text: str, maxdist: int
) -> list[tuple[str, str]]:
    """(field, term) for the indexed terms within ``maxdist`` edits of ``text`` (same first
    letter). Whoosh's FuzzyTerm builds a Levenshtein automaton per field, per segment and
    twice per search; here one automaton walks each segment's term list. (Segment by
    segment: Whoosh 2.7's MultiCursor, which would merge them, never finds a term.)"""
    dfa = Automata.levenshtein_dfa(text, maxdist, 1)
    found: dict[tuple[str, str], None] = {}
    for leaf, _offset in reader.leaf_readers():
        for name in fields:
            for term in Automata.find_matches(dfa, leaf.cursor(name)):
                found[name, term] = None
    return list(found)


def _fuzzy_terms(reader: Any, fields: dict[str, float], text: str) -> list[wq.Query]:
    maxdist = 1 if len(text) <= 4 else 2
    return [
        wq.Term(name, term, boost=fields[name] * 0.8)
        for name, term in terms_within(reader, fields, text, maxdist)
    ]


def _known_pinyin(reader: Any, text: str) -> bool:
    return any(reader.doc_frequency(name, text) for name in PINYIN_FIELDS)


def split_pinyin(reader: Any, word: str) -> list[str] | None:
    """ "zhijianxitong" -> ["zhijian", "xitong"]: the fewest pieces (3+ letters, at most 4)
    that are all pinyin words of the index; None when there is no such split."""
    if len(word) < 6 or not word.isalpha():
        return None
    known: dict[str, bool] = {}
    best: list[list[str] | None] = [None] * (len(word) + 1)
    best[0] = []
    for start in range(len(word)):
        head = best[start]
        if head is None or len(head) >= 4:
            continue
        for stop in range(start + 3, min(len(word), start + 24) + 1):
            piece = word[start:stop]
            if piece not in known:
                known[piece] = _known_pinyin(reader, piece)
            candidate = [*head, piece]
            if known[piece] and (best[stop] is None or len(candidate) < len(best[stop])):
                best[stop] = candidate
    pieces = best[len(word)]
    return pieces if pieces and len(pieces) > 1 else None


def _ascii_clause(reader: Any, word: str, fuzzy: bool) -> wq.Query | None:
    stems = english_stems(word)
    if not stems or len(word) < 2:
        return None  # an English stop word or a lone letter
    alternatives: list[wq.Query] = []
    for stem in stems:
        alternatives += (
            _fuzzy_terms(reader, ENGLISH_FIELDS, stem) if fuzzy else _terms(ENGLISH_FIELDS, stem)
        )
    alternatives += (
        _fuzzy_terms(reader, PINYIN_FIELDS, word) if fuzzy else _terms(PINYIN_FIELDS, word)
    )
    alternatives += _terms(CHINESE_FIELDS, word)  # Latin words inside Chinese text: MES, ERP
    if not fuzzy and not _known_pinyin(reader, word):
        pieces = split_pinyin(reader, word)
        if pieces:
            alternatives.append(wq.And([_Or(_terms(PINYIN_FIELDS, p)) for p in pieces]))
    return _Or(alternatives)


def text_query(reader: Any, text: str, *, fuzzy: bool = False) -> wq.Query | None:
    """The Whoosh query for the user's text, or None when nothing searchable is left.

    Latin words go to the English, pinyin and Chinese fields (Chinese text is full of
    MES, ERP, AI); Chinese words go to the Chinese fields. Every word must match; the
    fuzzy retry allows 1-2 edits per Latin word and needs only one of the Chinese words.
    """
    clauses: list[wq.Query] = []
    chinese: list[wq.Query] = []
    run: list[tuple[str, wq.Query]] = []  # consecutive Latin words: "zhi jian"

    def close_run() -> None:
        queries = [clause for _word, clause in run]
        joined = "".join(word for word, _clause in run)
        if len(run) > 1 and not fuzzy and _known_pinyin(reader, joined):
            clauses.append(_Or([wq.And(queries), _Or(_terms(PINYIN_FIELDS, joined))]))
        else:
            clauses.extend(queries)
        run.clear()

    for kind, token in query_parts(text):
        if kind == "ascii":
            clause = _ascii_clause(reader, token, fuzzy)
            if clause is not None:
                run.append((token, clause))
            continue
        close_run()
        if fuzzy:
            chinese += [
                t for piece in {token, *bigrams(token)} for t in _terms(CHINESE_FIELDS, piece)
            ]
        else:
            clauses.append(_Or(_terms(CHINESE_FIELDS, token)))
    close_run()
    if chinese:
        clauses.append(_Or(chinese))
    if not clauses:
        return None
    return wq.And(clauses).normalize() if len(clauses) > 1 else clauses[0].normalize()


def _scores(searcher: Searcher, q: wq.Query) -> dict[int, float]:
    results = searcher.search(q, limit=None, terms=False)
    return dict(results.items())


def matched_terms(reader: Any, q: wq.Query) -> MatchedTerms:
    # Not Query.existing_terms: in Whoosh 2.7 its loop variable shadows its ``fieldname``
    # argument and skips every field after the first.
    found: dict[str, set[str]] = {"zh": set(), "en": set(), "pinyin": set()}
    kinds = {
        **dict.fromkeys(CHINESE_FIELDS, "zh"),
        **dict.fromkeys(ENGLISH_FIELDS, "en"),
        **dict.fromkeys(PINYIN_FIELDS, "pinyin"),
    }
    for leaf in q.leaves():
        for name, text in leaf.expanded_terms(reader):
            word = text.decode("utf-8") if isinstance(text, bytes) else text
            if name in kinds and reader.doc_frequency(name, word):
                found[kinds[name]].add(word)
    return MatchedTerms(frozenset(found["zh"]), frozenset(found["en"]), frozenset(found["pinyin"]))


def _word_known(reader: Any, word: str) -> bool:
    if reader.doc_frequency("spell", word) or _known_pinyin(reader, word):
        return True
    if any(reader.doc_frequency(f, s) for s in english_stems(word) for f in ENGLISH_FIELDS):
        return True
    return any(reader.doc_frequency(f, word) for f in CHINESE_FIELDS)


def correction(reader: Any, text: str) -> str | None:
    """The query with each unknown Latin word replaced by the most frequent indexed English
    or pinyin word within 1 (or, for longer words, 2) edits; None if nothing was replaced."""
    replacements: dict[str, str] = {}
    for word in set(ascii_words(text)):
        if len(word) < 3 or not word.isalpha() or not english_stems(word):
            continue
        if _word_known(reader, word) or split_pinyin(reader, word):
            continue
        for maxdist in (1, 2) if len(word) > 4 else (1,):
            frequency: dict[str, int] = {}
            for name, candidate in terms_within(reader, ("spell", *PINYIN_FIELDS), word, maxdist):
                if len(candidate) > 2:
                    frequency[candidate] = frequency.get(candidate, 0) + (
                        reader.doc_frequency(name, candidate)
                    )
            if frequency:
                replacements[word] = max(frequency, key=lambda c: (frequency[c], c))
                break
    if not replacements:
        return None
    return re.sub(r"[a-z0-9]+", lambda m: replacements.get(m.group(), m.group()), normalize(text))


# -- running a search -------------------------------------------------------------------


def _sort_key(query: SearchQuery, snapshot: Snapshot, scores: dict[int, float] | None):
    metas, rank = snapshot.metas, snapshot.newest_rank  # newest first breaks every tie
    if query.sort == "relevance" and scores is not None:
        return lambda n: (-scores.get(n, 0.0), rank[n])
    if query.sort == "price_asc":
        return lambda n: (metas[n]["monthly_fen"] is None, metas[n]["monthly_fen"] or 0, rank[n])
    if query.sort == "price_desc":
        return lambda n: (metas[n]["monthly_fen"] is None, -(metas[n]["monthly_fen"] or 0), rank[n])
    if query.sort == "rating":
        return lambda n: (
            metas[n]["rating"] is None,
            -(metas[n]["rating"] or 0.0),
            -metas[n]["rating_count"],
            rank[n],
        )
    return rank.__getitem__  # newest, and relevance without text


def execute(searcher: Searcher, snapshot: Snapshot, query: SearchQuery) -> SearchResult:
    reader = searcher.reader()
    scores: dict[int, float] | None = None
    used: wq.Query | None = None
    fuzzy = False
    strict_count = 0
    text_mask = snapshot.live
    strict = text_query(reader, query.q) if query.q else None
    if strict is not None:
        used, scores = strict, _scores(searcher, strict)
        strict_count = len(scores)
        if not scores:
            # Nothing in the whole index matches the text, whatever the filters: retry
            # fuzzily. (Deciding on the unfiltered match keeps facet counts consistent.)
            retry = text_query(reader, query.q, fuzzy=True)
            if retry is not None:
                used, scores = retry, _scores(searcher, retry)
                fuzzy = bool(scores)
        text_mask = mask_of(scores, snapshot.size) & snapshot.live

    base = text_mask
    if query.max_monthly_fen is not None:
        base &= snapshot.price_cap(query.max_monthly_fen)
    selected = {
        facet: snapshot.bits[facet].get(value, 0) for facet, value in query.filters().items()
    }

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
    if query.q and (fuzzy or total < FEW_HITS) and ascii_words(query.q):
        suggestion = correction(reader, query.q)
        if suggestion:
            better = text_query(reader, suggestion)
            if better is not None and len(_scores(searcher, better)) > strict_count:
                did_you_mean = suggestion

    start = (query.page - 1) * query.per_page
    hits: list[Hit] = []
    if start < total:
        docnums = docnums_of(result_mask)
        key = _sort_key(query, snapshot, scores)
        wanted = start + query.per_page
        ordered = (
            heapq.nsmallest(wanted, docnums, key=key)
            if wanted < len(docnums) // 2
            else sorted(docnums, key=key)
        )
        terms = matched_terms(reader, used) if used is not None else MatchedTerms()
        for docnum in ordered[start:wanted]:
            hits.append(_hit(snapshot.metas[docnum], (scores or {}).get(docnum, 0.0), terms))
    return SearchResult(
        total=total,
        page=query.page,
        per_page=query.per_page,
        hits=hits,
        facets=facets,
        did_you_mean=did_you_mean,
        fuzzy=fuzzy,
    )


def _hit(meta: dict[str, Any], score: float, terms: MatchedTerms) -> Hit:
    highlights = {
        "name": highlight(meta["name"], terms),
        "summary": highlight(meta["summary"], terms, SUMMARY_SNIPPET_CHARS),
    }
    if meta["name_en"]:
        highlights["name_en"] = highlight(meta["name_en"], terms)
    if meta["summary_en"]:
        highlights["summary_en"] = highlight(meta["summary_en"], terms, SUMMARY_SNIPPET_CHARS)
    return Hit(id=meta["id"], slug=meta["slug"], score=round(score, 4), highlights=highlights)
