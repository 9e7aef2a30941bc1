"""Highlighted snippets: stored text HTML-escaped, query matches wrapped in <mark>."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from html import escape

from catalog.search.analysis import english_stems, is_cjk, pinyin_forms, pinyin_units

_LATIN_WORD = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True, slots=True)
class MatchedTerms:
    """The index terms a query matched, by kind of field."""

    chinese: frozenset[str] = field(default_factory=frozenset)  # jieba words, lower case
    english: frozenset[str] = field(default_factory=frozenset)  # stems
    pinyin: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.chinese or self.english or self.pinyin)


def _same_length_lower(text: str) -> str:
    # str.lower() can change the length ("İ"); offsets must stay those of the original.
    return "".join(ch if len(low := ch.lower()) != 1 else low for ch in text)


def _spans(text: str, terms: MatchedTerms) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    lowered = _same_length_lower(text)
    for term in terms.chinese:
        if term.isascii():
            pattern = rf"(?<![a-z0-9]){re.escape(term)}(?![a-z0-9])"
            spans.extend(m.span() for m in re.finditer(pattern, lowered))
            continue
        start = lowered.find(term)
        while start >= 0:
            spans.append((start, start + len(term)))
            start = lowered.find(term, start + len(term))
    if terms.english:
        for match in _LATIN_WORD.finditer(text):
            if terms.english.intersection(english_stems(match.group())):
                spans.append(match.span())
    if terms.pinyin and is_cjk(text):
        for start, end, syllables in _pinyin_spans(text):
            if terms.pinyin.intersection(pinyin_forms(syllables)):
                spans.append((start, end))
    return spans


@lru_cache(maxsize=4096)
def _pinyin_spans(text: str) -> tuple[tuple[int, int, tuple[str, ...]], ...]:
    # jieba and pypinyin per snippet are the slow part of highlighting; names recur.
    return tuple((start, end, syl) for start, end, syl, _ in pinyin_units(text) if len(syl) > 1)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def highlight(text: str, terms: MatchedTerms, max_chars: int | None = None) -> str:
    """``text`` as HTML with every match in <mark>; cut to about ``max_chars`` characters
    around the first match when it is longer."""
    spans = _merge(_spans(text, terms)) if terms and text else []
    begin, end = 0, len(text)
    if max_chars is not None and len(text) > max_chars:
        first = spans[0][0] if spans else 0
        begin = max(0, min(first - max_chars // 4, len(text) - max_chars))
        end = begin + max_chars
    parts = ["…"] if begin > 0 else []
    cursor = begin
    for start, stop in spans:
        start, stop = max(start, begin), min(stop, end)
        if start >= stop:
            continue
        parts.append(escape(text[cursor:start]))
        parts.append(f"<mark>{escape(text[start:stop])}</mark>")
        cursor = stop
    parts.append(escape(text[cursor:end]))
    if end < len(text):
        parts.append("…")
    return "".join(parts)
