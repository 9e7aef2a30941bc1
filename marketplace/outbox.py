"""The transactional outbox: what must happen after a commit, stored in the same transaction.

A service that needs a side effect (an e-mail, a vendor webhook, anything that talks to
another host) calls :func:`enqueue` with the session of the change. The job row commits
with the change or not at all, so a rolled-back request delivers nothing. ``marketplace
worker`` later :func:`drain`\\ s the table:

1. claim due jobs in a short transaction of its own (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL, so several workers share the queue; SQLite has one writer) and commit them
   as ``running`` with a lease;
2. run each job's handler with no transaction open, so nothing waits on the network while
   holding row locks;
3. mark it ``done``, or ``failed`` with an exponential backoff; after its kind's
   ``max_attempts`` it is ``dead`` and waits for the operator's retry.

Handlers are registered per kind by each package at app creation (:func:`register`), as
blueprints are: ``marketplace`` never imports the packages whose jobs it runs. Delivery is
at least once (a worker killed between the side effect and the mark runs it again after
the lease), so every handler is idempotent: a dedupe key on the job, and checks in the
handler.
"""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from marketplace.db import Base, enum_type, insert_or_skip, utcnow
from marketplace.errors import Conflict
from marketplace.states import Transitions, transition

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a running job whose worker vanished is claimed again after it
MAX_ERROR_CHARS = 2000


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # will be tried again at next_attempt_at
    DEAD = "dead"  # out of attempts: only the operator's retry brings it back


RETRYABLE = (JobStatus.FAILED, JobStatus.DEAD)

# A job's row is its own history (attempts, last error, times): its moves, made by the
# workers all the time, write no audit row.
JOB_TRANSITIONS = Transitions(
    JobStatus,
    {
        JobStatus.PENDING: {JobStatus.RUNNING},
        # taken over by another worker when the lease ran out
        JobStatus.RUNNING: {JobStatus.RUNNING, JobStatus.DONE, JobStatus.FAILED, JobStatus.DEAD},
        JobStatus.FAILED: {JobStatus.RUNNING, JobStatus.PENDING},
        JobStatus.DEAD: {JobStatus.PENDING},  # the operator's retry
        JobStatus.DONE: set(),
    },
    subject=None,
    touch="updated_at",
    stamps={JobStatus.DONE: "finished_at", JobStatus.DEAD: "finished_at"},
)


class OutboxJob(Base):
    __tablename__ = "outbox_jobs"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_outbox_jobs_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(80), index=True)
    payload: Mapped[dict[str, Any]]
    # One job per key forever: enqueueing the same key again is a no-op.
    dedupe_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    status: Mapped[JobStatus] = mapped_column(
        enum_type(JobStatus, "outbox_job_status"), default=JobStatus.PENDING
    )
    transitions = JOB_TRANSITIONS
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    # While running: when another worker may take the job over.
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<OutboxJob {self.id} {self.kind} {self.status.value} x{self.attempts}>"

    @property
    def can_retry(self) -> bool:
        return self.status in RETRYABLE


