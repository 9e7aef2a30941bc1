"""Per index generation: the stored values that filters, facets and sorts need, as lists
and integer bitsets.

Filters, facet counts and sorting run on these instead of through Whoosh: a facet count is
``(matches & bits[facet][value]).bit_count()``, a few microseconds for 10,000 documents,
where Whoosh's faceting reads a column per matching document per facet. Whoosh segments are
immutable, so values are loaded once per segment and reused by later generations; only the
set of live (not deleted) documents is recomputed per generation.

Reading them from Whoosh (every document's pickled stored fields and field lengths) takes
about 40 µs a document, 4 s for 100,000: a segment's values are also written next to it
(``values-<segment id>.pickle`` in the generation's directory; a rebuild writes them before
the generation goes live), so a process opening the index reads them in milliseconds. The
rest of a listing (name, summary) is read from Whoosh's stored fields for the page shown.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import uuid
from array import array
from bisect import bisect_left
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from itertools import compress, repeat
from math import isnan, nan
from pathlib import Path
from typing import Any

from whoosh.codec.base import Automata

from catalog.search.model import FACETS, price_band

VALUES_FORMAT = 1  # of the values files; a file of another format is ignored
VALUES_PREFIX = "values-"
VALUES_SUFFIX = ".pickle"
# Segments smaller than this are read from Whoosh every time (cheap) and get no file: the
# small segments of upserts are soon merged away (catalog/search/index.py, SMALL_SEGMENT).
VALUES_FILE_MIN_DOCS = 500
_NO_PRICE = -(2**63)  # None in a values file's prices


# Bitsets go through their binary digits, one byte each, so that Python's C loops (int and
# bin in base 2, map, compress) do the per-document work.
_DIGITS_TO_BITS = bytes.maketrans(b"01", b"\x00\x01")


def mask_of(docnums: Iterable[int], size: int) -> int:
    """The bitset with these document numbers set (each below ``size``)."""
    digits = bytearray(b"0") * (size + 1)
    deque(map(digits.__setitem__, docnums, repeat(ord("1"))), maxlen=0)
    digits.reverse()
    return int(digits, 2)


def docnums_of(mask: int) -> list[int]:
    """The document numbers set in a bitset, ascending."""
    bits = bin(mask)[:1:-1].encode("ascii").translate(_DIGITS_TO_BITS)
    return list(compress(range(len(bits)), bits))


def _facet_values(meta: dict[str, Any]) -> Iterable[tuple[str, Iterable[str]]]:
    yield "industry", meta["industries"]
    yield "scenario", meta["scenarios"]
    yield "delivery", (meta["delivery"],)
    yield "billing_model", meta["billing_models"]
    yield "voucher_kind", meta["voucher_kinds"]
    yield "price_band", (price_band(meta["monthly_fen"]),)


@dataclass(frozen=True, slots=True)
class SegmentValues:
    """Stored values of one Whoosh segment (deleted documents included), by segment docnum."""

    ids: list[int]  # solution id
    prices: list[int | None]  # monthly_fen
    ratings: list[float | None]
    rating_counts: list[int]
    timestamps: list[float]  # published_at
    bits: dict[str, dict[str, int]]  # facet -> value -> bitset of segment docnums
    lengths: dict[str, array]  # scored field -> tokens per document, for BM25
    lexicons: dict[str, list[str]] = field(default_factory=dict)  # field -> terms, on demand

    def lexicon(self, reader: Any, name: str) -> list[str]:
        """The sorted terms of a field in this segment (read once)."""
        if name not in self.lexicons:
            self.lexicons[name] = [term.decode("utf-8") for term in reader.lexicon(name)]
        return self.lexicons[name]

    @classmethod
    def load(cls, reader: Any, scored_fields: Iterable[str]) -> SegmentValues:
        """Read the values of a segment from Whoosh (slow: every document's stored fields)."""
        size = reader.doc_count_all()
        metas = [reader.stored_fields(n)["meta"] for n in range(size)]
        members: dict[str, dict[str, list[int]]] = {facet: {} for facet in FACETS}
        for docnum, meta in enumerate(metas):
            for facet, values in _facet_values(meta):
                for value in values:
                    members[facet].setdefault(value, []).append(docnum)
        bits = {
            facet: {value: mask_of(nums, size) for value, nums in by_value.items()}
            for facet, by_value in members.items()
        }
        lengths = {  # Whoosh 2.7 answers None, not 0, for an empty field
            name: array("I", (reader.doc_field_length(n, name, 0) or 0 for n in range(size)))
            for name in scored_fields
        }
        return cls(
            ids=[m["id"] for m in metas],
            prices=[m["monthly_fen"] for m in metas],
            ratings=[m["rating"] for m in metas],
            rating_counts=[m["rating_count"] for m in metas],
            timestamps=[datetime.fromisoformat(m["published_at"]).timestamp() for m in metas],
            bits=bits,
            lengths=lengths,
        )

    @classmethod
    def cached(
        cls, reader: Any, scored_fields: Iterable[str], directory: Path, segment_id: str
    ) -> SegmentValues:
        """The segment's values from its file in ``directory``; read from Whoosh, and the
        file written, when there is none (or it is unreadable)."""
        path = directory / f"{VALUES_PREFIX}{segment_id}{VALUES_SUFFIX}"
        size = reader.doc_count_all()
        values = cls.read(path, size) if size >= VALUES_FILE_MIN_DOCS else None
        if values is None:
            values = cls.load(reader, scored_fields)
            if size >= VALUES_FILE_MIN_DOCS:
                values.write(path)
        return values

    def write(self, path: Path) -> None:
        """Save to ``path`` (atomically; a failure to write is not an error: the values are
        read from Whoosh again next time)."""
        state = {
            "format": VALUES_FORMAT,
            "ids": array("q", self.ids),
            "prices": array("q", (_NO_PRICE if p is None else p for p in self.prices)),
            "ratings": array("d", (nan if r is None else r for r in self.ratings)),
            "rating_counts": array("q", self.rating_counts),
            "timestamps": array("d", self.timestamps),
            "bits": {
                facet: {
                    value: bits.to_bytes((bits.bit_length() + 7) // 8, "little")
                    for value, bits in by_value.items()
                }
                for facet, by_value in self.bits.items()
            },
            "lengths": self.lengths,
        }
        temporary = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            with open(temporary, "wb") as handle:
                pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()

    @classmethod
    def read(cls, path: Path, size: int) -> SegmentValues | None:
        """The values saved at ``path`` for a segment of ``size`` documents; None when
        there is no such file or it does not hold them."""
        try:
            with open(path, "rb") as handle:
                state = pickle.load(handle)
            if state["format"] != VALUES_FORMAT or len(state["ids"]) != size:
                return None
            return cls(
                ids=state["ids"].tolist(),
                prices=[None if p == _NO_PRICE else p for p in state["prices"].tolist()],
                ratings=[None if isnan(r) else r for r in state["ratings"].tolist()],
                rating_counts=state["rating_counts"].tolist(),
                timestamps=state["timestamps"].tolist(),
                bits={
                    facet: {value: int.from_bytes(b, "little") for value, b in by_value.items()}
                    for facet, by_value in state["bits"].items()
                },
                lengths=state["lengths"],
            )
        except FileNotFoundError:
            return None
        except Exception:  # a damaged or foreign file: read from Whoosh
            return None


def remove_values_files(directory: Path, keep: set[str]) -> None:
    """Remove the values files of segments not in ``keep`` (merged away)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(VALUES_PREFIX) and (
            name.endswith(".tmp")
            or (
                name.endswith(VALUES_SUFFIX)
                and name[len(VALUES_PREFIX) : -len(VALUES_SUFFIX)] not in keep
            )
        ):
            with contextlib.suppress(OSError):
                os.unlink(directory / name)


class Snapshot:
    """Stored values of every document of one index generation, by Whoosh docnum."""

    def __init__(self, leaves: list[tuple[int, SegmentValues, int]]) -> None:
        """``leaves``: (first docnum, values, bitset of the live docnums in the segment)."""
        self.ids: list[int] = []
        self.prices: list[int | None] = []
        self.ratings: list[float | None] = []
        self.rating_counts: list[int] = []
        self.bits: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
        self.lengths: dict[str, array] = {}
        timestamps: list[float] = []
        self.live = 0
        for offset, values, live in leaves:
            assert offset == len(self.ids)
            self.ids += values.ids
            self.prices += values.prices
            self.ratings += values.ratings
            self.rating_counts += values.rating_counts
            timestamps += values.timestamps
            for facet, by_value in values.bits.items():
                target = self.bits[facet]
                for value, bits in by_value.items():
                    target[value] = target.get(value, 0) | bits << offset
            for name, lengths in values.lengths.items():
                self.lengths.setdefault(name, array(lengths.typecode)).extend(lengths)
            self.live |= live << offset
        self.segments = [values for _offset, values, _live in leaves]
        self._vocabularies: dict[str, list[str]] = {}
        self.size = len(self.ids)
        # Position in newest-first order (ties by id), the tie-breaker of every sort.
        keys = list(zip([-t for t in timestamps], self.ids, strict=True))
        order = sorted(range(self.size), key=keys.__getitem__)
        self.newest_rank = [0] * self.size
        for position, docnum in enumerate(order):
            self.newest_rank[docnum] = position
        self.average_length = {
            name: (sum(lengths) / len(lengths) if lengths else 1.0) or 1.0
            for name, lengths in self.lengths.items()
        }
        self._price_caps: dict[int, int] = {}
        self._positions: dict[str, list[int]] = {"newest": self.newest_rank}
        self.frequencies: dict[tuple[str, str], int] = {}  # for FrequencyCache
        self.postings = PostingCache()
        self.term_masks: dict[tuple[str, str], int] = {}  # scoring.Scorer.matches

    def sort_key(self, sort: str) -> Callable[[int], Any]:
        """The key of ``sort`` ("newest", "price_asc", "price_desc", "rating") for a
        docnum; newest first breaks every tie."""
        rank, prices = self.newest_rank, self.prices
        ratings, counts = self.ratings, self.rating_counts
        keys: dict[str, Callable[[int], Any]] = {
            "newest": rank.__getitem__,
            "price_asc": lambda n: (prices[n] is None, prices[n] or 0, rank[n]),
            "price_desc": lambda n: (prices[n] is None, -(prices[n] or 0), rank[n]),
            "rating": lambda n: (ratings[n] is None, -(ratings[n] or 0.0), -counts[n], rank[n]),
        }
        return keys[sort]

    def positions(self, sort: str, *, compute: bool = True) -> list[int] | None:
        """Each document's position in the order of ``sort`` (see sort_key), sorted once
        per generation; None when not sorted yet and not ``compute``."""
        positions = self._positions.get(sort)
        if positions is None and compute:
            positions = [0] * self.size
            for position, docnum in enumerate(sorted(range(self.size), key=self.sort_key(sort))):
                positions[docnum] = position
            self._positions[sort] = positions
        return positions

    def price_cap(self, max_fen: int) -> int:
        """Documents with a monthly price <= max_fen."""
        if max_fen not in self._price_caps:
            if len(self._price_caps) > 64:
                self._price_caps.clear()
            self._price_caps[max_fen] = mask_of(
                (n for n, p in enumerate(self.prices) if p is not None and p <= max_fen), self.size
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


# A term's postings in a generation: docnums (ascending), term frequencies and BM25
# denominators (catalog/search/scoring.py).
Postings = tuple[array, array, array]


class PostingCache:
    """The postings of the terms searched last, up to ``limit`` postings in all (about 20
    bytes each): common words (管理, 检测, 云) recur in many queries, and reading a
    posting from Whoosh costs about ten times scoring it."""

    def __init__(self, limit: int = 1_500_000) -> None:
        self.limit = limit
        self._entries: OrderedDict[tuple[str, str], Postings] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Postings | None:
        with self._lock:
            postings = self._entries.get(key)
            if postings is not None:
                self._entries.move_to_end(key)
            return postings

    def fits(self, size: int) -> bool:
        """Whether postings this many are kept (a quarter of the limit at most)."""
        return size <= self.limit // 4

    def put(self, key: tuple[str, str], postings: Postings) -> None:
        size = len(postings[0])
        if not self.fits(size):
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = postings
            self._size += size
            while self._size > self.limit:
                _key, evicted = self._entries.popitem(last=False)
                self._size -= len(evicted[0])


class FrequencyCache:
    """A Whoosh reader whose document frequencies are kept in ``cache`` (a snapshot's: one
    generation's). A query asks for them many times: for each thesaurus word, its idf
    floors, the matched terms; on a reader of several segments each answer sums theirs."""

    MAX_ENTRIES = 100_000

    def __init__(self, reader: Any, cache: dict[tuple[str, str], int]) -> None:
        self._reader = reader
        self._cache = cache

    def doc_frequency(self, fieldname: str, text: str) -> int:
        key = (fieldname, text)
        frequency = self._cache.get(key)
        if frequency is None:
            frequency = self._reader.doc_frequency(fieldname, text)
            if len(self._cache) >= self.MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = frequency
        return frequency

    def __contains__(self, term: object) -> bool:
        return term in self._reader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)
