"""Per index generation: every document's stored values as lists and integer bitsets.

Filters, facet counts and sorting run on these instead of through Whoosh: a facet count is
``(matches & bits[facet][value]).bit_count()``, a few microseconds for 10,000 documents,
where Whoosh's faceting reads a column per matching document per facet. Whoosh segments are
immutable, so values are loaded once per segment and reused by later generations; only the
set of live (not deleted) documents is recomputed per generation.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from whoosh.codec.base import Automata

from catalog.search.model import FACETS, price_band


def mask_of(docnums: Iterable[int], size: int) -> int:
    """The bitset with these document numbers set."""
    buffer = bytearray((size >> 3) + 1)
    for docnum in docnums:
        buffer[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(buffer, "little")


_BYTE_BITS = [tuple(i for i in range(8) if byte >> i & 1) for byte in range(256)]


def docnums_of(mask: int) -> list[int]:
    """The document numbers set in a bitset, ascending."""
    result: list[int] = []
    for index, byte in enumerate(mask.to_bytes((mask.bit_length() + 7) // 8, "little")):
        if byte:
            base = index << 3
            result.extend(base + bit for bit in _BYTE_BITS[byte])
    return result


# What results, filters and sorts need of a stored SolutionDoc (not its description).
_KEPT = (
    "id",
    "slug",
    "name",
    "name_en",
    "summary",
    "summary_en",
    "industries",
    "scenarios",
    "delivery",
    "billing_models",
    "voucher_kinds",
    "monthly_fen",
    "published_at",
    "rating",
    "rating_count",
)


def _facet_values(meta: dict[str, Any]) -> Iterable[tuple[str, Iterable[str]]]:
    yield "industry", meta["industries"]
    yield "scenario", meta["scenarios"]
    yield "delivery", (meta["delivery"],)
    yield "billing_model", meta["billing_models"]
    yield "voucher_kind", meta["voucher_kinds"]
    yield "price_band", (price_band(meta["monthly_fen"]),)


@dataclass(frozen=True, slots=True)
class SegmentValues:
    """Stored values of one Whoosh segment (deleted documents included)."""

    metas: list[dict[str, Any]]  # SolutionDoc.to_dict() per document, the _KEPT keys
    timestamps: list[float]  # published_at
    bits: dict[str, dict[str, int]]  # facet -> value -> bitset of segment docnums
    lengths: dict[str, list[int]]  # scored field -> tokens per document, for BM25
    lexicons: dict[str, list[str]] = field(default_factory=dict)  # field -> terms, on demand

    def lexicon(self, reader: Any, name: str) -> list[str]:
        """The sorted terms of a field in this segment (read once)."""
        if name not in self.lexicons:
            self.lexicons[name] = [term.decode("utf-8") for term in reader.lexicon(name)]
        return self.lexicons[name]

    @classmethod
    def load(cls, reader: Any, scored_fields: Iterable[str]) -> SegmentValues:
        size = reader.doc_count_all()
        metas = [
            {key: meta[key] for key in _KEPT}
            for meta in (reader.stored_fields(n)["meta"] for n in range(size))
        ]
        members: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        for docnum, meta in enumerate(metas):
            for facet, values in _facet_values(meta):
                for value in values:
                    members[facet].setdefault(value, []).append(docnum)
        bits = {
            facet: {value: mask_of(nums, size) for value, nums in by_value.items()}
            for facet, by_value in members.items()
        }
        timestamps = [datetime.fromisoformat(m["published_at"]).timestamp() for m in metas]
        lengths = {  # Whoosh 2.7 answers None, not 0, for an empty field
            name: [reader.doc_field_length(n, name, 0) or 0 for n in range(size)]
            for name in scored_fields
        }
        return cls(metas, timestamps, bits, lengths)


class Snapshot:
    """Stored values of every document of one index generation, by Whoosh docnum."""

    def __init__(self, leaves: list[tuple[int, SegmentValues, Iterable[int]]]) -> None:
        self.metas: list[dict[str, Any]] = []
        self.bits: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
        self.lengths: dict[str, list[int]] = {}
        live: list[int] = []
        for offset, values, live_docnums in leaves:
            assert offset == len(self.metas)
            self.metas.extend(values.metas)
            for facet, by_value in values.bits.items():
                target = self.bits[facet]
                for value, bits in by_value.items():
                    target[value] = target.get(value, 0) | bits << offset
            for name, lengths in values.lengths.items():
                self.lengths.setdefault(name, []).extend(lengths)
            live.extend(offset + n for n in live_docnums)
        self.segments = [values for _offset, values, _live in leaves]
        self._vocabularies: dict[str, list[str]] = {}
        self.size = len(self.metas)
        self.live = mask_of(live, self.size)
        self.price = [m["monthly_fen"] for m in self.metas]
        timestamps = [t for _offset, values, _live in leaves for t in values.timestamps]
        # Position in newest-first order (ties by id), the tie-breaker of every sort.
        order = sorted(range(self.size), key=lambda n: (-timestamps[n], self.metas[n]["id"]))
        self.newest_rank = [0] * self.size
        for position, docnum in enumerate(order):
            self.newest_rank[docnum] = position
        self.average_length = {
            name: (sum(lengths) / len(lengths) if lengths else 1.0) or 1.0
            for name, lengths in self.lengths.items()
        }
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

    def terms_within(
        self, reader: Any, fields: Iterable[str], text: str, maxdist: int
    ) -> list[tuple[str, str]]:
        """(field, term) for the indexed terms within ``maxdist`` edits of ``text`` with the
        same first letter: a Levenshtein automaton walked over each field's vocabulary.

        Whoosh's FuzzyTerm builds the automaton per field, per segment and twice per search,
        and its merged term cursor (MultiCursor) finds nothing in Whoosh 2.7; the vocabulary
        is kept here per segment, read on first use."""
        dfa = _levenshtein(text, maxdist)
        found: list[tuple[str, str]] = []
        for name in fields:
            vocabulary = self._vocabulary(reader, name)
            position = 0
            match = dfa.next_valid_string(vocabulary[0]) if vocabulary else None
            while match is not None:
                position = bisect_left(vocabulary, match, position)
                if position == len(vocabulary):
                    break
                term = vocabulary[position]
                if term == match:
                    found.append((name, term))
                    term += "\0"
                match = dfa.next_valid_string(term)
        return found

    def _vocabulary(self, reader: Any, name: str) -> list[str]:
        if name not in self._vocabularies:
            leaves = [leaf for leaf, _offset in reader.leaf_readers() if leaf.doc_count_all()]
            words: set[str] = set()
            for leaf, values in zip(leaves, self.segments, strict=True):
                words.update(values.lexicon(leaf, name))
            self._vocabularies[name] = sorted(words)
        return self._vocabularies[name]


@lru_cache(maxsize=256)
def _levenshtein(text: str, maxdist: int) -> Any:
    return Automata.levenshtein_dfa(text, maxdist, 1)
