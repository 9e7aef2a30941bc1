"""The catalog's search index: searchers, bounded writers, rebuild-and-swap.

Searches read the live generation (see catalog/search/generations.py), so they never see
a half-built index, and keep working during a rebuild; Whoosh commits within a generation
are atomic too. Writers take Whoosh's write lock for at most ``writer_timeout`` seconds and
journal what they wrote; a rebuild replays the journal of the old generation before it
swaps, so an upsert or delete made while it was building is not lost.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import shutil
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import whoosh.index
from whoosh.index import FileIndex, LockError
from whoosh.searching import Searcher
from whoosh.util.filelock import FileLock, try_for

from catalog.search import building, generations
from catalog.search.documents import ANALYSIS_VERSION, SCORED_FIELDS, document_fields, schema
from catalog.search.engine import execute
from catalog.search.model import (
    IndexBusy,
    SearchError,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    SolutionDoc,
)
from catalog.search.snapshot import SegmentValues, Snapshot, mask_of, remove_values_files
from catalog.search.vocabulary import Vocabulary
from catalog.search.vocabulary import packaged as packaged_vocabulary

SWAP_TIMEOUT = 30.0  # a rebuild waits this long for in-flight upserts before swapping
_IDLE_SEARCHERS = 8  # per process and generation

T = TypeVar("T")
# What reading a damaged or vanished segment raises once the index is open.
_READ_ERRORS = (OSError, EOFError, struct.error, zlib.error, pickle.UnpicklingError)


class SearchIndex:
    """The catalog's full-text index; safe to share between threads and processes."""

    def __init__(
        self,
        path: Path | str,
        *,
        writer_timeout: float = 5.0,
        vocabulary: Callable[[], Vocabulary] = packaged_vocabulary,
    ) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        # The thesaurus and pain points for each search; the app's reads operators' edits
        # (catalog/search_thesaurus.py).
        self.vocabulary = vocabulary
        self._lock = threading.Lock()
        self._indexes: dict[str, FileIndex] = {}
        self._idle: dict[tuple[str, Any], list[Searcher]] = {}
        self._segments: dict[tuple[str, str], SegmentValues] = {}
        self._snapshots: dict[tuple[str, Any], Snapshot] = {}

    def __repr__(self) -> str:
        return f"<SearchIndex {str(self.path)!r}>"

    # -- reading ----------------------------------------------------------------------

    def search(
        self, query: SearchQuery, *, vocabulary: Vocabulary | None = None, loosen: bool = True
    ) -> SearchResult:
        """Run ``query``; ``vocabulary`` replaces the index's own (``vocabulary.EMPTY``:
        words only as typed), ``loosen=False`` never adds partial matches."""
        query.validate()
        words = vocabulary if vocabulary is not None else self.vocabulary()
        with self._searcher() as (name, searcher):
            return self._guarded(
                lambda: execute(
                    searcher.reader(),
                    self._snapshot(name, searcher),
                    query,
                    words,
                    loosen=loosen,
                ),
                _READ_ERRORS,
            )

    def doc_count(self) -> int:
        """Number of solutions in the live generation."""
        with self._searcher() as (_name, searcher):
            return searcher.doc_count()

    @property
    def location(self) -> Path:
        """Directory of the live Whoosh index (raises SearchUnavailable without one)."""
        return self.path / self._live_name()

    def close(self) -> None:
        """Close idle searchers; the object stays usable."""
        with self._lock:
            idle, self._idle = self._idle, {}
            self._snapshots.clear()
            self._segments.clear()
            self._indexes.clear()
        for searchers in idle.values():
            for searcher in searchers:
                searcher.close()

    def __del__(self) -> None:
        # Idle searchers hold open files (building.open_generation): close them with the last reference.
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def version(self) -> tuple[str, Any]:
        """What the live index holds, as a value that changes with every write or rebuild:
        (live generation, Whoosh generation). Pages built from the index can be cached
        under it."""
        name = self._live_name()
        return name, self._guarded(self._index(name).latest_generation)

    def _live_name(self) -> str:
        name = generations.live(self.path)
        if name is None:
            raise SearchUnavailable(f"no search index at {self.path}")
        return name

    def _index(self, name: str) -> FileIndex:
        with self._lock:
            ix = self._indexes.get(name)
        if ix is None:
            ix = self._guarded(lambda: building.open_generation(self.path / name))
            with self._lock:
                self._indexes = {name: ix}  # only the live generation is worth keeping
        return ix

    def _guarded(
        self, call: Callable[[], T], errors: tuple[type[Exception], ...] = (Exception,)
    ) -> T:
        """``call()``, with a failure to read the index turned into SearchUnavailable. While
        opening, any exception counts: Whoosh raises many kinds for a truncated or foreign
        file."""
        with warnings.catch_warnings():
            # Whoosh leaves the file it was reading open when it fails, and frees it with
            # the traceback: a ResourceWarning that belongs to the failure reported below.
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                return call()
            except (LockError, SearchError):
                raise
            except errors as error:
                failure = f"{type(error).__name__}: {error}"
            gc.collect()  # tracebacks in reference cycles hold such files too
        raise SearchUnavailable(f"search index at {self.path} is unreadable ({failure})")

    @contextmanager
    def _searcher(self) -> Iterator[tuple[str, Searcher]]:
        # Whoosh searchers read files through shared handles, so each is used by one
        # thread at a time: idle ones wait here per (generation, Whoosh generation).
        name = self._live_name()
        ix = self._index(name)
        key: tuple[str, Any] = (name, self._guarded(ix.latest_generation))
        with self._lock:
            stale = [k for k in self._idle if k != key]
            closing = [s for k in stale for s in self._idle.pop(k)]
            searcher = self._idle.get(key, []).pop() if self._idle.get(key) else None
        for old in closing:
            old.close()
        if searcher is None:
            searcher = self._guarded(ix.searcher)
            key = (name, searcher.reader().generation())
        try:
            yield name, searcher
        finally:
            with self._lock:
                pool = self._idle.setdefault(key, [])
                keep = len(pool) < _IDLE_SEARCHERS
                if keep:
                    pool.append(searcher)
            if not keep:
                searcher.close()

    def _snapshot(self, name: str, searcher: Searcher) -> Snapshot:
        reader = searcher.reader()
        key = (name, reader.generation())
        with self._lock:
            snapshot = self._snapshots.get(key)
        if snapshot is not None:
            return snapshot
        leaves = []
        for leaf, offset in reader.leaf_readers():
            size = leaf.doc_count_all()
            if size == 0:
                continue
            segment_key = (name, leaf.segment().segment_id())
            with self._lock:
                values = self._segments.get(segment_key)
            if values is None:
                values = SegmentValues.cached(leaf, SCORED_FIELDS, self.path / name, segment_key[1])
            live = mask_of(leaf.all_doc_ids(), size) if leaf.has_deletions() else (1 << size) - 1
            leaves.append((offset, values, live, segment_key))
        snapshot = Snapshot([(offset, values, live) for offset, values, live, _ in leaves])
        with self._lock:
            self._snapshots = {key: snapshot}
            self._segments = {segment_key: values for _, values, _, segment_key in leaves}
        remove_values_files(self.path / name, {key[1] for _, _, _, key in leaves})
        return snapshot

    # -- writing ----------------------------------------------------------------------

    def upsert(self, docs: Iterable[SolutionDoc]) -> int:
        """Add or replace solutions (the last of several with one id wins). Raises
        IndexBusy when the write lock stays taken for ``writer_timeout`` seconds,
        SearchUnavailable without a live index. Analysis runs before the lock is taken."""
        latest = {doc.id: doc for doc in docs}  # one writer cannot replace its own additions
        prepared = [(doc_id, document_fields(doc)) for doc_id, doc in latest.items()]
        if not prepared:
            return 0
        with self._writer() as (writer, write):
            for doc_id, fields in prepared:
                writer.update_document(**fields)
                write.journal.append(f"u {doc_id}\n")
        return len(prepared)

    def delete(self, ids: Iterable[int]) -> int:
        """Remove solutions by id (unknown ids are ignored); same errors as upsert."""
        ids = [int(doc_id) for doc_id in ids]
        if not ids:
            return 0
        with self._writer() as (writer, write):
            for doc_id in ids:
                writer.delete_by_term("id", str(doc_id))
                write.journal.append(f"d {doc_id}\n")
        return len(ids)

    def position(self) -> int | None:
        """The last search log entry the live generation applied (catalog/search_log.py);
        None when it never recorded one. Raises SearchUnavailable without a live index."""
        return generations.read_position(self.path / self._live_name())

    def analysis_is_current(self) -> bool:
        """Whether the live generation was built with this code's text analysis (an index
        built otherwise cuts words differently from the queries: rebuild it). Raises
        SearchUnavailable without a live index."""
        return generations.read_analysis(self.path / self._live_name()) == ANALYSIS_VERSION

    def follow(self, changes: Callable[[int], tuple[list[SolutionDoc], set[int], int]]) -> int:
        """Apply what happened after the live generation's log position, under the write
        lock (one writer per index folder, whichever process): ``changes(position)`` gives
        the documents to upsert, the ids to delete and the position they bring the index
        to. Returns the position reached; same errors as upsert."""
        with contextlib.suppress(_Unchanged), self._writer() as (writer, write):
            position = generations.read_position(write.generation) or 0
            docs, removed, reached = changes(position)
            if reached <= position:
                raise _Unchanged
            for doc_id in removed:
                writer.delete_by_term("id", str(doc_id))
                write.journal.append(f"d {doc_id}\n")
            for doc in {doc.id: doc for doc in docs}.values():
                writer.update_document(**document_fields(doc))
                write.journal.append(f"u {doc.id}\n")
            write.position = reached
        return self.position() or 0

    @contextmanager
    def _writer(self) -> Iterator[tuple[Any, _Write]]:
        deadline = time.monotonic() + self.writer_timeout
        while True:
            name = self._live_name()
            ix = self._index(name)
            try:
                wait = max(0.0, deadline - time.monotonic())
                writer = self._guarded(partial(ix.writer, timeout=wait, delay=0.05))
            except LockError:
                raise IndexBusy(
                    f"search index at {self.path} is locked by another writer"
                ) from None
            try:
                still_live = self._live_name() == name
            except SearchUnavailable:
                writer.cancel()
                raise
            if still_live:
                break
            writer.cancel()  # a rebuild swapped generations while we waited for the lock
            if time.monotonic() >= deadline:
                raise IndexBusy(f"search index at {self.path} is being swapped")
        write = _Write(self.path / name)
        try:
            yield writer, write
            # Journal first, commit second, both under the lock: a rebuild reads the
            # journal only while holding this lock, so it sees every committed write. The
            # log position follows the commit (a crash between the two applies the same
            # entries again, which changes nothing).
            generations.append_journal(write.generation, write.journal)
            writer.commit(mergetype=building.merge_small)
            if write.position is not None:
                generations.write_position(write.generation, write.position)
        except BaseException:
            building.cancel(writer)
            raise

    # -- rebuilding -------------------------------------------------------------------

    def create(self) -> None:
        """Make an empty index, replacing any existing one."""
        self.rebuild(())

    def rebuild(
        self,
        docs: Iterable[SolutionDoc],
        progress: Callable[[int], None] | None = None,
        *,
        position: int | None = None,
        only_if_stale: bool = False,
    ) -> int | None:
        """Index ``docs`` into a fresh generation and make it live; searches keep using
        the old generation meanwhile. ``progress`` gets the number indexed so far. Pass a
        lazy iterable (a query being read) so rows committed during the rebuild, whose
        upserts reach the old generation, are caught up. ``position`` is the search log
        entry ``docs`` are at least as new as (read before them). Returns the number
        indexed; with ``only_if_stale``, None without rebuilding when the live generation
        (perhaps rebuilt by another process meanwhile) has the current analysis."""
        self.path.mkdir(parents=True, exist_ok=True)
        rebuild_lock = FileLock(str(self.path / generations.REBUILD_LOCK))
        rebuild_lock.acquire(blocking=True)
        try:
            if only_if_stale and self._live_or_none()[0] and self.analysis_is_current():
                return None
            return self._rebuild(docs, progress, position)
        finally:
            rebuild_lock.release()

    def _rebuild(
        self,
        docs: Iterable[SolutionDoc],
        progress: Callable[[int], None] | None,
        position: int | None,
    ) -> int:
        old_name, old_ix = self._live_or_none()
        journal_start = generations.journal_size(self.path / old_name) if old_name else 0
        build, final = generations.new_build(self.path)
        try:
            ix = whoosh.index.create_in(str(build), schema())
            count = building.index_all(ix, docs, progress)
            building.write_values(ix, build)
            generations.write_analysis(build, ANALYSIS_VERSION)
            if position is not None:
                generations.write_position(build, position)
            if old_ix is None or old_name is None:  # no live generation
                os.rename(build, final)
                generations.set_live(self.path, final.name)
            else:
                # Wait for in-flight upserts, replay what they wrote to the old generation
                # while this one was building, swap; upserts waiting meanwhile then see the
                # new generation (_writer checks after taking the lock).
                lock = old_ix.lock("WRITELOCK")
                wait = max(self.writer_timeout, SWAP_TIMEOUT)
                if not try_for(lock.acquire, timeout=wait, delay=0.05):
                    raise IndexBusy(f"search index at {self.path} stayed locked; not swapped")
                try:
                    building.catch_up(old_ix, self.path / old_name, journal_start, ix)
                    os.rename(build, final)
                    generations.set_live(self.path, final.name)
                finally:
                    lock.release()
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        generations.remove_stale(self.path, keep={final.name, old_name})
        return count

    def _live_or_none(self) -> tuple[str | None, FileIndex | None]:
        try:
            name = self._live_name()
            return name, self._index(name)
        except SearchUnavailable:
            return None, None


@dataclass
class _Write:
    """What one writer did to a generation, written down after its commit."""

    generation: Path
    journal: list[str] = field(default_factory=list)
    position: int | None = None  # the search log entry the write brings the index to


class _Unchanged(Exception):
    """Nothing to apply: the writer is cancelled, not committed."""
