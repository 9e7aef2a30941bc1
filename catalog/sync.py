"""Catalog sync for other platforms: what changed in the public catalog after a cursor.

The cursor is a position in the search log (catalog/search_log.py), the ordered list of the
solutions whose public face changed, which every host's search index already follows. Its
entries are numbered in commit order, so a change whose transaction commits late still
lands after every position a client was handed before it. A timestamp could not promise
that: a change stamped at 10:00:01 but committed at 10:00:05 is invisible to a client that
read at 10:00:03 and moved its cursor past 10:00:02.

A client starts with an ISO 8601 time (or has a cursor older than the pruned part of the
log). It then walks the solutions themselves, by id, that were ever public and changed at
or after that time (``changed_at``), and afterwards follows the log from the position read
before that walk began, as catalog/indexing.py's ``reindex`` does for a new index: whatever
committed after that read is in the log after it. A solution changed during the walk may
be told twice; that is harmless, since each item is the solution's state when read.

A solution that was public once and is no longer (delisted) is a tombstone.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session, selectinload

from catalog import search_log
from catalog.models import Solution, SolutionRevision
from marketplace.db import utcnow
from marketplace.errors import DomainError

_PREFIX = "c2."
_LEGACY_PREFIX = "c1."  # (changed_at, id) cursors handed out before the search log was used
_WATCHED = ("status", "published_revision_id")


def _invalid() -> DomainError:
    return DomainError(
        _l("Give a cursor from next_cursor or an ISO 8601 time with its offset."),
        field="updated_since",
    )


class Cursor:
    """Where a client is in the sync: a :class:`Walk` or a :class:`LogPosition`."""

    def encode(self) -> str:
        raise NotImplementedError

    @staticmethod
    def parse(text: str) -> Cursor:
        """A cursor from ``next_cursor``, or an ISO 8601 time (with its offset) to start
        from."""
        try:
            if text.startswith(_PREFIX):
                kind, *parts = _decode(text[len(_PREFIX) :]).split("|")
                if kind == "p" and len(parts) == 1:
                    cursor: Cursor = LogPosition(int(parts[0]))
                elif kind == "w" and len(parts) == 3:
                    position = None if parts[0] == "-" else int(parts[0])
                    since = _aware(parts[2]) if parts[2] else None
                    cursor = Walk(since, int(parts[1]), position)
                else:
                    raise ValueError(kind)
            elif text.startswith(_LEGACY_PREFIX):
                moment, _sep, _id = _decode(text[len(_LEGACY_PREFIX) :]).partition("|")
                cursor = Walk(_aware(moment))
            else:
                cursor = Walk(_aware(text))
        except (ValueError, UnicodeDecodeError, OverflowError) as exc:
            raise _invalid() from exc
        if min(cursor.numbers()) < 0:
            raise _invalid()
        return cursor

    def numbers(self) -> list[int]:
        raise NotImplementedError


@dataclass(frozen=True)
class Walk(Cursor):
    """Part way through the solutions themselves: those with an id above ``after_id`` that
    changed at or after ``since`` (all, without it) are still to be told; then the log is
    followed from ``position``, read before the walk began (None: not read yet)."""

    since: datetime | None
    after_id: int = 0
    position: int | None = None

    def encode(self) -> str:
        since = self.since.isoformat() if self.since else ""
        position = "-" if self.position is None else str(self.position)
        return _encode(f"w|{position}|{self.after_id}|{since}")

    def numbers(self) -> list[int]:
        return [self.after_id, self.position or 0]


@dataclass(frozen=True)
class LogPosition(Cursor):
    """Every change up to this search log entry has been told."""

    position: int

    def encode(self) -> str:
        return _encode(f"p|{self.position}")

    def numbers(self) -> list[int]:
        return [self.position]


def _encode(raw: str) -> str:
    return _PREFIX + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(body: str) -> str:
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def _aware(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class SyncPage:
    published: list[Solution]
    tombstones: list[Solution]
    next_cursor: str
    has_more: bool


def changes(session: Session, after: Cursor, *, limit: int) -> SyncPage:
    """At most ``limit`` solutions changed after the cursor, and the cursor after them."""
    if isinstance(after, LogPosition):
        if after.position > search_log.head(session):
            raise _invalid()  # not a position this log has handed out
        if after.position < search_log.horizon(session):
            after = Walk(since=None)  # entries it needs were pruned: tell everything again
        else:
            return _follow_log(session, after.position, limit)
    assert isinstance(after, Walk)  # a cursor is a log position or a walk
    return _walk(session, after, limit)


def _walk(session: Session, walk: Walk, limit: int) -> SyncPage:
    position = walk.position
    if position is None:
        position = search_log.head(session)  # before reading any solution
    query = _told().where(Solution.id > walk.after_id).order_by(Solution.id).limit(limit + 1)
    if walk.since is not None:
        query = query.where(Solution.changed_at >= walk.since)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        rows = rows[:limit]
        cursor: Cursor = Walk(walk.since, rows[-1].id, position)
        has_more = True
    else:
        cursor = LogPosition(position)
        has_more = search_log.head(session) > position
    return _page(rows, cursor, has_more)


def _follow_log(session: Session, position: int, limit: int) -> SyncPage:
    entries = search_log.changes_after(session, position, limit + 1)
    has_more = len(entries) > limit
    entries = entries[:limit]
    if not entries:
        return _page([], LogPosition(position), False)
    order = {sid: n for n, sid in enumerate(dict.fromkeys(e.solution_id for e in entries))}
    rows = sorted(session.scalars(_told().where(Solution.id.in_(order))), key=lambda s: order[s.id])
    return _page(rows, LogPosition(entries[-1].id), has_more)


def _told() -> sa.Select[Solution]:
    """Solutions sync tells about: those public once (never public: nothing to tell)."""
    return (
        sa.select(Solution)
        .where(Solution.published_at.is_not(None))
        .options(
            selectinload(Solution.vendor),
            selectinload(Solution.published).selectinload(SolutionRevision.plans),
        )
    )


def _page(rows: list[Solution], cursor: Cursor, has_more: bool) -> SyncPage:
    return SyncPage(
        published=[s for s in rows if s.is_public],
        tombstones=[s for s in rows if not s.is_public],
        next_cursor=cursor.encode(),
        has_more=has_more,
    )


@event.listens_for(Session, "before_flush")
def _move_changed_at(session: Session, _context: Any, _instances: Any) -> None:
    """Whatever changes a solution's public face moves its ``changed_at`` forward (what an
    ``updated_since`` time is compared with; the cursor itself is a search log position)."""
    for obj in session.dirty:
        if not isinstance(obj, Solution):
            continue
        state = sa.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in _WATCHED):
            obj.changed_at = max(utcnow(), obj.changed_at)
