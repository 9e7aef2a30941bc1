"""Matching and BM25 scoring of a query tree of Whoosh Term, Or and And queries.

Whoosh's collector scores a match through a tree of matcher objects, about 9 µs per
matching document for a word searched in two fields: 25 ms for a word in 3,000 of 10,000
solutions, every one of which must be scored to rank and count. Reading the postings
directly, a block of up to 128 at a time, and scoring with the field lengths of the
snapshot costs well under 1 µs a posting; the postings of the words searched last are kept
per generation (snapshot.PostingCache), with each one's BM25 denominator, because a query
with its synonyms reads 40,000-120,000 postings at 100,000 listings and common words
(管理, 检测, 云) recur across queries. An AND evaluates its rarest part first and looks
the other parts up only for those candidates (in the kept postings, or block by block),
so a common word too large to keep is not read in full.

The score is Whoosh's BM25F (same idf, K1, B) times the query's boost, summed over the
terms that match, as Whoosh's Or and And sum them (tests/catalog/test_search_understanding.py
compares the order with Whoosh's own BM25F, so an upgrade that changes it is caught).
Two additions of the thesaurus and pain points (catalog/search/queries.py): a
DisjunctionMax takes the best of its parts (a word or one of its synonyms), and a pain
point's scenario scores its listings like one word found in as many documents.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate, compress
from math import log
from operator import truediv
from typing import Any

from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

from catalog.search.queries import Expansion, InScenario
from catalog.search.snapshot import Postings, Snapshot, docnums_of, mask_of

K1 = 1.2
_DIGITS_TO_FLAGS = bytes.maketrans(b"01", b"\x00\x01")
B = 0.75
TERM_MASKS = 4096  # bitsets of the terms searched last, per generation (12.5 kB each at 100,000)
PROBE_RATIO = 4  # look candidates up one by one while they are 4x fewer than the postings


class Scorer:
    """Scores queries against one reader (one generation) and its snapshot."""

    def __init__(self, reader: Any, snapshot: Snapshot) -> None:
        self.reader = reader
        self.snapshot = snapshot
        self.leaves = [
            (leaf, offset, leaf.doc_count_all()) for leaf, offset in reader.leaf_readers()
        ]
        self.documents = max(reader.doc_count_all(), 1)
        self._read: dict[tuple[str, str], Postings] = {}  # this query's full reads
        self._flag_cache: tuple[int, bytes] | None = None

    def scores(self, q: wq.Query, within: list[int] | None = None) -> dict[int, float]:
        """docnum -> score of the documents matching ``q`` (among ``within``, ascending
        docnums, when given)."""
        if isinstance(q, wq.Term):
            floor = q.floor if isinstance(q, Expansion) else 0
            return self._term(q.fieldname, q.text, q.boost, within, floor)
        if isinstance(q, wq.And):
            return self._and(q.subqueries, within)
        if isinstance(q, wq.DisjunctionMax):
            best: dict[int, float] = {}
            for child in q.subqueries:
                _keep_best(best, self.scores(child, within))
            return best
        if isinstance(q, InScenario):
            return self._scenario(q, within)
        if isinstance(q, wq.Or):
            merged: dict[int, float] = {}
            for child in q.subqueries:
                _add(merged, self.scores(child, within))
            return merged
        if q is wq.NullQuery:
            return {}
        raise TypeError(f"cannot score {q!r}")

    def matches(self, q: wq.Query) -> int:
        """The bitset of the documents matching ``q``: the keys of ``scores(q)`` (deleted
        documents included, as there), without scoring them."""
        if isinstance(q, wq.Term):
            postings = self._postings(q.fieldname, q.text, None)
            return 0 if postings is None else self._mask(q.fieldname, q.text, postings[0])
        if isinstance(q, wq.And):
            found = -1
            for child in q.subqueries:
                found &= self.matches(child)
                if not found:
                    break
            return max(found, 0)
        if isinstance(q, wq.Or | wq.DisjunctionMax):  # scores are positive: every match counts
            found = 0
            for child in q.subqueries:
                found |= self.matches(child)
            return found
        if isinstance(q, InScenario):
            return self._scenario_mask(q.scenario)
        if q is wq.NullQuery:
            return 0
        raise TypeError(f"cannot score {q!r}")

    def scores_in(self, q: wq.Query, mask: int) -> dict[int, float]:
        """The scores of ``scores(q)`` for the documents in the bitset ``mask`` only (the
        same values: each is summed, or the best taken, in the same order)."""
        if not mask:
            return {}
        if isinstance(q, wq.Term):
            floor = q.floor if isinstance(q, Expansion) else 0
            return self._term_in(q.fieldname, q.text, q.boost, mask, floor)
        if isinstance(q, wq.And):
            if not q.subqueries:
                return {}
            ordered = sorted(q.subqueries, key=self.estimate)
            result = self.scores_in(ordered[0], mask)
            for child in ordered[1:]:
                if not result:
                    break
                part = self.scores_in(child, mask_of(result, self.snapshot.size))
                result = {d: score + part[d] for d, score in result.items() if d in part}
            return result
        if isinstance(q, wq.DisjunctionMax):
            best: dict[int, float] = {}
            for child in q.subqueries:
                _keep_best(best, self.scores_in(child, mask))
            return best
        if isinstance(q, InScenario):
            return self._scenario(q, docnums_of(self._scenario_mask(q.scenario) & mask))
        if isinstance(q, wq.Or):
            merged: dict[int, float] = {}
            for child in q.subqueries:
                _add(merged, self.scores_in(child, mask))
            return merged
        if q is wq.NullQuery:
            return {}
        raise TypeError(f"cannot score {q!r}")

    def _mask(self, field: str, text: str, docnums: Any) -> int:
        key = (field, text)
        masks = self.snapshot.term_masks
        mask = masks.get(key)
        if mask is None:
            mask = mask_of(docnums, self.snapshot.size)
            if len(masks) >= TERM_MASKS:
                masks.clear()
            masks[key] = mask
        return mask

    def _flags(self, mask: int) -> bytes:
        """One byte per document, 1 for those in ``mask``."""
        if self._flag_cache is None or self._flag_cache[0] != mask:
            flags = bin(mask)[:1:-1].encode("ascii").translate(_DIGITS_TO_FLAGS)
            self._flag_cache = (mask, flags.ljust(self.snapshot.size + 1, b"\0"))
        return self._flag_cache[1]

    def _term_in(
        self, field: str, text: str, boost: float, mask: int, floor: int
    ) -> dict[int, float]:
        postings = self._postings(field, text, None)
        if postings is None:
            return {}
        docnums, tfs, denominators = postings
        frequency = max(self.reader.doc_frequency(field, text), floor)
        idf = log(self.documents / (frequency + 1)) + 1
        scale = idf * boost * (K1 + 1)
        wanted = bytes(map(self._flags(mask).__getitem__, docnums))
        quotients = map(
            truediv, map(scale.__mul__, compress(tfs, wanted)), compress(denominators, wanted)
        )
        return dict(zip(compress(docnums, wanted), quotients, strict=True))

    def estimate(self, q: wq.Query) -> int:
        """An upper bound of the number of matches."""
        if isinstance(q, wq.Term):
            return self.reader.doc_frequency(q.fieldname, q.text)
        if isinstance(q, wq.And):
            return min((self.estimate(child) for child in q.subqueries), default=0)
        if isinstance(q, wq.Or | wq.DisjunctionMax):
            return sum(self.estimate(child) for child in q.subqueries)
        if isinstance(q, InScenario):
            return self._scenario_mask(q.scenario).bit_count()
        return 0

    def _scenario_mask(self, scenario: str) -> int:
        return self.snapshot.bits["scenario"].get(scenario, 0) & self.snapshot.live

    def _scenario(self, q: InScenario, within: list[int] | None) -> dict[int, float]:
        mask = self._scenario_mask(q.scenario)
        idf = log(self.documents / (mask.bit_count() + 1)) + 1
        docnums = docnums_of(mask)
        if within is not None:
            wanted = set(within)
            docnums = [d for d in docnums if d in wanted]
        return dict.fromkeys(docnums, idf * q.boost)

    def _and(self, children: list[wq.Query], within: list[int] | None) -> dict[int, float]:
        if not children:
            return {}
        ordered = sorted(children, key=self.estimate)
        result = self.scores(ordered[0], within)
        for child in ordered[1:]:
            if not result:
                break
            candidates = sorted(result)
            probe = len(candidates) * PROBE_RATIO < self.estimate(child)
            part = self.scores(child, candidates if probe else within)
            result = {d: score + part[d] for d, score in result.items() if d in part}
        return result

    def _term(
        self, field: str, text: str, boost: float, within: list[int] | None, floor: int = 0
    ) -> dict[int, float]:
        postings = self._postings(field, text, within)
        if postings is None:
            return {}
        docnums, tfs, denominators = postings
        frequency = max(self.reader.doc_frequency(field, text), floor)
        idf = log(self.documents / (frequency + 1)) + 1
        scale = idf * boost * (K1 + 1)
        if within is None:  # scale * tf / denominator, in C loops
            quotients = map(truediv, map(scale.__mul__, tfs), denominators)
            return dict(zip(docnums, quotients, strict=True))
        scores: dict[int, float] = {}
        position, count = 0, len(docnums)
        for docnum in within:
            position = bisect_left(docnums, docnum, position)
            if position == count:
                break
            if docnums[position] == docnum:
                scores[docnum] = scale * tfs[position] / denominators[position]
        return scores

    def _postings(self, field: str, text: str, within: list[int] | None) -> Postings | None:
        """The term's postings: all of them (kept in the snapshot's cache when they fit),
        or only those of ``within`` when they would not fit (``within`` is much smaller)."""
        key = (field, text)
        postings = self._read.get(key) or self.snapshot.postings.get(key)
        if postings is None:
            if not self.reader.doc_frequency(field, text):
                return None  # not in the index (a thesaurus word no listing says)
            if within is not None and self.snapshot.postings.fits(
                self.reader.doc_frequency(field, text)
            ):
                within = None  # read them all once, and keep them, rather than probe
            weights = self._weights(field, text, within)
            if not weights:
                return None
            lengths = self.snapshot.lengths[field]
            flat = K1 * (1 - B)
            per_token = K1 * B / self.snapshot.average_length[field]
            # BM25's denominator per posting, as Whoosh's BM25F computes it
            postings = (
                array("I", weights),
                array("d", weights.values()),
                array("d", (tf + flat + per_token * lengths[d] for d, tf in weights.items())),
            )
            if within is None:
                self._read[key] = postings
                self.snapshot.postings.put(key, postings)
        return postings

    def _weights(self, field: str, text: str, within: list[int] | None) -> dict[int, float]:
        """docnum -> term frequency, from the posting lists of every segment."""
        weights: dict[int, float] = {}
        for leaf, offset, size in self.leaves:
            if size == 0:
                continue
            try:
                matcher = leaf.postings(field, text)
            except TermNotFound:
                continue
            if within is None:
                read = _read_all_blocks if type(matcher) is W3LeafMatcher else _read_all
                read(matcher, offset, weights)
                continue
            start, stop = bisect_left(within, offset), bisect_left(within, offset + size)
            if start == stop:
                continue
            read_some = _read_blocks_of if type(matcher) is W3LeafMatcher else _read_some
            read_some(matcher, offset, within[start:stop], weights)
        return weights


# An OR sums its parts' scores and a DisjunctionMax keeps the best; with the dicts' own C
# loops (copy, update, key intersection) doing the work, and Python only for the documents
# in both. Same values in the same key order as the plain loops (_add_each, _keep_best_each:
# tests/catalog/test_search_scale.py), for positive scores; others take the plain loops.


def _positive(part: dict[int, float]) -> bool:
    return min(part.values(), default=1.0) > 0.0


def _add_each(merged: dict[int, float], part: dict[int, float]) -> None:
    for docnum, score in part.items():
        merged[docnum] = merged.get(docnum, 0.0) + score


def _add(merged: dict[int, float], part: dict[int, float]) -> None:
    """merged[d] += part[d], a missing one counting 0.0."""
    if not _positive(part):  # 0.0 + -0.0 is 0.0, not -0.0
        _add_each(merged, part)
        return
    sums = {docnum: merged[docnum] + part[docnum] for docnum in part.keys() & merged.keys()}
    merged.update(part)
    merged.update(sums)


def _keep_best_each(best: dict[int, float], part: dict[int, float]) -> None:
    for docnum, score in part.items():
        if score > best.get(docnum, 0.0):
            best[docnum] = score


def _keep_best(best: dict[int, float], part: dict[int, float]) -> None:
    """best[d] = part[d] where that is higher (than 0.0 for a missing one)."""
    if not _positive(part):
        _keep_best_each(best, part)
        return
    kept = {d: best[d] for d in part.keys() & best.keys() if not part[d] > best[d]}
    best.update(part)
    best.update(kept)


# Whoosh's matcher interface costs four Python calls per posting; Whoosh 2.7's on-disk
# matcher (W3LeafMatcher) decodes a block of up to 128 postings at a time into arrays, which
# these read directly: a block's ids and weights are taken whole, and a block without a
# wanted document is skipped undecoded. Other matchers go through the interface.
# tests/catalog/test_search_understanding.py checks both give the same.


def _read_all(matcher: Any, offset: int, weights: dict[int, float]) -> None:
    while matcher.is_active():
        weights[matcher.id() + offset] = matcher.weight()
        matcher.next()


def _read_some(matcher: Any, offset: int, wanted: list[int], weights: dict[int, float]) -> None:
    for docnum in wanted:
        matcher.skip_to(docnum - offset)
        if not matcher.is_active():
            break
        if matcher.id() == docnum - offset:
            weights[docnum] = matcher.weight()


def _block(matcher: W3LeafMatcher) -> tuple[Any, Any]:
    """The ids and weights of the matcher's current block (decoded on first use)."""
    if matcher._ids is None:
        # W3LeafMatcher._read_ids, with the deltas summed by accumulate, not a generator
        if matcher._data is None:
            matcher._read_data()
        ids = matcher._data[0]
        matcher._ids = ids if matcher._byteids else tuple(accumulate(ids))
    if matcher._weights is None:
        matcher._read_weights()
    return matcher._ids, matcher._weights


def _read_all_blocks(matcher: W3LeafMatcher, offset: int, weights: dict[int, float]) -> None:
    while matcher.is_active():
        ids, block_weights = _block(matcher)
        if offset:
            ids = [docnum + offset for docnum in ids]
        weights.update(zip(ids, block_weights, strict=True))
        matcher._next_block()


def _read_blocks_of(
    matcher: W3LeafMatcher, offset: int, wanted: list[int], weights: dict[int, float]
) -> None:
    position, count = 0, len(wanted)
    while position < count and matcher.is_active():
        last = matcher.block_max_id() + offset
        if wanted[position] > last:  # no wanted document in this block
            matcher._next_block()
            continue
        end = bisect_right(wanted, last, position)
        ids, block_weights = _block(matcher)
        block = dict(zip(ids, block_weights, strict=True))
        for docnum in wanted[position:end]:
            weight = block.get(docnum - offset)
            if weight is not None:
                weights[docnum] = weight
        position = end
        matcher._next_block()
