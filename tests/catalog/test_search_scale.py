"""The search engine's machinery for large catalogs (bench/search.py --sizes 10000,100000):
segment merging after a rebuild, the stored values saved per segment, block-wise posting
reads, the posting cache, and bitset and ordering helpers. None of these is timed: each
checks a behaviour whose absence made 100,000 listings slow."""

from __future__ import annotations

import random
import subprocess
import sys
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from whoosh import query as wq
from whoosh.codec.whoosh3 import W3LeafMatcher

import catalog.search.snapshot as snapshot_module
from catalog.search import SearchIndex, SearchQuery, SolutionDoc, building, scoring
from catalog.search import engine as engine_module
from catalog.search.snapshot import PostingCache, SegmentValues, docnums_of, mask_of

EPOCH = datetime(2025, 6, 1, tzinfo=UTC)
WORDS = ("质检", "排产", "能耗", "仓储", "算力")


def corpus(count: int, start: int = 1) -> list[SolutionDoc]:
    rng = random.Random(count * 7919 + start)
    docs = []
    for doc_id in range(start, start + count):
        word = WORDS[doc_id % len(WORDS)]
        priced = doc_id % 4 != 0
        rated = doc_id % 3 != 0
        docs.append(
            SolutionDoc(
                id=doc_id,
                slug=f"s-{doc_id}",
                name=f"{word}管理系统{doc_id % 7}",
                summary=f"面向制造企业的{word}平台，管理{'、'.join(rng.sample(WORDS, 2))}。",
                description="管理 " * rng.randint(1, 4),
                industries=(rng.choice(("C13", "C17", "C34")),),
                scenarios=(rng.choice(("pm.quality", "pm.energy", "op.office")),),
                billing_models=("subscription",),
                voucher_kinds=("cloud",) if doc_id % 2 else (),
                monthly_fen=rng.choice((10_000, 50_000, 50_000, 300_000)) if priced else None,
                published_at=EPOCH - timedelta(minutes=rng.randint(0, 5) * 60),
                rating=rng.choice((4.0, 4.5, 5.0)) if rated else None,
                rating_count=rng.randint(1, 3) if rated else 0,
            )
        )
    return docs


def segment_sizes(index: SearchIndex) -> list[int]:
    with index._searcher() as (_name, searcher):
        return sorted(leaf.doc_count_all() for leaf, _offset in searcher.reader().leaf_readers())


def everything(index: SearchIndex, q: str = "", **filters: object) -> list[tuple]:
    """Every result page of a query, as comparable values."""
    results = []
    for sort in ("relevance", "newest", "price_asc", "price_desc", "rating"):
        result = index.search(SearchQuery(q=q, sort=sort, per_page=100, **filters))  # type: ignore[arg-type]
        results.append(
            (
                result.total,
                result.facets,
                [(h.id, h.score, h.highlights, h.partial) for h in result.hits],
            )
        )
    return results


def test_writes_after_a_rebuild_leave_its_segments_unmerged(tmp_path: Path, monkeypatch):
    """Whoosh's MERGE_SMALL merged about half of a 40-segment rebuild into each upsert's
    commit: 90 s under the write lock at 100,000 listings."""
    monkeypatch.setattr(building, "BUILD_BATCH", 10)
    monkeypatch.setattr(building, "SMALL_SEGMENT", 8)
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(120))
    assert segment_sizes(index) == [10] * 12

    index.upsert(corpus(1, start=500))
    assert segment_sizes(index) == [1] + [10] * 12

    for n in range(10):  # upserts' own small segments are still merged among themselves
        index.upsert(corpus(1, start=600 + n))
    sizes = segment_sizes(index)
    assert sizes.count(10) == 12
    assert len(sizes) - 12 < 11
    assert sum(sizes) == 131
    assert index.doc_count() == 131