Handler = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Kind:
    """How one kind of job is delivered: its handler and its retry policy."""

    name: str
    handler: Handler
    max_attempts: int = 8
    backoff: timedelta = timedelta(seconds=30)  # doubled after each failure
    max_backoff: timedelta = timedelta(hours=6)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure, in whole microseconds (integers: a
        long run of failures must not overflow ``timedelta``)."""
        unit = timedelta(microseconds=1)
        doubled = (self.backoff // unit) * 2 ** max(attempts - 1, 0)
        return timedelta(microseconds=min(doubled, self.max_backoff // unit))


def kinds(app: Flask) -> dict[str, Kind]:
    return app.extensions.setdefault("marketplace.outbox", {})


def register(
    app: Flask,
    name: str,
    handler: Handler,
    *,
    max_attempts: int = 8,
    backoff: timedelta = timedelta(seconds=30),
    max_backoff: timedelta = timedelta(hours=6),
) -> None:
    """Deliver jobs of kind ``name`` with ``handler(payload)``. The handler runs in an app
    context with no transaction open; it may use ``db.session`` (committed with the job's
    ``done`` mark) and must be idempotent. Raising marks the job failed (retried)."""
    registry = kinds(app)
    if name in registry:
        raise ValueError(f"outbox kind {name!r} registered twice")
    registry[name] = Kind(name, handler, max_attempts, backoff, max_backoff)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
) -> int | None:
    """Record a job in the caller's transaction; returns its id, or None when a job with
    this ``dedupe_key`` exists already. Flushes, never commits."""
    if has_app_context() and kind not in kinds(current_app):
        raise ValueError(f"no outbox handler registered for {kind!r}")
    now = utcnow()
    statement = (
        insert_or_skip(session, OutboxJob.__table__)
        .values(
            kind=kind,
            payload=payload,
            dedupe_key=dedupe_key or f"{kind}:{uuid.uuid4().hex}",
            status=JobStatus.PENDING.value,
            attempts=0,
            next_attempt_at=run_at or now,
            last_error="",
            created_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(OutboxJob.__table__.c.id)
    )
    return session.scalar(statement)


@dataclass
class DrainReport:
    done: int = 0
    failed: int = 0
    dead: int = 0

    @property
    def handled(self) -> int:
        return self.done + self.failed + self.dead


def _due(now: datetime) -> sa.ColumnElement[bool]:
    waiting = sa.and_(
        OutboxJob.status.in_([JobStatus.PENDING, JobStatus.FAILED]),
        OutboxJob.next_attempt_at <= now,
    )
    abandoned = sa.and_(OutboxJob.status == JobStatus.RUNNING, OutboxJob.locked_until < now)
    return sa.or_(waiting, abandoned)


def claim(sessions: sessionmaker[Session], *, limit: int, now: datetime) -> list[int]:
    """Take up to ``limit`` due jobs for this worker, committed as running with a lease."""
    with sessions() as session, session.begin():
        query = sa.select(OutboxJob).where(_due(now)).order_by(OutboxJob.id).limit(limit)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        jobs = list(session.scalars(query))
        for job in jobs:
            transition(job, JobStatus.RUNNING, None, now=now)
            job.attempts += 1
            job.locked_until = now + LEASE
        return [job.id for job in jobs]


def drain(app: Flask, *, limit: int = 100, now: datetime | None = None) -> DrainReport:
    """Deliver the jobs due now, once each; returns what happened to them."""
    from marketplace.db import db

    report = DrainReport()
    with app.app_context():
        sessions = db.sessions
    for job_id in claim(sessions, limit=limit, now=now or utcnow()):
        _deliver(app, job_id, report)
    return report


def _deliver(app: Flask, job_id: int, report: DrainReport) -> None:
    from marketplace.db import db

    with app.app_context():
        with db.sessions() as session:
            job = session.get(OutboxJob, job_id)
            assert job is not None
            kind_name, payload, attempts = job.kind, dict(job.payload), job.attempts
            session.rollback()  # nothing stays open (on SQLite: the write lock) while it runs
        kind = kinds(app).get(kind_name)
        error = ""
        try:
            if kind is None:
                raise LookupError(f"no handler registered for {kind_name!r}")
            kind.handler(payload)
        except Exception as exc:
            log.warning("outbox job %s (%s) failed: %s", job_id, kind_name, exc, exc_info=True)
            db.session.rollback()
            error = f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS] or "error"
        _finish(db.session, job_id, kind, attempts, error, report)
        db.session.commit()


def _finish(
    session: Session, job_id: int, kind: Kind | None, attempts: int, error: str, report: DrainReport
) -> None:
    now = utcnow()
    job = session.get(OutboxJob, job_id)
    assert job is not None
    if job.status is not JobStatus.RUNNING:
        # Its lease ran out and another worker took it over and finished it first.
        log.warning("outbox job %s (%s) was finished by another worker", job_id, job.kind)
        return
    job.locked_until = None
    if not error:
        transition(job, JobStatus.DONE, None, now=now)
        job.last_error = ""
        report.done += 1
        return
    job.last_error = error
    if kind is None or attempts >= kind.max_attempts:
        transition(job, JobStatus.DEAD, None, now=now)
        report.dead += 1
        log.error("outbox job %s (%s) is dead after %d attempts", job_id, job.kind, attempts)
        return
    transition(job, JobStatus.FAILED, None, now=now)
    job.next_attempt_at = now + kind.delay(attempts)
    report.failed += 1


def retry(session: Session, job: OutboxJob, *, now: datetime) -> None:
    """The operator's retry: a failed job now, a dead one with its attempts afresh."""
    if not job.can_retry:
        raise Conflict(_l("Only a failed or dead job can be retried."))
    if job.status is JobStatus.DEAD:
        job.attempts = 0
    transition(job, JobStatus.PENDING, None, now=now)
    job.next_attempt_at = now
    job.finished_at = None
    session.flush()


def counts(session: Session) -> dict[JobStatus, int]:
    rows = session.execute(
        sa.select(OutboxJob.status, sa.func.count()).group_by(OutboxJob.status)
    ).all()
    found = dict(rows)
    return {status: found.get(status, 0) for status in JobStatus}
