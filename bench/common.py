"""Shared set-up for the benchmarks: a database of their own, seeded through the services,
and the app served by gunicorn on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from marketplace import create_app, migrate
from marketplace.db import make_engine, normalize_url

ROOT = Path(__file__).resolve().parent.parent


def bench_database(kind: str, workdir: Path) -> str:
    """A fresh, migrated database: a SQLite file, or PostgreSQL database <db>_bench."""
    if kind == "sqlite":
        path = workdir / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        base = sa.make_url(
            normalize_url(os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1/test")
        )
        name = f"{base.database}_bench"
        admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        url = base.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def bench_app(url: str, workdir: Path):
    app = create_app(
        {"DATABASE_URL": url, "SECRET_KEY": "bench", "SEARCH_INDEX_DIR": str(workdir / "index")}
    )
    app.extensions["catalog.search"].create()
    return app


@contextmanager
def gunicorn(
    url: str,
    workdir: Path,
    *,
    port: int,
    workers: int = 4,
    threads: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[str]:
    env = dict(
        os.environ,
        MARKETPLACE_DATABASE_URL=url,
        MARKETPLACE_SECRET_KEY="bench",
        MARKETPLACE_SEARCH_INDEX_DIR=str(workdir / "index"),
        **(extra_env or {}),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # importing the app is slow on a busy machine
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=5)
            break
        except OSError as exc:
            if process.poll() is not None or time.monotonic() > deadline:
                # Stop it first: reading the stderr of a live process would wait forever.
                process.kill()
                _, stderr = process.communicate(timeout=20)
                raise RuntimeError("gunicorn did not start: " + stderr.decode()[-2000:]) from exc
            time.sleep(0.2)
    try:
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(20)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]
