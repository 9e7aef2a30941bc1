"""The search log: an ordered list of the solutions whose public document changed.

Every host keeps a Whoosh index of its own, and the database is the one thing they all
see. So a change to what search shows (a listing published, edited, rated, delisted, its
vendor renamed or its verification changed) is written here, in the same transaction as
the change itself: a rolled-back change leaves no entry. Each index folder records the
last entry it applied and applies the ones after it (catalog/indexing.py); the entries only
say *which* solution changed, the document is always read from the database, so applying
an entry twice, or two entries for one solution in either order, gives the same index.

Ids are handed out in commit order, so a reader that has seen entry ``n`` never later
finds a new entry below ``n``: on PostgreSQL each writer takes the table's EXCLUSIVE lock
for the moment between inserting its entries and committing (readers are not blocked);
SQLite has one writer at a time anyway. ``sqlite_autoincrement`` keeps SQLite from reusing
the ids of pruned entries.

The log is kept for ``SEARCH_LOG_KEEP_DAYS``. :func:`prune` deletes older entries and
moves the horizon; an index whose position is below the horizon has missed entries and is
rebuilt from the database instead.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.db import Base, enum_type, rows_changed, utcnow

KEEP_DAYS = 7


class SearchOp(enum.StrEnum):
    UPSERT = "upsert"  # the solution is public: (re)index its document
    DELETE = "delete"  # the solution is not public (any more): remove it


class SearchChange(Base):
    __tablename__ = "search_log"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    solution_id: Mapped[int]
    op: Mapped[SearchOp] = mapped_column(enum_type(SearchOp, "search_op"))
    created_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<SearchChange #{self.id} {self.op.value} solution {self.solution_id}>"


class SearchLogHorizon(Base):
    """One row: the newest entry pruned. An index that has not applied it must be rebuilt."""

    __tablename__ = "search_log_horizon"
    __table_args__ = (sa.CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    pruned_through: Mapped[int] = mapped_column(sa.BigInteger)

    def __repr__(self) -> str:
        return f"<SearchLogHorizon pruned through #{self.pruned_through}>"


def record(session: Session, changes: dict[int, SearchOp]) -> None:
    """Append entries for ``changes`` (solution id -> op); call last before the commit, as
    catalog/indexing.py does, so the lock below is held only until the commit."""
    if not changes:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("LOCK TABLE search_log IN EXCLUSIVE MODE"))
    now = utcnow()
    session.execute(
        sa.insert(SearchChange),
        [
            {"solution_id": solution_id, "op": op, "created_at": now}
            for solution_id, op in sorted(changes.items())
        ],
    )


def head_expression() -> sa.ColumnElement[int]:
    """The id of the newest entry (the horizon when everything was pruned; 0 for none), as
    one expression, for reading it beside other things in one statement."""
    return sa.func.coalesce(
        sa.select(sa.func.max(SearchChange.id)).scalar_subquery(),
        sa.select(SearchLogHorizon.pruned_through).limit(1).scalar_subquery(),
        0,
    )


def head(session: Session) -> int:
    """The id of the newest entry (the horizon when everything was pruned; 0 for none)."""
    return int(session.scalar(sa.select(head_expression())) or 0)


def horizon(session: Session) -> int:
    return session.scalar(sa.select(SearchLogHorizon.pruned_through)) or 0


def changes_after(session: Session, position: int, limit: int) -> list[SearchChange]:
    """The next ``limit`` entries after ``position``, oldest first."""
    return list(
        session.scalars(
            sa.select(SearchChange)
            .where(SearchChange.id > position)
            .order_by(SearchChange.id)
            .limit(limit)
        )
    )


def last_op(changes: Iterable[SearchChange]) -> dict[int, SearchOp]:
    return {change.solution_id: change.op for change in changes}


def prune(session: Session, *, keep_days: int = KEEP_DAYS, now: datetime | None = None) -> int:
    """Delete entries older than ``keep_days`` and move the horizon past them; the newest
    entry always stays, so :func:`head` keeps counting up. Returns how many went."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    newest = session.scalar(sa.select(sa.func.max(SearchChange.id)))
    through = session.scalar(
        sa.select(sa.func.max(SearchChange.id)).where(
            SearchChange.created_at < cutoff, SearchChange.id < (newest or 0)
        )
    )
    if through is None:
        return 0
    deleted = rows_changed(session, sa.delete(SearchChange).where(SearchChange.id <= through))
    row = session.get(SearchLogHorizon, 1)
    if row is None:
        session.add(SearchLogHorizon(id=1, pruned_through=through))
    else:
        row.pruned_through = max(row.pruned_through, through)
    session.flush()
    return deleted
