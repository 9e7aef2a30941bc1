"""The words SMEs use for what listings offer: a thesaurus and a table of pain points.

Both are data, shipped in catalog/data (``thesaurus.txt``, ``pain_points.tsv``) and
changed by operators in the console (catalog/search_thesaurus.py keeps their edits in the
database and hands the merged :class:`Vocabulary` to each search). This module only holds
the rules:

- A synonym set has words that mean the same (质检 = 质量检测 = QC) and related words
  (缺陷检测, 验布). A query word among the same words also searches for the set's other
  words, at ``SAME_WEIGHT`` or ``RELATED_WEIGHT`` of its own weight, never more: a listing
  that says the word the user typed ranks above one that says only a synonym. A related
  word leads back only through a set of its own (缺陷检测's set lists 质检).
- A pain point maps a phrase an owner would type (电费太高, 漏检) to a scenario. A query
  containing the phrase also finds the listings of that scenario, and ranks them higher;
  the search page says which scenario it searched by.

Words are compared after the query analysis (catalog/search/analysis.py), so traditional
characters and full-width letters in either need no entries of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from catalog.search.analysis import _words, normalize, query_parts

DATA = Path(__file__).resolve().parent.parent / "data"
SAME_WEIGHT = 0.8
RELATED_WEIGHT = 0.5
# Words around a problem told in an owner's words (老是漏检, 电费太高怎么办) that no listing
# says; dropped from a query in which a pain point was found.
FILLER_WORDS = frozenset(
    _words(
        """
    老是 总是 经常 常常 老 总 太 很 非常 特别 有点 怎么办 怎么 如何 咋办 解决 我们 我 厂里
    工厂 想 要 需要 有没有 一下 什么 好 了 啊 呢 吗 问题
    """
    )
)


@dataclass(frozen=True, slots=True)
class SynonymSet:
    """Words that mean the same, and related words. ``key`` names the set (its first word)
    for the console's edits."""

    same: tuple[str, ...]
    related: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return (self.same or self.related)[0]

    @property
    def words(self) -> tuple[str, ...]:
        return (*self.same, *self.related)

    def as_line(self) -> str:
        """The set as a line of thesaurus.txt (and of the console's form)."""
        line = ", ".join(self.same)
        return f"{line} | {', '.join(self.related)}" if self.related else line

    @classmethod
    def parse(cls, line: str) -> SynonymSet:
        """``"质检, 质量检测 | 缺陷检测, 验布"``; raises ValueError with a reason."""
        same_text, bar, related_text = line.partition("|")
        same = _split_words(same_text)
        related = _split_words(related_text) if bar else ()
        if not same:
            raise ValueError("a set needs at least one word before the |")
        if len(same) + len(related) < 2:
            raise ValueError("a set needs at least two words")
        seen: set[str] = set()
        for word in (*same, *related):
            if not term_key(word):
                raise ValueError(f"“{word}” has nothing searchable")
            if term_key(word) in seen:
                raise ValueError(f"“{word}” is in the set twice")
            seen.add(term_key(word))
        return cls(same, related)


def _split_words(text: str) -> tuple[str, ...]:
    parts = text.replace("，", ",").replace("、", ",").split(",")
    return tuple(word for part in parts if (word := " ".join(part.split())))


@dataclass(frozen=True, slots=True)
class PainPoint:
    phrase: str
    scenario: str  # a code of catalog/data/scenarios.csv

    @property
    def key(self) -> str:
        return self.phrase


def term_key(text: str) -> str:
    """How a word is looked up: its query words joined (Latin words keep a space between
    them), so 質量檢測, 质量 检测 and 质量检测 are one key."""
    return span_key(query_parts(text))


def span_key(parts: Iterable[tuple[str, str]]) -> str:
    key = ""
    previous = ""
    for kind, token in parts:
        if key and kind == "ascii" and previous == "ascii":
            key += " "
        key += token
        previous = kind
    return key