def test_rebuild_saves_the_stored_values_a_new_process_reads(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(building, "BUILD_BATCH", 40)
    monkeypatch.setattr(snapshot_module, "VALUES_FILE_MIN_DOCS", 30)
    docs = corpus(100)  # segments of 40, 40 and 20: the last gets no file
    index = SearchIndex(tmp_path / "index")
    index.rebuild(docs)
    assert len(list(index.location.glob("values-*.pickle"))) == 2
    expected = everything(index, "质检") + everything(index, industry="C17")
    index.close()

    fresh = SearchIndex(tmp_path / "index")  # as a new process: nothing in memory
    read_from_whoosh = []
    original = SegmentValues.load.__func__

    def load(cls, reader, fields):
        read_from_whoosh.append(reader.doc_count_all())
        return original(cls, reader, fields)

    monkeypatch.setattr(SegmentValues, "load", classmethod(load))
    assert everything(fresh, "质检") + everything(fresh, industry="C17") == expected
    assert read_from_whoosh == [20]


def test_a_damaged_values_file_is_read_from_whoosh_again(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(snapshot_module, "VALUES_FILE_MIN_DOCS", 10)
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(60))
    expected = everything(index, "排产")
    index.close()
    (saved,) = index.location.glob("values-*.pickle")
    saved.write_bytes(b"not a pickle")

    fresh = SearchIndex(tmp_path / "index")
    assert everything(fresh, "排产") == expected
    assert saved.read_bytes() != b"not a pickle"  # written again


def test_values_files_of_merged_segments_are_removed(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(snapshot_module, "VALUES_FILE_MIN_DOCS", 1)
    monkeypatch.setattr(building, "SMALL_SEGMENT", 1000)  # every segment merges
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(10))
    for n in range(6):
        index.upsert(corpus(1, start=100 + n))
        index.search(SearchQuery(q="质检"))
    with index._searcher() as (_name, searcher):
        live = {leaf.segment().segment_id() for leaf, _ in searcher.reader().leaf_readers()}
    saved = {
        p.name.removeprefix("values-").removesuffix(".pickle")
        for p in index.location.glob("values-*")
    }
    assert saved == live


def test_block_reads_of_postings_match_whooshs_matcher(tmp_path: Path, monkeypatch):
    """The scorer reads Whoosh 2.7's blocks of postings directly; an upgrade that renames
    the matcher class or its block attributes fails here (pyproject pins 2.7.x)."""
    monkeypatch.setattr(building, "BUILD_BATCH", 400)
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(1000))  # 管理 in every document: several blocks per segment
    with index._searcher() as (_name, searcher):
        reader = searcher.reader()
        leaves = list(reader.leaf_readers())
        assert len(leaves) == 3
        rng = random.Random(5)
        for field, text in (("body", "管理"), ("body", "质检"), ("name", "排产")):
            for leaf, offset in leaves:
                matcher = leaf.postings(field, text)
                assert type(matcher) is W3LeafMatcher
                fast: dict[int, float] = {}
                scoring._read_all_blocks(matcher, offset, fast)
                slow: dict[int, float] = {}
                scoring._read_all(leaf.postings(field, text), offset, slow)
                assert fast == slow and list(fast) == list(slow) and len(slow) > 0
                size = leaf.doc_count_all()
                wanted = sorted(rng.sample(range(offset, offset + size), size // 9))
                fast, slow = {}, {}
                scoring._read_blocks_of(leaf.postings(field, text), offset, wanted, fast)
                scoring._read_some(leaf.postings(field, text), offset, wanted, slow)
                assert fast == slow and list(fast) == list(slow)


def test_cached_postings_score_as_read_ones(tmp_path: Path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(300))
    first = everything(index, "质检 管理") + everything(index, "能耗")
    with index._searcher() as (name, searcher):
        assert index._snapshot(name, searcher).postings.get(("body", "管理")) is not None
    assert everything(index, "质检 管理") + everything(index, "能耗") == first

    q = wq.And([wq.Term("body", "质检"), wq.Term("body", "管理")])
    with index._searcher() as (name, searcher):
        snapshot = index._snapshot(name, searcher)
        cached = scoring.Scorer(searcher.reader(), snapshot).scores(q)
        snapshot.postings = PostingCache(limit=0)  # nothing kept: probes read Whoosh
        assert scoring.Scorer(searcher.reader(), snapshot).scores(q) == cached


def test_posting_cache_keeps_the_latest_within_its_limit():
    cache = PostingCache(limit=100)

    def postings(size: int):
        return (list(range(size)), [1.0] * size, [2.0] * size)

    cache.put(("body", "a"), postings(20))
    cache.put(("body", "b"), postings(25))
    cache.put(("body", "huge"), postings(26))  # over a quarter of the limit: not kept
    assert cache.get(("body", "huge")) is None
    cache.get(("body", "a"))  # used last: b goes first
    for word in "cdefg":
        cache.put(("body", word), postings(20))
    assert cache.get(("body", "b")) is None
    assert cache.get(("body", "g")) is not None
    assert cache._size <= 100


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 64, 1000])
def test_bitsets_round_trip(size: int):
    rng = random.Random(size)
    for density in (0.0, 0.1, 0.5, 1.0):
        docnums = sorted(n for n in range(size) if rng.random() < density)
        mask = mask_of(docnums, size)
        assert mask == sum(1 << n for n in docnums)
        assert docnums_of(mask) == docnums


