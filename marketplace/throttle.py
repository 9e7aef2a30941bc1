"""Sign-in throttling that holds across workers and hosts.

Two counts guard the login form:
- per e-mail address, the lock-out (LOGIN_LOCKOUT_LIMIT, "5 per 15 minutes"): every
  attempt is counted before the password is checked, a successful sign-in clears the count,
  and once it passes the limit even the right password is refused until the window ends;
- per client address, Flask-Limiter's LOGIN_RATE_LIMIT (and the other route limits).

Both are counted in a store every worker and host shares: the database (table
``throttle_counters``, one fixed-window row per key, updated by one atomic UPSERT), or
Redis when RATELIMIT_STORAGE_URI names it. The lock-out never uses a per-process store;
Flask-Limiter may (``memory://``) only in a single process, or when testing or debugging:
``refuse_per_process_store`` stops a server with more workers from starting.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from limits import RateLimitItem, parse
from limits.storage import RedisStorage, Storage
from sqlalchemy.orm import Mapped, Session, mapped_column

from marketplace.db import Base, db, insert_or_skip, rows_changed, utcnow

DATABASE_STORAGE_URI = "database://"
_PER_PROCESS_SCHEMES = ("memory",)
_REDIS_SCHEMES = ("redis", "rediss", "redis+sentinel", "redis+cluster")
# One hit in a hundred also deletes the ended counters, so the table stays as small as the
# number of keys seen in one window (an attacker trying many addresses cannot grow it).
PURGE_CHANCE = 0.01


class ThrottleCounter(Base):
    """Hits on one key (an e-mail address, a client address and route) in the current
    fixed window; a row whose window has ended counts as zero and is restarted."""

    __tablename__ = "throttle_counters"
    __table_args__ = (sa.CheckConstraint("hits >= 0", name="hits_not_negative"),)

    key: Mapped[str] = mapped_column(sa.String(300), primary_key=True)
    hits: Mapped[int]
    # When the current window ends.
    expires_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"<ThrottleCounter {self.key!r} hits={self.hits} until {self.expires_at:%H:%M:%S}>"


@contextmanager
def counting_session() -> Iterator[Session]:
    """Where a count is written. On PostgreSQL a short transaction of its own, committed at
    once: the count stays even if the request fails, and no row lock is held while the
    request goes on (hits on one key queue only for the UPSERT itself). SQLite has one
    writer at a time and the request may hold it already: the request's own session, which
    commits with the request (a request answered 429 needs no hit)."""
    if db.engine.dialect.name != "postgresql":
        yield db.session
        return
    with db.sessions() as session, session.begin():
        yield session


class DatabaseStorage(Storage):
    """A ``limits`` storage (fixed windows) in the application's database, used by
    Flask-Limiter for ``database://`` and by the lock-out. A hit is one atomic UPSERT that
    returns the new count, so concurrent hits on one key are each counted once."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return sa.exc.SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = utcnow()
        table = ThrottleCounter.__table__
        with counting_session() as session:
            insert = insert_or_skip(session, ThrottleCounter).values(
                key=key[:300], hits=amount, expires_at=now + timedelta(seconds=expiry)
            )
            ended = table.c.expires_at <= now
            statement = insert.on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "hits": sa.case((ended, amount), else_=table.c.hits + amount),
                    "expires_at": sa.case(
                        (ended, insert.excluded.expires_at), else_=table.c.expires_at
                    ),
                },
            ).returning(table.c.hits)
            hits = int(session.scalar(statement))
            if random.random() < PURGE_CHANCE:
                purge_ended(session, now)
        return hits

    def _current(self, key: str) -> tuple[int, datetime] | None:
        table = ThrottleCounter.__table__
        with counting_session() as session:
            row = session.execute(
                sa.select(table.c.hits, table.c.expires_at).where(table.c.key == key[:300])
            ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return row.hits, row.expires_at

    def get(self, key: str) -> int:
        current = self._current(key)
        return current[0] if current else 0

    def get_expiry(self, key: str) -> float:
        current = self._current(key)
        return current[1].timestamp() if current else time.time()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with counting_session() as session:
            return rows_changed(session, sa.delete(ThrottleCounter))

    def clear(self, key: str) -> None:
        with counting_session() as session:
            session.execute(sa.delete(ThrottleCounter).where(ThrottleCounter.key == key[:300]))


def purge_ended(session: Session, now: datetime) -> int:
    """Delete the counters whose window has ended (they count as zero anyway)."""
    return rows_changed(
        session, sa.delete(ThrottleCounter).where(ThrottleCounter.expires_at <= now)
    )


class LoginLockout:
    """Sign-in attempts per e-mail address since its last success, in a store all workers
    and hosts share."""

    def __init__(self, storage: Storage, limit: RateLimitItem) -> None:
        self.storage = storage
        self.limit = limit

    @staticmethod
    def key(email: str) -> str:
        return "login-email:" + (email or "").strip().lower()

    def attempt(self, email: str) -> bool:
        """Count a sign-in attempt; False when the address is locked (over the limit)."""
        hits = self.storage.incr(self.key(email), self.limit.get_expiry())
        return hits <= self.limit.amount

    def succeeded(self, email: str) -> None:
        self.storage.clear(self.key(email))


def storage_scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def _lockout_storage(app: Flask) -> Storage:
    uri = app.config["RATELIMIT_STORAGE_URI"]
    if storage_scheme(uri) in _REDIS_SCHEMES:
        prefix = app.config.get("RATELIMIT_KEY_PREFIX") or "marketplace"
        return RedisStorage(
            uri, key_prefix=prefix, **app.config.get("RATELIMIT_STORAGE_OPTIONS", {})
        )
    return DatabaseStorage()


def init_app(app: Flask) -> None:
    """Choose the stores (before Flask-Limiter reads its configuration)."""
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = DATABASE_STORAGE_URI
    app.extensions["marketplace.login_lockout"] = LoginLockout(
        _lockout_storage(app), parse(app.config["LOGIN_LOCKOUT_LIMIT"])
    )
    # gunicorn's workers default to WEB_CONCURRENCY (as on most hosting platforms); a
    # gunicorn started with -w is checked by gunicorn_post_worker_init once the app is in.
    refuse_per_process_store(app.config, int(os.environ.get("WEB_CONCURRENCY") or 1))


def login_lockout() -> LoginLockout:
    return current_app.extensions["marketplace.login_lockout"]


class PerProcessStoreError(RuntimeError):
    """A server with several workers was configured to count limits in each process."""


def refuse_per_process_store(config: dict[str, Any], workers: int) -> None:
    """Stop a server with more than one worker whose limits live in each process: every
    worker would allow the full limit (4 workers, 4 times the guesses)."""
    if config.get("TESTING") or config.get("DEBUG") or workers <= 1:
        return
    uri = config.get("RATELIMIT_STORAGE_URI") or DATABASE_STORAGE_URI
    if storage_scheme(uri) in _PER_PROCESS_SCHEMES:
        raise PerProcessStoreError(
            f"RATELIMIT_STORAGE_URI={uri} keeps rate limits in each process, and {workers} "
            f"workers are configured: each would allow the whole limit. Use "
            f"{DATABASE_STORAGE_URI} (the default) or redis://..., or run one worker."
        )


def gunicorn_post_worker_init(worker: Any) -> None:
    """gunicorn hook: the loaded app's limit store against the number of workers."""
    app = getattr(worker, "wsgi", None)
    if isinstance(app, Flask):
        refuse_per_process_store(app.config, worker.cfg.workers)
