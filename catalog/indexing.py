"""Keeping every host's search index in step with the database (STYLE.md habits 11 and 12).

Services call :func:`mark` for a solution whose public state changed (a vendor's name or
verification changing marks its listings by itself). Before the commit the marked solutions
go into the search log (catalog/search_log.py) in the same transaction; nothing is written
for a rolled-back change.

Each process has a :class:`Follower` for its index folder, which applies the log entries
the folder has not seen yet, under Whoosh's write lock (one writer per folder; the other
workers sharing it read) and records the position reached in the folder. It runs:
- right after a commit that wrote entries, in the process that made the change, so its
  own next page shows it;
- before anything reads the index in a request (search pages, the search API, the page
  cache's key), at most every ``RETRY_SECONDS`` while the index is locked: another host's
  change is found by the next search after it committed.
A host that was down catches up at its first search; one whose position fell behind the
pruned part of the log rebuilds from the database. When the index is locked or missing
after a commit, the rows are also flagged ``needs_reindex`` for ``marketplace catalog
reindex``; the database is never rolled back because of the index.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, cast

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, selectinload
from werkzeug.local import LocalProxy

from catalog import search_log, search_thesaurus
from catalog.markup import plain_text
from catalog.models import Rating, Solution, SolutionRevision
from catalog.search import IndexBusy, SearchIndex, SearchUnavailable, SolutionDoc
from catalog.search.vocabulary import Vocabulary
from catalog.search_log import SearchOp
from catalog.search_thesaurus import VocabularyCache
from marketplace.db import READ_ONLY, db
from marketplace.models import Organization, OrgKind

log = logging.getLogger(__name__)
_MARKED = "catalog.reindex"
_LOGGED = "catalog.search_logged"
# A vendor's fields that its listings' documents show or depend on.
_VENDOR_FIELDS = ("name", "verification", "verified_at")
RETRY_SECONDS = 0.5  # a process that found its index locked leaves it alone this long
BATCH = 500  # log entries applied per index commit
PRUNE_CHANCE = 0.01  # of a commit that wrote entries also pruning the log


def mark(session: Session, solution_id: int) -> None:
    session.info.setdefault(_MARKED, set()).add(solution_id)


def search_index(app: Flask | None = None) -> SearchIndex:
    """The app's index; in a request, first brought up to the search log and the search
    vocabulary to the operators' last edit (once per request)."""
    app = app or cast("LocalProxy[Flask]", current_app)._get_current_object()
    if has_request_context() and "search_position" not in g:
        head, vocabulary_version = g.pop("catalog_heads", None) or _catalog_heads(app)
        g.search_position = app.extensions["catalog.follower"].sync(known_head=head)
        g.search_vocabulary = app.extensions["catalog.vocabulary"].current(
            known_version=vocabulary_version
        )
    return app.extensions["catalog.search"]


# Built once: every page asks, and building a statement costs about as much as running it.
_HEADS = sa.select(search_log.head_expression(), search_thesaurus.version_expression())


def with_catalog_heads(statement: sa.Select[Any]) -> sa.Select[Any]:
    """``statement`` with the search log's head and the vocabulary's version as its last two
    columns: a page that runs a statement anyway reads them in the same round trip, and
    hands them to ``known_heads``."""
    return statement.add_columns(*_HEADS.selected_columns)


def known_heads(head: int, vocabulary_version: int) -> None:
    """The heads read beside a page's own statement (``with_catalog_heads``), for this
    request's ``search_index`` to use instead of reading them again."""
    if has_request_context() and "search_position" not in g:
        g.catalog_heads = (int(head), int(vocabulary_version))


def _catalog_heads(app: Flask) -> tuple[int | None, int | None]:
    """The search log's head and the search vocabulary's version, in one statement (a
    request that finds the index current needs nothing else); (None, None) when they
    cannot be read, and the follower and the vocabulary read them themselves."""
    statement = _HEADS
    try:
        if db.session.get_bind().dialect.name != "sqlite":
            # In the request's own transaction: no second connection (and its pre-ping)
            # per page. SQLite's request transaction takes the write lock; a search must
            # not, so there it reads in a plain snapshot of its own.
            try:
                row = db.session.execute(statement).one()
            except sa.exc.SQLAlchemyError:
                db.session.rollback()  # only reads so far; leave the request usable
                raise
            return int(row[0]), int(row[1])
        with app.extensions["catalog.follower"].sessions() as session:
            session.connection(execution_options=READ_ONLY)  # see marketplace.db
            row = session.execute(statement).one()
            return int(row[0]), int(row[1])
    except sa.exc.SQLAlchemyError as exc:
        log.warning("search log head not read (%s)", exc)
        return None, None


