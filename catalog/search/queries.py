"""From the user's text to a query tree of Whoosh Term, Or and And queries, and the
"did you mean" correction."""

from __future__ import annotations

import re
from typing import Any

from whoosh import query as wq

from catalog.search.analysis import (
    ascii_words,
    bigrams,
    english_stems,
    normalize,
    query_parts,
)
from catalog.search.documents import CHINESE_FIELDS, ENGLISH_FIELDS, PINYIN_FIELDS
from catalog.search.highlight import MatchedTerms
from catalog.search.snapshot import Snapshot


def _terms(fields: dict[str, float], text: str) -> list[wq.Query]:
    return [wq.Term(name, text, boost=boost) for name, boost in fields.items()]


def _fuzzy_terms(
    reader: Any, snapshot: Snapshot, fields: dict[str, float], text: str
) -> list[wq.Query]:
    maxdist = 1 if len(text) <= 4 else 2
    return [
        wq.Term(name, term, boost=fields[name] * 0.8)
        for name, term in snapshot.terms_within(reader, fields, text, maxdist)
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


def _ascii_clause(reader: Any, snapshot: Snapshot, word: str, fuzzy: bool) -> wq.Query | None:
    stems = english_stems(word)
    if not stems or len(word) < 2:
        return None  # an English stop word or a lone letter
    alternatives: list[wq.Query] = []
    for stem in stems:
        alternatives += (
            _fuzzy_terms(reader, snapshot, ENGLISH_FIELDS, stem)
            if fuzzy
            else _terms(ENGLISH_FIELDS, stem)
        )
    alternatives += (
        _fuzzy_terms(reader, snapshot, PINYIN_FIELDS, word)
        if fuzzy
        else _terms(PINYIN_FIELDS, word)
    )
    alternatives += _terms(CHINESE_FIELDS, word)  # Latin words inside Chinese text: MES, ERP
    if not fuzzy and not _known_pinyin(reader, word):
        pieces = split_pinyin(reader, word)
        if pieces:
            alternatives.append(wq.And([wq.Or(_terms(PINYIN_FIELDS, p)) for p in pieces]))
    return wq.Or(alternatives)


def text_query(
    reader: Any, snapshot: Snapshot, text: str, *, fuzzy: bool = False
) -> wq.Query | None:
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
            clauses.append(wq.Or([wq.And(queries), wq.Or(_terms(PINYIN_FIELDS, joined))]))
        else:
            clauses.extend(queries)
        run.clear()

    for kind, token in query_parts(text):
        if kind == "ascii":
            clause = _ascii_clause(reader, snapshot, token, fuzzy)
            if clause is not None:
                run.append((token, clause))
            continue
        close_run()
        if fuzzy:
            chinese += [
                t for piece in {token, *bigrams(token)} for t in _terms(CHINESE_FIELDS, piece)
            ]
        else:
            clauses.append(wq.Or(_terms(CHINESE_FIELDS, token)))
    close_run()
    if chinese:
        clauses.append(wq.Or(chinese))
    if not clauses:
        return None
    return wq.And(clauses).normalize() if len(clauses) > 1 else clauses[0].normalize()


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


def correction(reader: Any, snapshot: Snapshot, text: str) -> str | None:
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
            fields = ("spell", *PINYIN_FIELDS)
            for name, candidate in snapshot.terms_within(reader, fields, word, maxdist):
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
