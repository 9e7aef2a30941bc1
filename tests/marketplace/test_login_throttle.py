"""Sign-in lock-out shared by every worker and host (database, or Redis when configured),
refusal of per-process limit stores with several workers, and equal answer times for known
and unknown e-mail addresses."""

from __future__ import annotations

import http.cookiejar
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import create_app, migrate, services, throttle
from marketplace.db import db, make_engine, utcnow
from tests.conftest import POSTGRES_URL
from tests.factories import PASSWORD, create_org, create_user
from tests.mail import free_port

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def apps_on_one_connection(
    config: dict[str, object], count: int
) -> Iterator[tuple[list[Flask], Session]]:
    """``count`` apps (as several workers) whose sessions all join one outer transaction,
    rolled back at the end, with a session in it for factories."""
    apps = [create_app(config) for _ in range(count)]
    engine = apps[0].extensions["marketplace.db"].engine
    connection = engine.connect()
    outer = connection.begin()
    for app in apps:
        sessions = app.extensions["marketplace.db"].sessions
        sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
    session = apps[0].extensions["marketplace.db"].sessions()
    try:
        yield apps, session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        for app in apps:
            app.extensions["marketplace.db"].engine.dispose()


def _post_login(client: FlaskClient, email: str, password: str) -> int:
    return client.post("/login", data={"email": email, "password": password}).status_code


# --- two gunicorn servers, one database ------------------------------------------------


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own that separate processes can open: a SQLite
    file, or on PostgreSQL ``<db>_throttle_<pid>``, dropped afterwards."""
    if not POSTGRES_URL:
        url, admin, name = f"sqlite:///{tmp_path / 'shared.db'}", None, ""
    else:
        base = sa.make_url(make_engine(POSTGRES_URL).url)
        name = f"{base.database}_throttle_{os.getpid()}"
        admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    if admin is not None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _server_env(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "STRIPE_"))}
    env.pop("DATABASE_URL", None)
    env.pop("RATELIMIT_STORAGE_URI", None)
    env.update(
        MARKETPLACE_DATABASE_URL=url,
        MARKETPLACE_SECRET_KEY="throttle-test",
        MARKETPLACE_SEARCH_INDEX_DIR=str(workdir / "index"),
        MARKETPLACE_SESSION_COOKIE_SECURE="false",  # plain http on loopback
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


def _gunicorn(workers: int, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,  # gunicorn reads gunicorn.conf.py from here
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@contextmanager
def gunicorn_server(workers: int, env: dict[str, str]) -> Iterator[str]:
    port = free_port()
    process = _gunicorn(workers, port, env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):
                    break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "gunicorn did not start: " + process.stderr.read().decode()[-2000:]
                    ) from exc
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stderr.close()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class Browser:
    """One visitor of one server: cookies, the login form's CSRF token, status codes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect()
        )

    def login(self, email: str, password: str) -> int:
        with self.opener.open(self.base + "/login", timeout=30) as answer:
            page = answer.read().decode()
        match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
        assert match, "no CSRF token on /login"
        body = urllib.parse.urlencode(
            {"email": email, "password": password, "csrf_token": match.group(1)}
        ).encode()
        try:
            with self.opener.open(self.base + "/login", body, timeout=30) as answer:
                return answer.status
        except urllib.error.HTTPError as refused:
            refused.close()
            return refused.code


def _committed_user(url: str, tmp_path: Path) -> str:
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "x", "SEARCH_INDEX_DIR": str(tmp_path / "i")}
    )
    with app.app_context():
        session = app.extensions["marketplace.db"].sessions()
        user = create_user(session)
        create_org(session, owner=user)
        email = user.email
        session.commit()
        session.close()
    app.extensions["marketplace.db"].engine.dispose()
    return email