def page_version() -> tuple[int, object]:
    """The page cache's version of search pages: the search log position and the
    vocabulary's version (an operator's edit of the thesaurus changes results too)."""
    position = search_position()
    return position, g.search_vocabulary.version


def search_position() -> int:
    """The search log position of this request's index, for the page cache's key: pages
    rendered now are at least this new on any host. Raises SearchUnavailable when the
    index is missing or could not reach the log's head (pages are then not cached)."""
    search_index()
    if g.search_position is None:
        raise SearchUnavailable("the search index is behind the search log")
    return g.search_position


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


def _public(session: Session, ids: Iterable[int] | None = None) -> sa.Select[Solution]:
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


def _mark_vendor_listings(session: Session, _context: object, _instances: object) -> None:
    """A vendor renamed, verified or unverified: its public listings' documents change."""
    for obj in session.dirty:
        if not (isinstance(obj, Organization) and obj.kind is OrgKind.VENDOR):
            continue
        state = sa.inspect(obj)
        if any(state.attrs[name].history.has_changes() for name in _VENDOR_FIELDS):
            with session.no_autoflush:
                for solution_id in session.scalars(
                    sa.select(Solution.id).where(Solution.vendor_id == obj.id, Solution.is_public)
                ):
                    mark(session, solution_id)


def _before_commit(session: Session) -> None:
    """Write the marked solutions to the search log, as the transaction's last statements
    (the log's lock is then held only until the commit). A savepoint released (SQLAlchemy
    calls this for it too) keeps its marks for the transaction's own commit."""
    if session.in_nested_transaction():
        return
    session.flush()
    marked = session.info.pop(_MARKED, set())
    if not marked:
        return
    public = set(
        session.scalars(sa.select(Solution.id).where(Solution.id.in_(marked), Solution.is_public))
    )
    search_log.record(
        session, {sid: SearchOp.UPSERT if sid in public else SearchOp.DELETE for sid in marked}
    )
    session.info.setdefault(_LOGGED, set()).update(marked)


def _after_rollback(session: Session, rolled_back: SessionTransaction) -> None:
    """Forget the marks with the transaction; a savepoint rolled back keeps them (a mark of
    a solution that did not change after all only makes followers read it again)."""
    if rolled_back.nested:
        return
    session.info.pop(_LOGGED, None)
    session.info.pop(_MARKED, None)


def install(app: Flask) -> None:
    """Create the app's index handle and its follower, and write the search log in the
    transactions of its sessions."""
    sessions = app.extensions["marketplace.db"].sessions
    cache = VocabularyCache(sessions)
    app.extensions["catalog.vocabulary"] = cache

    def vocabulary() -> Vocabulary:
        """Read once per request (search_index), and for every search outside one."""
        if has_request_context() and "search_vocabulary" in g:
            return g.search_vocabulary
        return cache.current()

    index = SearchIndex(
        index_path(app),
        writer_timeout=app.config.get("SEARCH_WRITER_TIMEOUT", 5.0),
        vocabulary=vocabulary,
    )
    app.extensions["catalog.search"] = index
    follower = Follower(index, sessions, keep_days=app.config["SEARCH_LOG_KEEP_DAYS"])
    app.extensions["catalog.follower"] = follower

    def after_commit(session: Session) -> None:
        if session.in_nested_transaction():
            # A savepoint released (SQLAlchemy fires after_commit for it too): the outer
            # transaction still holds its locks (on SQLite, the write lock a sync would wait
            # on); the entries are followed when that one commits.
            return
        logged = session.info.pop(_LOGGED, None)
        if not logged:
            return
        if follower.sync(wait=True) is None:
            _flag_for_reindex(sessions, logged)
        if random.random() < PRUNE_CHANCE:
            follower.prune()

    event.listen(sessions, "before_flush", _mark_vendor_listings)
    event.listen(sessions, "before_commit", _before_commit)
    event.listen(sessions, "after_commit", after_commit)
    event.listen(sessions, "after_soft_rollback", _after_rollback)


class _Behind(Exception):
    """The index's position is below the log's horizon: entries it needs were pruned."""