@dataclass
class Vocabulary:
    """A thesaurus and pain points, ready for lookups. ``version`` tells caches apart."""

    synonym_sets: tuple[SynonymSet, ...] = ()
    pain_points: tuple[PainPoint, ...] = ()
    version: object = None
    _expansions: dict[str, dict[str, float]] = field(init=False, repr=False)
    _phrases: list[tuple[str, str]] = field(init=False, repr=False)
    longest: int = field(init=False, default=1)  # the most query words one entry spans

    def __post_init__(self) -> None:
        expansions: dict[str, dict[str, float]] = {}
        for synonym_set in self.synonym_sets:
            same = [term_key(w) for w in synonym_set.same]
            related = [term_key(w) for w in synonym_set.related]
            for word in same:  # related words lead back only through a set of their own
                found = expansions.setdefault(word, {})
                for other, weight in (
                    *((o, SAME_WEIGHT) for o in same),
                    *((o, RELATED_WEIGHT) for o in related),
                ):
                    if other != word:
                        found[other] = max(found.get(other, 0.0), weight)
                self.longest = max(self.longest, len(query_parts(word)))
        self._expansions = expansions
        phrases = {normalize(p.phrase).replace(" ", ""): p.scenario for p in self.pain_points}
        self._phrases = sorted(phrases.items(), key=lambda item: -len(item[0]))

    def expansions(self, key: str) -> dict[str, float]:
        """Other words to search for a word (a :func:`term_key`), with their weights."""
        return self._expansions.get(key, {})

    def pain_spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, scenario) of the pain-point phrases in ``text`` (normalized, without
        spaces), longest phrases first, not overlapping."""
        taken: list[tuple[int, int, str]] = []
        for phrase, scenario in self._phrases:
            start = text.find(phrase)
            while start >= 0:
                end = start + len(phrase)
                if all(end <= s or start >= e for s, e, _ in taken):
                    taken.append((start, end, scenario))
                start = text.find(phrase, start + 1)
        return sorted(taken)

    def __bool__(self) -> bool:
        return bool(self.synonym_sets or self.pain_points)


EMPTY = Vocabulary(version="empty")


def read_thesaurus(lines: Iterable[str]) -> list[SynonymSet]:
    sets = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            sets.append(SynonymSet.parse(text))
        except ValueError as exc:
            raise ValueError(f"thesaurus line {number}: {exc}") from None
    return sets


def read_pain_points(lines: Iterable[str]) -> list[PainPoint]:
    points = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        phrase, _tab, scenario = text.partition("\t")
        if not phrase.strip() or not scenario.strip():
            raise ValueError(f"pain points line {number}: phrase<TAB>scenario expected")
        points.append(PainPoint(phrase.strip(), scenario.strip()))
    return points


@cache
def packaged_sets() -> tuple[SynonymSet, ...]:
    """The synonym sets shipped in catalog/data/thesaurus.txt."""
    text = (DATA / "thesaurus.txt").read_text(encoding="utf-8")
    return tuple(read_thesaurus(text.splitlines()))


@cache
def packaged_pain_points() -> tuple[PainPoint, ...]:
    """The pain points shipped in catalog/data/pain_points.tsv."""
    text = (DATA / "pain_points.tsv").read_text(encoding="utf-8")
    return tuple(read_pain_points(text.splitlines()))


def merged(
    synonym_overrides: Mapping[str, SynonymSet | None] | None = None,
    added_sets: Iterable[SynonymSet] = (),
    pain_overrides: Mapping[str, PainPoint | None] | None = None,
    added_pain_points: Iterable[PainPoint] = (),
    *,
    version: object = "packaged",
) -> Vocabulary:
    """The packaged data with operators' edits: an override replaces the packaged entry of
    its key (None disables it); added entries come on top."""
    synonym_overrides = synonym_overrides or {}
    pain_overrides = pain_overrides or {}
    sets = [synonym_overrides.get(s.key, s) for s in packaged_sets()]
    points = [pain_overrides.get(p.key, p) for p in packaged_pain_points()]
    return Vocabulary(
        tuple(s for s in [*sets, *added_sets] if s is not None),
        tuple(p for p in [*points, *added_pain_points] if p is not None),
        version=version,
    )


@cache
def packaged() -> Vocabulary:
    """The packaged thesaurus and pain points, without operators' edits."""
    return merged()
