"""Catalog sync for other platforms: what changed in the public catalog after a cursor.

Every solution carries ``changed_at``, moved forward whenever what sync shows of it changes
(first publication, a newly approved version, delisting, relisting). A sync page lists the
solutions ordered by ``(changed_at, id)`` after the caller's cursor; the cursor is that pair,
encoded, so solutions changed in the same instant are neither skipped nor repeated across
pages. A solution that was public once and is no longer (delisted) is a tombstone.
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

from catalog.models import Solution, SolutionRevision
from marketplace.db import utcnow
from marketplace.errors import DomainError

_CURSOR_PREFIX = "c1."
_WATCHED = ("status", "published_revision_id")


@dataclass(frozen=True, order=True)
class Cursor:
    changed_at: datetime
    solution_id: int

    def encode(self) -> str:
        raw = f"{self.changed_at.isoformat()}|{self.solution_id}".encode()
        return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """A cursor from ``next_cursor``, or an ISO 8601 time to start from."""
        invalid = DomainError(
            _l("Give a cursor from next_cursor or an ISO 8601 time with its offset."),
            field="updated_since",
        )
        try:
            if text.startswith(_CURSOR_PREFIX):
                body = text[len(_CURSOR_PREFIX) :]
                raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
                moment, _sep, solution_id = raw.partition("|")
                found = cls(datetime.fromisoformat(moment), int(solution_id))
            else:
                found = cls(datetime.fromisoformat(text), 0)
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid from exc
        if found.changed_at.tzinfo is None or found.solution_id < 0:
            raise invalid
        return cls(found.changed_at.astimezone(UTC), found.solution_id)


@dataclass(frozen=True)
class SyncPage:
    published: list[Solution]
    tombstones: list[Solution]
    next_cursor: str
    has_more: bool


def changes(session: Session, after: Cursor, *, limit: int) -> SyncPage:
    rows = list(
        session.scalars(
            sa.select(Solution)
            .where(
                Solution.published_at.is_not(None),  # never public: nothing to tell
                sa.or_(
                    Solution.changed_at > after.changed_at,
                    sa.and_(
                        Solution.changed_at == after.changed_at,
                        Solution.id > after.solution_id,
                    ),
                ),
            )
            .order_by(Solution.changed_at, Solution.id)
            .limit(limit + 1)
            .options(
                selectinload(Solution.vendor),
                selectinload(Solution.published).selectinload(SolutionRevision.plans),
            )
        )
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    last = Cursor(rows[-1].changed_at, rows[-1].id) if rows else after
    return SyncPage(
        published=[s for s in rows if s.is_public],
        tombstones=[s for s in rows if not s.is_public],
        next_cursor=last.encode(),
        has_more=has_more,
    )


def tombstone_dict(solution: Solution) -> dict[str, Any]:
    return {
        "slug": solution.slug,
        "status": solution.status.value,
        "changed_at": solution.changed_at.isoformat(),
    }


@event.listens_for(Session, "before_flush")
def _move_changed_at(session: Session, _context: Any, _instances: Any) -> None:
    """Whatever changes a solution's public face moves its sync position forward."""
    for obj in session.dirty:
        if not isinstance(obj, Solution):
            continue
        state = sa.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in _WATCHED):
            obj.changed_at = max(utcnow(), obj.changed_at)
