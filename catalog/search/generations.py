"""Generations of the index on disk, and the journal of writes made to each.

Layout under the index path::

    CURRENT          name of the live generation, replaced atomically (os.replace)
    gen-<token>/     a Whoosh index, plus journal.log: "u <id>" / "d <id>" per write,
                     LOG_POSITION: the last search log entry applied (catalog/search_log.py)
                     and ANALYSIS: the version of the text analysis it was built with
    build-<token>/   a rebuild in progress; renamed to gen-<token> when complete
    REBUILD_LOCK     held by the one rebuild running, across processes

A rebuild keeps the generation it replaced, for searches that were still reading it, and
removes older ones.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from pathlib import Path

CURRENT = "CURRENT"
JOURNAL = "journal.log"
LOG_POSITION = "LOG_POSITION"
ANALYSIS = "ANALYSIS"
REBUILD_LOCK = "REBUILD_LOCK"


def live(path: Path) -> str | None:
    """Name of the live generation, or None when there is none."""
    try:
        name = (path / CURRENT).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not name.startswith("gen-") or "/" in name or not (path / name).is_dir():
        return None
    return name


def set_live(path: Path, name: str) -> None:
    temporary = path / f"{CURRENT}.{uuid.uuid4().hex}.tmp"
    with open(temporary, "w", encoding="ascii") as handle:
        handle.write(name)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path / CURRENT)


def new_build(path: Path) -> tuple[Path, Path]:
    """A fresh build directory, and the generation name it will get."""
    token = f"{time.time_ns():x}-{uuid.uuid4().hex[:8]}"
    build = path / f"build-{token}"
    build.mkdir()
    return build, path / f"gen-{token}"


def remove_stale(path: Path, keep: set[str | None]) -> None:
    """Remove generations not in ``keep`` and leftover builds (call under REBUILD_LOCK)."""
    for entry in path.iterdir():
        if entry.name.startswith("build-") or (
            entry.name.startswith("gen-") and entry.name not in keep
        ):
            shutil.rmtree(entry, ignore_errors=True)


def append_journal(generation: Path, lines: list[str]) -> None:
    with open(generation / JOURNAL, "a", encoding="ascii") as handle:
        handle.write("".join(lines))


def journal_size(generation: Path) -> int:
    try:
        return (generation / JOURNAL).stat().st_size
    except OSError:
        return 0


def read_journal(generation: Path, start: int) -> dict[int, str]:
    """Solution id -> its last operation ("u" or "d") journaled after byte ``start``."""
    try:
        with open(generation / JOURNAL, encoding="ascii") as handle:
            handle.seek(start)
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return {}
    last_op: dict[int, str] = {}
    for line in lines:
        op, _, doc_id = line.partition(" ")
        if op in ("u", "d") and doc_id.isdigit():
            last_op[int(doc_id)] = op
    return last_op


def read_position(generation: Path) -> int | None:
    """The last search log entry applied to ``generation``; None when it never recorded
    one (an index built before the log existed)."""
    try:
        text = (generation / LOG_POSITION).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def write_position(generation: Path, position: int) -> None:
    """Record ``position`` for ``generation``, replacing the file atomically."""
    temporary = generation / f"{LOG_POSITION}.{uuid.uuid4().hex}.tmp"
    temporary.write_text(str(position), encoding="ascii")
    os.replace(temporary, generation / LOG_POSITION)


def read_analysis(generation: Path) -> str | None:
    """The analysis version ``generation`` was built with; None for one built before the
    version was recorded."""
    try:
        return (generation / ANALYSIS).read_text(encoding="ascii").strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def write_analysis(generation: Path, version: str) -> None:
    (generation / ANALYSIS).write_text(version, encoding="ascii")
