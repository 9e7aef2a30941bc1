"""Keeping the search index in step with the database (STYLE.md habits 11 and 12).

Services call :func:`mark` for a solution whose public state changed. Before the commit the
marked solutions are turned into index documents (or deletions); after the commit they are
written to the index with a bounded writer. When the index is locked or missing, the rows
are flagged ``needs_reindex`` for ``marketplace catalog reindex``; the database is never
rolled back because of the index.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session, selectinload

from catalog.markup import plain_text
from catalog.models import Rating, Solution, SolutionRevision
from catalog.search import IndexBusy, SearchIndex, SearchUnavailable, SolutionDoc

log = logging.getLogger(__name__)
_MARKED = "catalog.reindex"
_PENDING = "catalog.index_pending"


def mark(session: Session, solution_id: int) -> None:
    session.info.setdefault(_MARKED, set()).add(solution_id)


def search_index(app: Flask | None = None) -> SearchIndex:
    app = app or current_app._get_current_object()
    return app.extensions["catalog.search"]


def index_path(app: Flask) -> Path:
    return Path(app.config.get("SEARCH_INDEX_DIR") or Path(app.instance_path) / "search-index")


def ratings_by_solution(session: Session, ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Rating.solution_id, sa.func.avg(Rating.stars), sa.func.count())
        .where(Rating.solution_id.in_(ids))
        .group_by(Rating.solution_id)
    )
    return {sid: (float(avg), count) for sid, avg, count in rows}


def build_doc(solution: Solution, rating: tuple[float, int] | None = None) -> SolutionDoc:
    revision = solution.published
    assert revision is not None and solution.published_at is not None
    return SolutionDoc(
        id=solution.id,
        slug=solution.slug,
        name=revision.name,
        name_en=revision.name_en,
        summary=revision.summary,
        summary_en=revision.summary_en,
        description=plain_text(revision.description),
        vendor_name=solution.vendor.name,
        industries=tuple(revision.industries),
        scenarios=tuple(revision.scenarios),
        delivery=revision.delivery.value,
        billing_models=tuple(revision.billing_models()),
        voucher_kinds=tuple(revision.voucher_kinds),
        monthly_fen=revision.lowest_monthly_fen(),
        published_at=solution.published_at,
        rating=rating[0] if rating else None,
        rating_count=rating[1] if rating else 0,
    )


def _public(session: Session, ids: Iterable[int] | None = None) -> sa.Select[tuple[Solution]]:
    query = (
        sa.select(Solution)
        .where(Solution.is_public)
        .options(
            selectinload(Solution.vendor),
            selectinload(Solution.published).selectinload(SolutionRevision.plans),
        )
        .order_by(Solution.id)
    )
    if ids is not None:
        query = query.where(Solution.id.in_(list(ids)))
    return query


def public_docs(session: Session, batch: int = 500) -> Iterable[SolutionDoc]:
    """Every published solution as an index document, read in batches."""
    last_id = 0
    while True:
        chunk = list(session.scalars(_public(session).where(Solution.id > last_id).limit(batch)))
        if not chunk:
            return
        ratings = ratings_by_solution(session, (s.id for s in chunk))
        for solution in chunk:
            yield build_doc(solution, ratings.get(solution.id))
        last_id = chunk[-1].id


def _before_commit(session: Session) -> None:
    marked = session.info.pop(_MARKED, set())
    if not marked:
        return
    public = list(session.scalars(_public(session, marked)))
    ratings = ratings_by_solution(session, (s.id for s in public))
    docs = [build_doc(s, ratings.get(s.id)) for s in public]
    removed = marked - {s.id for s in public}
    pending = session.info.setdefault(_PENDING, ([], set()))
    pending[0].extend(docs)
    pending[1].update(removed)


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_MARKED, None)


def install(app: Flask) -> None:
    """Create the app's index handle and hook index updates onto its sessions' commits."""
    index = SearchIndex(
        index_path(app), writer_timeout=app.config.get("SEARCH_WRITER_TIMEOUT", 5.0)
    )
    app.extensions["catalog.search"] = index
    sessions = app.extensions["marketplace.db"].sessions

    def after_commit(session: Session) -> None:
        docs, removed = session.info.pop(_PENDING, ([], set()))
        if docs or removed:
            write(index, docs, removed, flag=lambda ids: _flag_for_reindex(sessions, ids))

    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_soft_rollback", lambda s, _t: _after_rollback(s))


def write(
    index: SearchIndex,
    docs: list[SolutionDoc],
    removed: set[int],
    *,
    flag: Callable[[set[int]], None],
) -> bool:
    """Apply the changes to the index; on failure flag the rows and say False."""
    try:
        if removed:
            index.delete(removed)
        if docs:
            index.upsert(docs)
    except (IndexBusy, SearchUnavailable) as exc:
        log.warning("search index not updated (%s); flagged for reindex", exc)
        flag({d.id for d in docs} | removed)
        return False
    return True


def _flag_for_reindex(sessions: Callable[[], Session], ids: set[int]) -> None:
    with sessions() as session, session.begin():
        session.execute(sa.update(Solution).where(Solution.id.in_(ids)).values(needs_reindex=True))


def reindex(
    session: Session, index: SearchIndex, progress: Callable[[int], None] | None = None
) -> int:
    """Rebuild the whole index from the database and clear the reindex flags."""
    count = index.rebuild(public_docs(session), progress=progress)
    session.execute(sa.update(Solution).where(Solution.needs_reindex).values(needs_reindex=False))
    return count