def test_lockout_counts_across_two_servers(shared_database: str, tmp_path: Path) -> None:
    """Two hosts on one database: one with two workers and the default store, one with a
    single worker counting its route limits in memory. Wrong passwords spread over both
    reach the one lock-out of 5; then the right password is refused on both."""
    email = _committed_user(shared_database, tmp_path)
    host_a = _server_env(shared_database, tmp_path / "a")
    host_b = _server_env(shared_database, tmp_path / "b", RATELIMIT_STORAGE_URI="memory://")
    with gunicorn_server(2, host_a) as base_a, gunicorn_server(1, host_b) as base_b:
        a, b = Browser(base_a), Browser(base_b)
        wrong = [(a if i % 2 else b).login(email, "wrong-password") for i in range(5)]
        assert wrong == [200] * 5
        assert a.login(email, PASSWORD) == 429
        assert b.login(email, PASSWORD) == 429
        # Another address is not locked, on either host.
        assert a.login("nobody@example.com", "wrong-password") == 200


def test_several_workers_with_a_memory_store_refuse_to_start(tmp_path: Path) -> None:
    env = _server_env(
        f"sqlite:///{tmp_path / 'none.db'}", tmp_path, RATELIMIT_STORAGE_URI="memory://"
    )
    process = _gunicorn(2, free_port(), env)
    _out, err = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "RATELIMIT_STORAGE_URI=memory://" in err.decode()


def test_per_process_store_rule() -> None:
    refuse = throttle.refuse_per_process_store
    refuse({"RATELIMIT_STORAGE_URI": "memory://"}, 1)  # one process: its memory is shared
    refuse({"RATELIMIT_STORAGE_URI": "memory://", "TESTING": True}, 4)
    refuse({"RATELIMIT_STORAGE_URI": "memory://", "DEBUG": True}, 4)
    refuse({"RATELIMIT_STORAGE_URI": "database://"}, 4)
    refuse({"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0"}, 4)
    with pytest.raises(throttle.PerProcessStoreError, match="4 workers"):
        refuse({"RATELIMIT_STORAGE_URI": "memory://"}, 4)


