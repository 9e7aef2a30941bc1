"""Writing a generation of the search index: the bulk build of a rebuild (a segment every
BUILD_BATCH documents), the merge policy of later writes (only small segments merge), the
stored values saved beside each new segment, and the catch-up of writes a rebuild missed.
catalog/search/index.py decides when; this module does the writing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.index import FileIndex
from whoosh.writing import MERGE_SMALL

from catalog.search import generations
from catalog.search.documents import SCORED_FIELDS, document_fields
from catalog.search.model import SolutionDoc
from catalog.search.snapshot import SegmentValues

# A rebuild commits a segment every BUILD_BATCH solutions: Whoosh sorts a segment's
# postings in memory and, past limitmb, spills pickled runs to disk at 5x the cost.
BUILD_BATCH = 2500
BUILD_LIMIT_MB = 256
# Writes after a rebuild merge only segments under this many documents (merge_small).
SMALL_SEGMENT = 500


def open_generation(directory: Path) -> FileIndex:
    """Open a generation's Whoosh index. Not through mmap: Whoosh 2.7 copies each file it
    maps into a BytesIO (BufferFile), so every process held the whole index on its heap
    (150 MB at 100,000 listings); read through file handles, it holds what it reads."""
    return FileStorage(str(directory), supports_mmap=False).open_index()


def index_all(
    ix: FileIndex, docs: Iterable[SolutionDoc], progress: Callable[[int], None] | None
) -> int:
    """Add ``docs`` to a new, empty index, committing a segment every BUILD_BATCH."""
    count = 0
    seen: set[int] = set()
    writer = None
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
            cancel(writer)
        raise
    return count


def merge_small(writer: Any, segments: list[Any]) -> list[Any]:
    """Whoosh's MERGE_SMALL among the segments under SMALL_SEGMENT documents; larger ones
    (a rebuild's) stay as they are. Whoosh's own policy merges every segment up to the
    point where their total falls below a Fibonacci bound: after a rebuild of 100,000
    solutions in 40 segments, each upsert merged 50,000 of them, 90 s under the write lock."""
    large = [s for s in segments if s.doc_count_all() >= SMALL_SEGMENT]
    small = [s for s in segments if s.doc_count_all() < SMALL_SEGMENT]
    return large + MERGE_SMALL(writer, small)


def write_values(ix: FileIndex, directory: Path) -> None:
    """Save the stored values of a new generation's segments (catalog/search/snapshot.py),
    so the processes that search it do not read them from every document."""
    with ix.reader() as reader:
        for leaf, _offset in reader.leaf_readers():
            if leaf.doc_count_all():
                SegmentValues.cached(leaf, SCORED_FIELDS, directory, leaf.segment().segment_id())


def catch_up(old_ix: FileIndex, old_dir: Path, start: int, new_ix: FileIndex) -> None:
    """Apply to ``new_ix`` the writes journaled in the old generation since ``start``."""
    last_op = generations.read_journal(old_dir, start)
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
        writer.commit(mergetype=merge_small)
    except BaseException:
        cancel(writer)
        raise


def cancel(writer: Any) -> None:
    if not writer.is_closed:
        writer.cancel()
