"""The search adapter (catalog/search): writing to the index, its write lock, and its
lifecycle (create, missing or corrupt index, rebuild into a new generation)."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import replace

import pytest
import whoosh.index

from catalog.search import IndexBusy, SearchIndex, SearchUnavailable
from tests.catalog.search_corpus import BY_SLUG, CORPUS, make_doc, search, slugs


def test_delete_removes_a_solution_at_once(index):
    assert "gpu-rental" in slugs(search(index, q="算力"))

    index.delete([BY_SLUG["gpu-rental"].id, 999_999])

    assert "gpu-rental" not in slugs(search(index, q="算力"))
    assert index.doc_count() == len(CORPUS) - 1
    assert search(index).facets["scenario"]["ai.compute"] == 2


def test_upsert_replaces_and_adds(index):
    renamed = replace(BY_SLUG["kiln-energy"], name="陶瓷窑炉温度优化")
    added = make_doc(slug="new-energy", name="光伏储能能效优化", scenarios=("pm.energy",))

    assert index.upsert([renamed, added]) == 2

    assert slugs(search(index, q="能效")) == ["new-energy"]  # no longer in the kiln's name
    assert slugs(search(index, q="窑炉温度优化")) == ["kiln-energy"]
    assert index.doc_count() == len(CORPUS) + 1


def test_upsert_of_the_same_solution_twice_keeps_the_last(index):
    first = replace(BY_SLUG["kiln-energy"], name="窑炉甲")
    second = replace(BY_SLUG["kiln-energy"], name="窑炉乙")

    index.upsert([first, second])

    assert slugs(search(index, q="窑炉")) == ["kiln-energy"]
    assert search(index, q="窑炉").hits[0].highlights["name"] == "<mark>窑炉</mark>乙"
    assert index.doc_count() == len(CORPUS)


def test_held_write_lock_makes_upsert_raise_index_busy_within_the_timeout(index):
    writer = whoosh.index.open_dir(str(index.location)).writer()  # another process, say
    try:
        started = time.monotonic()
        with pytest.raises(IndexBusy):
            index.upsert([replace(BY_SLUG["aps-lite"], name="改名")])
        assert 0.4 <= time.monotonic() - started < 2.0
        with pytest.raises(IndexBusy):
            index.delete([BY_SLUG["aps-lite"].id])
    finally:
        writer.cancel()

    index.delete([BY_SLUG["aps-lite"].id])  # the lock is free again
    assert "aps-lite" not in slugs(search(index, q="排产"))


def test_missing_index_is_unavailable_until_rebuilt(index, tmp_path):
    shutil.rmtree(tmp_path / "index")

    with pytest.raises(SearchUnavailable):
        search(index, q="质检")
    with pytest.raises(SearchUnavailable):
        index.doc_count()
    with pytest.raises(SearchUnavailable):
        index.upsert([BY_SLUG["aps-lite"]])

    assert index.rebuild(CORPUS) == len(CORPUS)
    assert "fabric-inspection" in slugs(search(index, q="质检"))


def test_corrupt_index_is_unavailable_until_rebuilt(tmp_path):
    index = SearchIndex(tmp_path / "index")
    index.rebuild(CORPUS[:3])
    for toc in index.location.glob("*.toc"):
        toc.write_bytes(b"not a whoosh table of contents")
    index.close()  # a new process, which has nothing cached

    with pytest.raises(SearchUnavailable):
        search(index, q="质检")

    index.rebuild(CORPUS[:3])
    assert search(index, q="质检").total >= 1


def test_create_makes_an_empty_index(index):
    index.create()

    assert index.doc_count() == 0
    result = search(index, q="质检")
    assert result.total == 0 and result.hits == []


def test_rebuild_swaps_generations_and_keeps_writes_made_meanwhile(index, tmp_path):
    renamed = replace(BY_SLUG["wms-cloud"], name="WMS云仓储管理旗舰版")
    seen_during_rebuild: list[int] = []

    def docs_from_the_database():
        for n, doc in enumerate(CORPUS):
            if n == 10:
                # Requests go on meanwhile: they search the old generation and write to it.
                seen_during_rebuild.append(search(index, q="质检").total)
                index.upsert([renamed])
                index.delete([BY_SLUG["crm-sales"].id])
            yield doc  # the database read started before those writes: old versions

    assert index.rebuild(docs_from_the_database()) == len(CORPUS)

    assert seen_during_rebuild and seen_during_rebuild[0] >= 4
    assert slugs(search(index, q="旗舰版")) == ["wms-cloud"]
    assert "crm-sales" not in slugs(search(index))
    assert index.doc_count() == len(CORPUS) - 1
    assert len(list((tmp_path / "index").glob("gen-*"))) <= 2


def test_failed_rebuild_leaves_the_live_index_alone(index, tmp_path):
    def broken():
        yield CORPUS[0]
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        index.rebuild(broken())

    assert index.doc_count() == len(CORPUS)
    assert not list((tmp_path / "index").glob("build-*"))


def test_rebuild_rejects_duplicate_ids(index):
    with pytest.raises(ValueError, match="twice"):
        index.rebuild([CORPUS[0], CORPUS[0]])

    assert index.doc_count() == len(CORPUS)


def test_rebuild_reports_progress(tmp_path):
    seen: list[int] = []
    index = SearchIndex(tmp_path / "index")

    index.rebuild(CORPUS[:5], progress=seen.append)

    assert seen == [1, 2, 3, 4, 5]


def test_concurrent_searches_and_writes(index):
    errors: list[BaseException] = []
    stop = threading.Event()

    def searcher():
        try:
            while not stop.is_set():
                result = search(index, q="质检")
                assert result.total >= 4
                assert sum(result.facets["delivery"].values()) >= result.total
        except BaseException as error:  # reported below, from the main thread
            errors.append(error)

    threads = [threading.Thread(target=searcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(5):
            index.upsert([make_doc(slug=f"extra-{n}", name=f"质检工具{n}号")])
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert errors == []
    assert search(index, q="质检").total == 9