def test_the_app_refuses_a_memory_store_for_web_concurrency_workers(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {"DATABASE_URL": database_url, "SECRET_KEY": "x"}
    monkeypatch.setenv("WEB_CONCURRENCY", "4")
    with pytest.raises(throttle.PerProcessStoreError):
        create_app({**settings, "RATELIMIT_STORAGE_URI": "memory://"})
    create_app(settings).extensions["marketplace.db"].engine.dispose()  # database://


# --- the lock-out in the database and in Redis -------------------------------------------


def test_concurrent_hits_on_one_key_are_all_counted(shared_database: str, tmp_path: Path) -> None:
    """Eight threads, each with its own connection and transaction, hit one key: every hit
    is counted once (the UPSERT is atomic), as by workers of several hosts."""
    app = create_app(
        {"DATABASE_URL": shared_database, "SECRET_KEY": "x", "SEARCH_INDEX_DIR": str(tmp_path)}
    )
    storage = throttle.DatabaseStorage()
    start = threading.Barrier(8)

    def hit_five_times() -> list[int]:
        seen = []
        start.wait()
        for _ in range(5):
            with app.app_context():
                seen.append(storage.incr("login-email:race@example.com", 900))
                db.session.commit()
        return seen

    with ThreadPoolExecutor(8) as pool:
        results = [hit for hits in pool.map(lambda _: hit_five_times(), range(8)) for hit in hits]
    assert sorted(results) == list(range(1, 41))
    with app.app_context():
        assert storage.get("login-email:race@example.com") == 40
        assert storage.get_expiry("login-email:race@example.com") > time.time() + 800
    app.extensions["marketplace.db"].engine.dispose()


def test_ended_windows_restart_and_are_purged(
    app: Flask, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "PURGE_CHANCE", 0)
    storage = throttle.DatabaseStorage()
    with app.test_request_context():
        assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
        counter = db.session.get(throttle.ThrottleCounter, "k")
        counter.expires_at = utcnow() - timedelta(seconds=1)  # the window has ended
        db.session.flush()
        assert storage.get("k") == 0
        assert storage.incr("k", 60) == 1  # a new window
        storage.incr("old", 60)
        db.session.get(throttle.ThrottleCounter, "old").expires_at = utcnow() - timedelta(hours=1)
        db.session.flush()
        assert throttle.purge_ended(db.session, utcnow()) == 1
        assert db.session.get(throttle.ThrottleCounter, "k") is not None


def test_default_store_is_the_database(database_url: str) -> None:
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    assert app.config["RATELIMIT_STORAGE_URI"] == "database://"
    assert isinstance(throttle_storage(app), throttle.DatabaseStorage)
    app.extensions["marketplace.db"].engine.dispose()


def throttle_storage(app: object) -> object:
    return app.extensions["marketplace.login_lockout"].storage  # type: ignore[attr-defined]


def test_lockout_is_counted_in_the_database(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    for _ in range(5):
        assert _post_login(client, user.email, "wrong-password") == 200
    counter = session.get(throttle.ThrottleCounter, f"login-email:{user.email}")
    assert counter is not None and counter.hits == 5
    assert _post_login(client, user.email.upper(), PASSWORD) == 429  # the same address


def _lockout_cycle(client: FlaskClient, email: str) -> list[int]:
    """Four wrong, right, four wrong, right: a success clears the count, so the address
    is never locked (the limit is 5)."""
    statuses = [_post_login(client, email, "wrong-password") for _ in range(4)]
    statuses.append(_post_login(client, email, PASSWORD))
    client.post("/logout")
    statuses += [_post_login(client, email, "wrong-password") for _ in range(4)]
    statuses.append(_post_login(client, email, PASSWORD))
    return statuses


@pytest.fixture
def roomy_config(config: dict[str, object]) -> dict[str, object]:
    """The per-client limit out of the way of a test of the per-address lock-out."""
    config["LOGIN_RATE_LIMIT"] = "99 per minute"
    return config


def test_a_successful_sign_in_clears_the_count(
    roomy_config: dict[str, object], client: FlaskClient, session: Session
) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    assert _lockout_cycle(client, user.email) == [200] * 4 + [302] + [200] * 4 + [302]
    assert session.get(throttle.ThrottleCounter, f"login-email:{user.email}") is None


@pytest.fixture
def redis_url() -> str:
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return url


def test_lockout_in_redis_is_shared_by_two_apps(config: dict[str, object], redis_url: str) -> None:
    import redis

    prefix = f"test-{uuid.uuid4().hex}"
    config.update(
        RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_KEY_PREFIX=prefix, LOGIN_RATE_LIMIT="99/minute"
    )
    connection = redis.Redis.from_url(redis_url)
    with apps_on_one_connection(config, 2) as (apps, session):
        user = create_user(session)
        create_org(session, owner=user)
        session.commit()
        clients = [app.test_client() for app in apps]
        try:
            statuses = [_post_login(clients[i % 2], user.email, "wrong") for i in range(5)]
            assert statuses == [200] * 5
            assert connection.keys(f"{prefix}*login-email:{user.email}")
            assert [_post_login(c, user.email, PASSWORD) for c in clients] == [429, 429]
            assert session.get(throttle.ThrottleCounter, f"login-email:{user.email}") is None
            with apps[0].app_context():
                assert isinstance(throttle_storage(apps[0]), throttle.RedisStorage)
                throttle.login_lockout().succeeded(user.email)
            cycle = _lockout_cycle(clients[0], user.email)
            assert cycle == [200] * 4 + [302] + [200] * 4 + [302]
        finally:
            for key in connection.scan_iter(f"{prefix}*"):
                connection.delete(key)


# --- the same answer time for known and unknown addresses --------------------------------


def test_known_and_unknown_emails_take_the_same_time(
    config: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a hash of real cost (about 20-60 ms here), an unknown address used to answer in
    a fraction of the time of a known one. Medians of interleaved tries agree within 35%."""
    monkeypatch.setattr(services, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:60000")
    config.update(LOGIN_LOCKOUT_LIMIT="1000 per minute", LOGIN_RATE_LIMIT="1000 per minute")
    with apps_on_one_connection(config, 1) as ([app], session):
        user = create_user(session)
        create_org(session, owner=user)
        session.commit()
        client = app.test_client()

        def timed(email: str) -> float:
            started = time.perf_counter()
            assert _post_login(client, email, "wrong-password-x") == 200
            return time.perf_counter() - started

        timed(user.email), timed("warm-up@example.com")  # first requests load templates
        known, unknown = [], []
        for i in range(9):
            known.append(timed(user.email))
            unknown.append(timed(f"nobody{i}@example.com"))
    known_median, unknown_median = statistics.median(known), statistics.median(unknown)
    assert abs(known_median - unknown_median) <= 0.35 * known_median, (known, unknown)