def test_result_order_is_the_sort_key_order():
    """engine._first orders by tuples built by zip and map; the same as sorting by the
    sort's key, newest first breaking ties, partial matches last."""

    class Snap:
        pass

    rng = random.Random(3)
    size = 400
    snap = Snap()
    snap.prices = [rng.choice((None, 100, 200, 300)) for _ in range(size)]
    snap.ratings = [rng.choice((None, 4.0, 4.5)) for _ in range(size)]
    snap.rating_counts = [rng.randint(0, 3) for _ in range(size)]
    snap.newest_rank = rng.sample(range(size), size)
    snap._positions = {"newest": snap.newest_rank}
    snap.size = size
    snap.positions = snapshot_module.Snapshot.positions.__get__(snap)
    snap.sort_key = snapshot_module.Snapshot.sort_key.__get__(snap)
    rank, prices, ratings, counts = snap.newest_rank, snap.prices, snap.ratings, snap.rating_counts
    scores = {n: rng.choice((1.0, 2.0, 3.5)) for n in range(0, size, 2)}
    keys = {
        "newest": rank.__getitem__,
        "price_asc": lambda n: (prices[n] is None, prices[n] or 0, rank[n]),
        "price_desc": lambda n: (prices[n] is None, -(prices[n] or 0), rank[n]),
        "rating": lambda n: (ratings[n] is None, -(ratings[n] or 0.0), -counts[n], rank[n]),
        "relevance": lambda n: (-scores.get(n, 0.0), rank[n]),
    }
    docnums = sorted(rng.sample(range(size), 300))
    partial = set(rng.sample(docnums, 40))
    for sort, key in keys.items():
        query = SearchQuery(sort=sort)
        for chosen in (set(), partial):
            full = (lambda n, key=key, chosen=chosen: (n in chosen, key(n))) if chosen else key
            for wanted in (5, 60, 200, 400):
                for few in (docnums[:30], docnums):  # by key, and by the sorted positions
                    got = engine_module._first(query, snap, scores, chosen, few, wanted)  # type: ignore[arg-type]
                    assert got == sorted(few, key=full)[:wanted]


def test_or_and_best_of_merges_equal_the_plain_loops():
    rng = random.Random(11)
    for _ in range(50):
        parts = [
            {
                d: rng.choice((0.5, 1.25, 3.0, rng.random() + 0.01))
                for d in rng.sample(range(60), 25)
            }
            for _ in range(3)
        ]
        parts.append({5: 0.0, 7: -0.0, 9: 1.0})  # not all positive: the plain loops
        for fast, plain in (
            (scoring._add, scoring._add_each),
            (scoring._keep_best, scoring._keep_best_each),
        ):
            got: dict[int, float] = {}
            expected: dict[int, float] = {}
            for part in parts:
                fast(got, part)
                plain(expected, part)
                assert got == expected and list(got) == list(expected)
                assert [str(v) for v in got.values()] == [str(v) for v in expected.values()]


def test_a_search_process_does_not_hold_the_index_files_in_memory(tmp_path: Path):
    """Through mmap, Whoosh 2.7 copies each file of a segment into a BytesIO: every search
    process held the whole index on its heap (150 MB at 100,000 listings)."""
    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(1000))
    on_disk = sum(f.stat().st_size for f in index.location.glob("*.seg"))
    index.close()

    SearchIndex(tmp_path / "index").search(SearchQuery(q="质检"))  # loads the vocabulary
    fresh = SearchIndex(tmp_path / "index")
    tracemalloc.start()
    try:
        fresh.search(SearchQuery(q="质检"))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        fresh.close()
    assert held < on_disk / 2


def test_matches_and_scores_in_a_mask_equal_the_full_scores(tmp_path: Path):
    """The engine finds the matches as bitsets and scores only the filtered ones."""
    from catalog.search.queries import Expansion, InScenario

    index = SearchIndex(tmp_path / "index")
    index.rebuild(corpus(400))
    queries = [
        wq.Or([wq.Term("name", "质检", boost=4.0), wq.Term("body", "质检")]),
        wq.And([wq.Term("body", "管理"), wq.Term("body", "排产")]),
        wq.DisjunctionMax(
            [
                wq.Or([wq.Term("name", "能耗"), wq.Term("body", "能耗")]),
                wq.Or([Expansion("body", "仓储", 0.8, 300), Expansion("body", "不存在", 0.8, 3)]),
            ]
        ),
        wq.Or([wq.Term("body", "算力"), InScenario("pm.quality", 2.0)]),
        wq.And([wq.Term("body", "不存在"), wq.Term("body", "管理")]),
    ]
    rng = random.Random(2)
    with index._searcher() as (name, searcher):
        snapshot = index._snapshot(name, searcher)
        scorer = scoring.Scorer(searcher.reader(), snapshot)
        for q in queries:
            full = scorer.scores(q)
            assert scorer.matches(q) == mask_of(full, snapshot.size)
            for density in (0.05, 0.5, 1.0):
                wanted = {n for n in range(snapshot.size) if rng.random() < density}
                restricted = scorer.scores_in(q, mask_of(wanted, snapshot.size))
                assert restricted == {d: s for d, s in full.items() if d in wanted}


def test_a_gunicorn_worker_loads_the_word_cutter_before_its_first_search() -> None:
    """gunicorn.conf.py's post_worker_init loads jieba's dictionary and the OpenCC tables,
    so no buyer's first search waits for them (about 0.6 s)."""
    code = (
        "import runpy, types\n"
        "from catalog.search import analysis\n"
        "assert analysis._jieba is None and analysis._t2s is None\n"
        "conf = runpy.run_path('gunicorn.conf.py')\n"
        "conf['post_worker_init'](types.SimpleNamespace())\n"
        "assert analysis._jieba is not None and analysis._jieba.initialized\n"
        "assert analysis._t2s is not None\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