class Follower:
    """Brings one index folder up to the search log, from whichever process calls it."""

    def __init__(
        self, index: SearchIndex, sessions: Callable[[], Session], *, keep_days: int
    ) -> None:
        self.index = index
        self.sessions = sessions
        self.keep_days = keep_days
        self._quiet_until = 0.0  # after finding the index locked: leave it until then
        self._analysis_checked = False  # the live index's analysis version was current

    def __repr__(self) -> str:
        return f"<Follower of {self.index!r}>"

    def sync(self, *, wait: bool = False, known_head: int | None = None) -> int | None:
        """Apply the entries this folder has not seen. Returns its position when it reached
        the log's head, None when it could not (no index, or locked by a writer for the
        index's writer timeout; ``wait=False`` does not try again within RETRY_SECONDS).
        ``known_head``, the head the caller has just read, saves a read when the folder is
        already there."""
        if not wait and time.monotonic() < self._quiet_until:
            return None
        if known_head is not None and self._analysis_checked:
            try:
                position = self.index.position()
            except (IndexBusy, SearchUnavailable):
                position = None
            if position is not None and position >= known_head:
                return position
        try:
            with self.sessions() as session:
                session.connection(execution_options=READ_ONLY)  # see marketplace.db
                head = search_log.head(session)
                position = self.index.position()
                if self._stale_analysis():
                    position = self._rebuild(session, only_if_stale=True)
                if position is not None and position >= head:
                    return position
                try:
                    while position is None or position < head:
                        reached = self.index.follow(lambda at: self._changes(session, at))
                        if position is not None and reached <= position:
                            break  # nothing more to read (the head was pruned meanwhile)
                        position = reached
                except _Behind:
                    position = self._rebuild(session)
                return position if position >= head else None
        except (IndexBusy, SearchUnavailable) as exc:
            self._quiet_until = time.monotonic() + RETRY_SECONDS
            log.warning("search index not brought up to the search log (%s)", exc)
            return None

    def _changes(self, session: Session, position: int) -> tuple[list[SolutionDoc], set[int], int]:
        if position < search_log.horizon(session):
            raise _Behind
        entries = search_log.changes_after(session, position, BATCH)
        if not entries:
            return [], set(), position
        changed = search_log.last_op(entries)
        public = list(session.scalars(_public(session, changed)))
        ratings = ratings_by_solution(session, (s.id for s in public))
        docs = [build_doc(s, ratings.get(s.id)) for s in public]
        return docs, set(changed) - {s.id for s in public}, entries[-1].id

    def _stale_analysis(self) -> bool:
        """Whether the live index was built by an older text analysis (an upgrade changed
        how words are cut). Checked once per process: later rebuilds write the current
        version."""
        if self._analysis_checked:
            return False
        current = self.index.analysis_is_current()  # SearchUnavailable without an index
        self._analysis_checked = current
        return not current

    def _rebuild(self, session: Session, *, only_if_stale: bool = False) -> int:
        if only_if_stale:
            log.warning("search index %s has an older text analysis; rebuilding", self.index)
        else:
            log.warning("search index %s is behind the pruned search log; rebuilding", self.index)
        reindex(session, self.index, only_if_stale=only_if_stale)
        session.commit()
        self._analysis_checked = True
        return self.index.position() or 0

    def prune(self) -> int:
        """Drop log entries older than the kept days, in a transaction of its own."""
        with self.sessions() as session, session.begin():
            return search_log.prune(session, keep_days=self.keep_days)


def _flag_for_reindex(sessions: Callable[[], Session], ids: set[int]) -> None:
    with sessions() as session, session.begin():
        session.execute(sa.update(Solution).where(Solution.id.in_(ids)).values(needs_reindex=True))


def reindex(
    session: Session,
    index: SearchIndex,
    progress: Callable[[int], None] | None = None,
    *,
    only_if_stale: bool = False,
) -> int:
    """Rebuild the whole index from the database and clear the reindex flags. The new
    index records the search log position read before the documents, so its follower
    applies only what came after. ``only_if_stale``: leave an index alone that another
    process rebuilt with the current text analysis meanwhile (returns 0)."""
    position = search_log.head(session)
    count = index.rebuild(
        public_docs(session), progress=progress, position=position, only_if_stale=only_if_stale
    )
    if count is None:
        return 0
    session.execute(sa.update(Solution).where(Solution.needs_reindex).values(needs_reindex=False))
    return count
