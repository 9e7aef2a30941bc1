"""The search index on disk: generations, bounded writers, rebuild-and-swap, searchers.

Layout under ``path``::

    CURRENT          name of the live generation, replaced atomically
    gen-<token>/     a Whoosh index, plus journal.log (ids written since it was built)
    build-<token>/   a rebuild in progress; renamed to gen-<token> when complete
    REBUILD_LOCK     serializes rebuilds across processes

Readers open the generation CURRENT names, so they never see a half-built index; Whoosh
commits within a generation are atomic too. A rebuild catches up with the upserts and
deletes that reached the old generation while it was building (from the journal) before
it swaps, so no write is lost.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import whoosh.index
from whoosh.index import FileIndex, LockError
from whoosh.searching import Searcher
from whoosh.util.filelock import FileLock, try_for

from catalog.search.engine import (
    SegmentValues,
    Snapshot,
    document_fields,
    execute,
    schema,
)
from catalog.search.model import (
    IndexBusy,
    SearchQuery,
    SearchResult,
    SearchUnavailable,
    SolutionDoc,
)

CURRENT = "CURRENT"
JOURNAL = "journal.log"
REBUILD_LOCK = "REBUILD_LOCK"
SWAP_TIMEOUT = 30.0  # a rebuild waits this long for in-flight upserts before swapping
STALE_BUILD_SECONDS = 3600.0
# A rebuild commits a segment every BUILD_BATCH solutions: Whoosh sorts a segment's
# postings in memory and, past limitmb, spills pickled runs to disk at 5x the cost.
BUILD_BATCH = 2500
BUILD_LIMIT_MB = 256
_IDLE_SEARCHERS = 8  # per process and generation

# What a broken or vanished index directory raises while being opened or read.
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    ValueError,
    KeyError,
    IndexError,
    whoosh.index.IndexError,
)


class SearchIndex:
    """The catalog's full-text index; safe to share between threads and processes."""

    def __init__(self, path: Path | str, *, writer_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.writer_timeout = writer_timeout
        self._lock = threading.Lock()
        self._indexes: dict[str, FileIndex] = {}
        self._idle: dict[tuple[str, Any], list[Searcher]] = {}
        self._segments: dict[tuple[str, str], SegmentValues] = {}
        self._snapshots: dict[tuple[str, Any], Snapshot] = {}

    def __repr__(self) -> str:
        return f"<SearchIndex {str(self.path)!r}>"

    # -- reading ----------------------------------------------------------------------

    def search(self, query: SearchQuery) -> SearchResult:
        query.validate()
        with self._searcher() as (name, searcher):
            try:
                return execute(searcher, self._snapshot(name, searcher), query)
            except _READ_ERRORS as error:
                raise SearchUnavailable(f"search index at {self.path} is unreadable") from error

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

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _live_name(self) -> str:
        try:
            name = (self.path / CURRENT).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as error:
            raise SearchUnavailable(f"no search index at {self.path}") from error
        if not name.startswith("gen-") or "/" in name or not (self.path / name).is_dir():
            raise SearchUnavailable(f"no search index at {self.path}")
        return name

    def _index(self, name: str) -> FileIndex:
        with self._lock:
            ix = self._indexes.get(name)
        if ix is None:
            try:
                ix = whoosh.index.open_dir(str(self.path / name))
            except Exception as error:  # any unreadable TOC, whatever Whoosh raises for it
                raise SearchUnavailable(f"search index at {self.path} is unreadable") from error
            with self._lock:
                self._indexes = {name: ix}  # only the live generation is worth keeping
        return ix

    @contextmanager
    def _searcher(self) -> Iterator[tuple[str, Searcher]]:
        # Whoosh searchers read files through shared handles, so each is used by one
        # thread at a time: idle ones wait here per (generation, Whoosh generation).
        name = self._live_name()
        ix = self._index(name)
        try:
            key: tuple[str, Any] = (name, ix.latest_generation())
        except OSError as error:
            raise SearchUnavailable(f"search index at {self.path} is unreadable") from error
        with self._lock:
            stale = [k for k in self._idle if k != key]
            closing = [s for k in stale for s in self._idle.pop(k)]
            searcher = self._idle.get(key, []).pop() if self._idle.get(key) else None
        for old in closing:
            old.close()
        if searcher is None:
            try:
                searcher = ix.searcher()
            except Exception as error:
                raise SearchUnavailable(f"search index at {self.path} is unreadable") from error
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
            if leaf.doc_count_all() == 0:
                continue
            segment_key = (name, leaf.segment().segment_id())
            with self._lock:
                values = self._segments.get(segment_key)
            if values is None:
                values = SegmentValues.load(leaf)
            leaves.append((offset, values, leaf.all_doc_ids(), segment_key))
        snapshot = Snapshot([(offset, values, live) for offset, values, live, _ in leaves])
        with self._lock:
            self._snapshots = {key: snapshot}
            self._segments = {segment_key: values for _, values, _, segment_key in leaves}
        return snapshot

    # -- writing ----------------------------------------------------------------------

    def upsert(self, docs: Iterable[SolutionDoc]) -> int:
        """Add or replace solutions. Raises IndexBusy when the write lock stays taken
        for ``writer_timeout`` seconds, SearchUnavailable without a live index."""
        prepared = [(doc.id, document_fields(doc)) for doc in docs]  # jieba outside the lock
        if not prepared:
            return 0
        with self._writer() as (writer, journal):
            for doc_id, fields in prepared:
                writer.update_document(**fields)
                journal.append(f"u {doc_id}\n")
        return len(prepared)

    def delete(self, ids: Iterable[int]) -> int:
        """Remove solutions by id (unknown ids are ignored); same errors as upsert."""
        ids = [int(doc_id) for doc_id in ids]
        if not ids:
            return 0
        with self._writer() as (writer, journal):
            for doc_id in ids:
                writer.delete_by_term("id", str(doc_id))
                journal.append(f"d {doc_id}\n")
        return len(ids)

    @contextmanager
    def _writer(self) -> Iterator[tuple[Any, list[str]]]:
        deadline = time.monotonic() + self.writer_timeout
        while True:
            name = self._live_name()
            ix = self._index(name)
            try:
                writer = ix.writer(timeout=max(0.0, deadline - time.monotonic()), delay=0.05)
            except LockError:
                raise IndexBusy(
                    f"search index at {self.path} is locked by another writer"
                ) from None
            except Exception as error:
                raise SearchUnavailable(f"search index at {self.path} is unreadable") from error
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
        journal: list[str] = []
        try:
            yield writer, journal
            # Journal first, commit second, both under the lock: a rebuild reads the
            # journal only while holding this lock, so it sees every committed write.
            with open(self.path / name / JOURNAL, "a", encoding="ascii") as handle:
                handle.write("".join(journal))
            writer.commit()
        except BaseException:
            _cancel(writer)
            raise

    # -- rebuilding -------------------------------------------------------------------

    def create(self) -> None:
        """Make an empty index, replacing any existing one."""
        self.rebuild(())

    def rebuild(
        self, docs: Iterable[SolutionDoc], progress: Callable[[int], None] | None = None
    ) -> int:
        """Index ``docs`` into a fresh generation and make it live; searches keep using
        the old generation meanwhile. ``progress`` gets the number indexed so far. Pass a
        lazy iterable (a query being read) so rows committed during the rebuild, whose
        upserts reach the old generation, are caught up. Returns the number indexed."""
        self.path.mkdir(parents=True, exist_ok=True)
        rebuild_lock = FileLock(str(self.path / REBUILD_LOCK))
        rebuild_lock.acquire(blocking=True)
        try:
            return self._rebuild(docs, progress)
        finally:
            rebuild_lock.release()

    def _rebuild(self, docs: Iterable[SolutionDoc], progress: Callable[[int], None] | None) -> int:
        old_name, old_ix = self._live_or_none()
        journal_start = _file_size(self.path / old_name / JOURNAL) if old_name else 0
        token = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
        build, final = self.path / f"build-{token}", self.path / f"gen-{token}"
        build.mkdir()
        count = 0
        try:
            ix = whoosh.index.create_in(str(build), schema())
            writer = None
            seen: set[int] = set()
            try:
                for doc in docs:
                    if doc.id in seen:
                        raise ValueError(f"solution {doc.id} given twice to rebuild")
                    seen.add(doc.id)
                    if writer is None:
                        writer = ix.writer(limitmb=BUILD_LIMIT_MB)
                    writer.add_document(**document_fields(doc))
                    count += 1
                    if count % BUILD_BATCH == 0:
                        writer.commit(merge=False)
                        writer = None
                    if progress is not None:
                        progress(count)
                if writer is not None:
                    writer.commit(merge=False)
            except BaseException:
                if writer is not None:
                    _cancel(writer)
                raise
            if old_ix is None:
                os.rename(build, final)
                self._set_live(final.name)
            else:
                lock = old_ix.lock("WRITELOCK")
                if not try_for(
                    lock.acquire, timeout=max(self.writer_timeout, SWAP_TIMEOUT), delay=0.05
                ):
                    raise IndexBusy(f"search index at {self.path} stayed locked; not swapped")
                try:
                    _catch_up(old_ix, self.path / old_name / JOURNAL, journal_start, ix)
                    os.rename(build, final)
                    self._set_live(final.name)
                finally:
                    lock.release()
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        self._remove_stale(keep={final.name, old_name})
        return count

    def _live_or_none(self) -> tuple[str | None, FileIndex | None]:
        try:
            name = self._live_name()
            return name, self._index(name)
        except SearchUnavailable:
            return None, None

    def _set_live(self, name: str) -> None:
        temporary = self.path / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
        with open(temporary, "w", encoding="ascii") as handle:
            handle.write(name)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path / CURRENT)

    def _remove_stale(self, keep: set[str | None]) -> None:
        # The previous generation stays one rebuild longer for searches still reading it.
        now = time.time()
        for entry in self.path.iterdir():
            stale_build = entry.name.startswith("build-") and (
                now - entry.stat().st_mtime > STALE_BUILD_SECONDS
            )
            if (entry.name.startswith("gen-") and entry.name not in keep) or stale_build:
                shutil.rmtree(entry, ignore_errors=True)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _catch_up(old_ix: FileIndex, journal: Path, start: int, new_ix: FileIndex) -> None:
    """Apply to ``new_ix`` the writes journaled in the old generation since ``start``."""
    try:
        with open(journal, encoding="ascii") as handle:
            handle.seek(start)
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return
    last_op: dict[int, str] = {}
    for line in lines:
        op, _, doc_id = line.partition(" ")
        if doc_id.isdigit():
            last_op[int(doc_id)] = op
    if not last_op:
        return
    upserts: list[SolutionDoc] = []
    with old_ix.searcher() as searcher:
        for doc_id, op in last_op.items():
            docnum = searcher.document_number(id=str(doc_id)) if op == "u" else None
            if docnum is not None:
                upserts.append(SolutionDoc.from_dict(searcher.stored_fields(docnum)["meta"]))
    writer = new_ix.writer()
    try:
        for doc_id in last_op:
            writer.delete_by_term("id", str(doc_id))
        for doc in upserts:
            writer.add_document(**document_fields(doc))
        writer.commit()
    except BaseException:
        _cancel(writer)
        raise


def _cancel(writer: Any) -> None:
    if not writer.is_closed:
        writer.cancel()
