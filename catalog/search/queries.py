"""From the user's text to a query tree of Whoosh Term, Or and And queries, and the
"did you mean" correction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
from catalog.search.vocabulary import FILLER_WORDS, Vocabulary, span_key


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
            candidate, current = [*head, piece], best[stop]
            if known[piece] and (current is None or len(candidate) < len(current)):
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


@dataclass
class TextQuery:
    """The query for the user's text: ``strict`` needs every clause; the loosened search
    needs any one. ``scenarios``: those of the pain points found in the text."""

    clauses: list[wq.Query]
    scenarios: tuple[str, ...] = ()

    @property
    def strict(self) -> wq.Query:
        if len(self.clauses) == 1:
            return self.clauses[0].normalize()
        return wq.And(self.clauses).normalize()

    @property
    def loose(self) -> wq.Query | None:
        """Any one of the clauses; None when there is only one."""
        return wq.Or(self.clauses).normalize() if len(self.clauses) > 1 else None


class Expansion(wq.Term):
    """A thesaurus word searched for a query word. Scored with the document frequency of
    the query word when that is higher (``floor``): a rarer synonym must not outweigh the
    word the user typed through its idf."""

    def __init__(self, fieldname: str, text: str, boost: float, floor: int) -> None:
        super().__init__(fieldname, text, boost=boost)
        self.floor = floor


class InScenario(wq.Query):
    """Every solution of a scenario, as found by a pain point; scored like one word in the
    body found in as many documents (scoring.py)."""

    def __init__(self, scenario: str, boost: float = 1.0) -> None:
        self.scenario = scenario
        self.boost = boost
        self.fieldname = None  # not a field's words (Whoosh's normalize asks)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, InScenario)
            and other.scenario == self.scenario
            and other.boost == self.boost
        )

    def __hash__(self) -> int:
        return hash((InScenario, self.scenario, self.boost))

    def __repr__(self) -> str:
        return f"InScenario({self.scenario!r})"


PAIN_POINT_BOOST = 2.0


@dataclass
class _Unit:
    """Query words taken together: ``expansions`` from the thesaurus (word -> weight) or
    the ``scenarios`` of a pain point; a plain word has neither."""

    parts: list[tuple[str, str]]
    expansions: dict[str, float] = field(default_factory=dict)
    scenarios: tuple[str, ...] = ()


def _joined(parts: list[tuple[int, tuple[str, str]]]) -> tuple[str, list[tuple[int, int, int]]]:
    """The parts as one string (span_key) and (index, start, end) of each part in it."""
    text, offsets = "", []
    previous = ""
    for index, (kind, token) in parts:
        if text and kind == "ascii" and previous == "ascii":
            text += " "
        offsets.append((index, len(text), len(text) + len(token)))
        text += token
        previous = kind
    return text, offsets


def _units(parts: list[tuple[str, str]], vocabulary: Vocabulary) -> list[_Unit]:
    """Group the query's words: pain-point phrases first (also with filler words left
    out: 电费很高 has 电费高), then the longest thesaurus words, the rest one by one."""
    owner: dict[int, int] = {}  # part index -> the pain unit that took it
    pains: list[tuple[list[int], str]] = []
    for candidates in (
        list(enumerate(parts)),
        [(i, p) for i, p in enumerate(parts) if p[1] not in FILLER_WORDS],
    ):
        free = [(i, p) for i, p in candidates if i not in owner]
        text, offsets = _joined(free)
        for start, end, scenario in vocabulary.pain_spans(text):
            taken = [i for i, s, e in offsets if s < end and e > start]
            if taken and not any(i in owner for i in taken):
                for i in taken:
                    owner[i] = len(pains)
                pains.append((taken, scenario))
    if pains:  # an owner's problem: the words around it are not what listings say
        parts = [
            p if i in owner or p[1] not in FILLER_WORDS else ("", "") for i, p in enumerate(parts)
        ]
    units: list[_Unit] = []
    i = 0
    while i < len(parts):
        if not parts[i][1]:
            i += 1
            continue
        if i in owner:
            taken, scenario = pains[owner[i]]
            units.append(_Unit([parts[j] for j in taken], scenarios=(scenario,)))
            i = taken[-1] + 1  # filler words between them were blanked above
            continue
        for size in range(min(vocabulary.longest, len(parts) - i), 0, -1):
            window = parts[i : i + size]
            if any(i + k in owner or not p[1] for k, p in enumerate(window)):
                continue
            expansions = vocabulary.expansions(span_key(window))
            if expansions:
                units.append(_Unit(window, expansions))
                i += size
                break
        else:
            units.append(_Unit([parts[i]]))
            i += 1
    return units


def _literal(reader: Any, snapshot: Snapshot, parts: list[tuple[str, str]]) -> wq.Query | None:
    queries: list[wq.Query] = []
    for kind, token in parts:
        if kind == "ascii":
            clause = _ascii_clause(reader, snapshot, token, False)
            if clause is not None:
                queries.append(clause)
        else:
            queries.append(wq.Or(_terms(CHINESE_FIELDS, token)))
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else wq.And(queries)


def _expansion(
    reader: Any, literal: list[tuple[str, str]], word: str, weight: float
) -> wq.Query | None:
    """A thesaurus word as a query, every field at ``weight`` of its boost."""
    floors = {
        name: max((reader.doc_frequency(name, token) for _kind, token in literal), default=0)
        for name in (*CHINESE_FIELDS, *ENGLISH_FIELDS)
    }

    parts = query_parts(word)
    # An AND sums its parts' scores: a synonym of three words must not outweigh the typed
    # word of one, so the weight is shared out per word (never raised: a synonym of one
    # word for two typed ones stays below them).
    weight *= min(1.0, len(literal) / max(len(parts), 1))

    def terms(fields: dict[str, float], text: str) -> list[wq.Query]:
        return [Expansion(n, text, boost * weight, floors[n]) for n, boost in fields.items()]

    queries: list[wq.Query] = []
    for kind, token in parts:
        if kind == "ascii":
            alternatives = [t for stem in english_stems(token) for t in terms(ENGLISH_FIELDS, stem)]
            queries.append(wq.Or([*alternatives, *terms(CHINESE_FIELDS, token)]))
        else:
            queries.append(wq.Or(terms(CHINESE_FIELDS, token)))
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else wq.And(queries)


def _understood(reader: Any, snapshot: Snapshot, unit: _Unit) -> wq.Query | None:
    literal = _literal(reader, snapshot, unit.parts)
    if unit.scenarios:
        found: list[wq.Query] = [InScenario(code, PAIN_POINT_BOOST) for code in unit.scenarios]
        return wq.Or([literal, *found]) if literal is not None else wq.Or(found)
    alternatives = [
        q
        for word, weight in unit.expansions.items()
        if (q := _expansion(reader, unit.parts, word, weight)) is not None
    ]
    if literal is None:
        return wq.DisjunctionMax(alternatives) if alternatives else None
    # The best of the word and its synonyms, not their sum: a listing that says three
    # synonyms does not outrank one that says the word.
    return wq.DisjunctionMax([literal, *alternatives])


def text_query(
    reader: Any,
    snapshot: Snapshot,
    text: str,
    *,
    fuzzy: bool = False,
    vocabulary: Vocabulary | None = None,
) -> TextQuery | None:
    """The Whoosh query for the user's text, or None when nothing searchable is left.

    Latin words go to the English, pinyin and Chinese fields (Chinese text is full of
    MES, ERP, AI); Chinese words go to the Chinese fields. Every word must match; the
    fuzzy retry allows 1-2 edits per Latin word and needs only one of the Chinese words.
    With a ``vocabulary`` (not in the fuzzy retry), thesaurus words also find their
    synonyms and pain-point phrases also find their scenario's listings.
    """
    clauses: list[wq.Query] = []
    chinese: list[wq.Query] = []
    run: list[tuple[str, wq.Query]] = []  # consecutive Latin words: "zhi jian"
    scenarios: list[str] = []

    def close_run() -> None:
        queries = [clause for _word, clause in run]
        joined = "".join(word for word, _clause in run)
        if len(run) > 1 and not fuzzy and _known_pinyin(reader, joined):
            clauses.append(wq.Or([wq.And(queries), wq.Or(_terms(PINYIN_FIELDS, joined))]))
        else:
            clauses.extend(queries)
        run.clear()

    parts = query_parts(text)
    units = _units(parts, vocabulary) if vocabulary and not fuzzy else [_Unit([p]) for p in parts]
    for unit in units:
        if unit.expansions or unit.scenarios:
            close_run()
            clause = _understood(reader, snapshot, unit)
            if clause is not None:
                clauses.append(clause)
                scenarios += [c for c in unit.scenarios if c not in scenarios]
            continue
        ((kind, token),) = unit.parts
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
    return TextQuery(clauses, tuple(scenarios))


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
        if isinstance(leaf, InScenario):
            continue
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
