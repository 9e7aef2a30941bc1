"""``marketplace worker``: the outbox drain and the schedule, on huey.

The schedule is a list of jobs that run every N seconds (the billing run, the anomaly scan,
audit checkpoints...), registered by each package at app creation with :func:`every`.
Time is cut into slots of N seconds; before running a job for a slot a worker inserts the
row (job, slot) into ``schedule_runs``, whose unique key lets exactly one worker win, on
however many hosts. The row then records the run: when, how long, and the result.

huey only paces the work (a periodic tick each minute, and an outbox drain every few
seconds); our database is the source of truth for both, so huey's own storage
(SQLite in the instance folder, or Redis when ``CACHE_URL`` names one) holds nothing that
matters when lost.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.local import LocalProxy

from marketplace import outbox
from marketplace.db import Base, db, insert_or_skip, utcnow

log = logging.getLogger(__name__)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
DRAIN_SECONDS = 2.0  # how often a running worker looks for due outbox jobs
MAX_RESULT_CHARS = 2000

JobFunction = Callable[[Flask, datetime], str]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    interval: timedelta
    run: JobFunction  # (app, slot start) -> a one-line result; raises on failure

    def slot(self, now: datetime) -> datetime:
        seconds = int(self.interval.total_seconds())
        elapsed = int((now - EPOCH).total_seconds())
        return EPOCH + timedelta(seconds=elapsed - elapsed % seconds)


class ScheduleRun(Base):
    """One scheduled job in one time slot: claimed by one worker, then its result."""

    __tablename__ = "schedule_runs"
    __table_args__ = (sa.UniqueConstraint("name", "slot_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    slot_start: Mapped[datetime]
    worker: Mapped[str] = mapped_column(sa.String(200))  # host:pid that won the slot
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    ok: Mapped[bool | None]  # None while running
    result: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        return f"<ScheduleRun {self.name} {self.slot_start.isoformat()} ok={self.ok}>"


def schedule(app: Flask) -> dict[str, ScheduledJob]:
    return app.extensions.setdefault("marketplace.schedule", {})


def every(app: Flask, name: str, interval: timedelta, run: JobFunction) -> None:
    """Run ``run(app, slot_start)`` once per ``interval`` across all workers."""
    jobs = schedule(app)
    if name in jobs:
        raise ValueError(f"scheduled job {name!r} registered twice")
    jobs[name] = ScheduledJob(name, interval, run)


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim_slot(session: Session, job: ScheduledJob, slot: datetime, now: datetime) -> int | None:
    statement = (
        insert_or_skip(session, ScheduleRun.__table__)
        .values(name=job.name, slot_start=slot, worker=_worker_name(), started_at=now, result="")
        .on_conflict_do_nothing(index_elements=["name", "slot_start"])
        .returning(ScheduleRun.__table__.c.id)
    )
    return session.scalar(statement)


def run_schedule(app: Flask, *, now: datetime | None = None) -> list[ScheduleRun]:
    """Run every scheduled job whose current slot nobody has taken yet; returns the runs
    this worker made."""
    now = now or utcnow()
    made = []
    for job in schedule(app).values():
        slot = job.slot(now)
        with app.app_context():
            run_id = _claim_slot(db.session, job, slot, now)
            db.session.commit()
        if run_id is None:
            continue
        made.append(_run(app, job, run_id, slot))
    return made


def _run(app: Flask, job: ScheduledJob, run_id: int, slot: datetime) -> ScheduleRun:
    started = time.monotonic()
    ok, result = True, ""
    try:
        with app.app_context():
            result = job.run(app, slot)
    except Exception as exc:
        log.exception("scheduled job %s failed", job.name)
        ok, result = False, f"{type(exc).__name__}: {exc}"
    duration_ms = int((time.monotonic() - started) * 1000)
    log.info("scheduled job %s (%s): %s in %d ms", job.name, slot.isoformat(), result, duration_ms)
    with app.app_context():
        run = db.session.get(ScheduleRun, run_id)
        assert run is not None
        run.finished_at = utcnow()
        run.duration_ms = duration_ms
        run.ok = ok
        run.result = result[:MAX_RESULT_CHARS]
        db.session.commit()
    return run


@dataclass(frozen=True)
class JobState:
    """What the operator sees of one scheduled job."""

    name: str
    interval: timedelta
    last: ScheduleRun | None
    next_at: datetime


def schedule_states(app: Flask, session: Session, *, now: datetime) -> list[JobState]:
    states = []
    for job in schedule(app).values():
        last = session.scalar(
            sa.select(ScheduleRun)
            .where(ScheduleRun.name == job.name)
            .order_by(ScheduleRun.slot_start.desc())
            .limit(1)
        )
        next_at = job.slot(now) + job.interval if last and last.slot_start >= job.slot(now) else now
        states.append(JobState(job.name, job.interval, last, next_at))
    return states


# --- huey ------------------------------------------------------------------------------------


def make_huey(app: Flask) -> Any:
    """The Redis of ``CACHE_URL`` when there is one (shared by the workers of every host),
    else SQLite in the instance folder (this host's workers)."""
    from huey import RedisHuey, SqliteHuey

    url = app.config.get("CACHE_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisHuey("marketplace", url=url)
    path = Path(app.instance_path) / "huey.sqlite3"
    return SqliteHuey("marketplace", filename=str(path))


def build_consumer(app: Flask, *, threads: int = 2) -> Any:
    """A huey consumer whose scheduler enqueues, every minute, the schedule's tick and a
    drain that looks at the outbox every ``DRAIN_SECONDS`` for that minute. Each consumer
    (on however many hosts) adds its own: a job is still taken once (SKIP LOCKED), a slot
    run once (its unique key), and nothing piles up across restarts."""
    from huey import crontab

    huey = make_huey(app)

    @huey.periodic_task(crontab(minute="*"))
    def tick() -> None:
        run_schedule(app)

    @huey.periodic_task(crontab(minute="*"))
    def drain_for_a_minute() -> None:
        until = time.monotonic() + 60 - DRAIN_SECONDS
        while True:
            while outbox.drain(app).handled:
                pass
            if time.monotonic() >= until:
                return
            time.sleep(DRAIN_SECONDS)

    tick()  # now, not at the next minute
    drain_for_a_minute()
    return huey.create_consumer(workers=max(threads, 2), worker_type="thread", periodic=True)


def run_once(app: Flask) -> tuple[list[ScheduleRun], outbox.DrainReport]:
    """One pass: the schedule's due slots, then the outbox until nothing is due."""
    runs = run_schedule(app)
    total = outbox.DrainReport()
    while True:
        report = outbox.drain(app)
        total.done += report.done
        total.failed += report.failed
        total.dead += report.dead
        if not report.handled:
            return runs, total


@click.command("worker")
@click.option("--once", is_flag=True, help="Run due scheduled jobs, drain the outbox and exit")
@click.option("--threads", default=2, show_default=True, type=int)
@with_appcontext
def worker_command(once: bool, threads: int) -> None:
    """Deliver the outbox (e-mail, notifications, webhooks) and run the schedule."""
    app = cast("LocalProxy[Flask]", current_app)._get_current_object()
    if once:
        runs, report = run_once(app)
        for run in runs:
            click.echo(f"{run.name}: {'ok' if run.ok else 'FAILED'} {run.result}")
        click.echo(f"outbox: {report.done} done, {report.failed} failed, {report.dead} dead")
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("huey").setLevel(logging.WARNING)  # not a line per drain every 2 s
    click.echo(f"worker {_worker_name()}: {', '.join(schedule(app)) or 'no scheduled jobs'}")
    build_consumer(app, threads=threads).run()


def start_demo_worker(app: Flask, host: str, port: int) -> tuple[str, Callable[[], None]]:
    """``marketplace demo``'s worker: a process beside gunicorn, stopped when the demo
    stops (the environment already names the demo's database and Stripe)."""
    process = subprocess.Popen(
        [sys.executable, "-c", "from marketplace.cli import main; main()", "worker"]
    )

    def stop() -> None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    return f"worker: process {process.pid} (outbox, billing run, anomaly scan)", stop
