"""Helpers for the fault tests: databases of their own (SQLite files, or databases created
on the DATABASE_URL server and dropped afterwards) and the app's CLI run as a subprocess.

These tests kill processes and break connections, so they never share the rolled-back
outer transaction of tests/conftest.py: every database here is committed to for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from marketplace import migrate
from marketplace.db import make_engine
from tests.billing.conftest import (  # noqa: F401 - fixtures, for test_stripe_unreachable
    live_app,
    live_database_url,
    live_session,
    stripe_server,
)
from tests.conftest import POSTGRES_URL

ROOT = Path(__file__).resolve().parents[2]


def postgres_admin() -> sa.Engine:
    """An autocommit engine on the DATABASE_URL server, for CREATE and DROP DATABASE."""
    assert POSTGRES_URL
    return make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")


def postgres_url(name: str) -> str:
    assert POSTGRES_URL
    base = sa.make_url(make_engine(POSTGRES_URL).url)
    return base.set(database=name).render_as_string(hide_password=False)


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def postgres_databases(*names: str, template: str | None = None) -> Iterator[list[str]]:
    """Create the named databases afresh (empty, or copies of ``template``), yield their
    URLs, drop them at the end."""
    admin = postgres_admin()
    try:
        for name in names:
            drop_database(admin, name)
            with admin.connect() as connection:
                copy = f' TEMPLATE "{template}"' if template else ""
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
        yield [postgres_url(name) for name in names]
    finally:
        for name in names:
            drop_database(admin, name)
        admin.dispose()


def migrated(url: str) -> str:
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def cli_env(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``flask --app wsgi`` subprocess on ``url``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "STRIPE_"))}
    env.pop("DATABASE_URL", None)
    env.update(
        MARKETPLACE_DATABASE_URL=url,
        MARKETPLACE_SECRET_KEY="faults",
        MARKETPLACE_SEARCH_INDEX_DIR=str(workdir / "index"),
        MARKETPLACE_RATELIMIT_STORAGE_URI="memory://",
        PYTHONWARNINGS="ignore",
        **extra,
    )
    return env


def start_cli(url: str, workdir: Path, *args: str) -> subprocess.Popen[bytes]:
    """``marketplace ARGS`` (as ``python -m flask --app wsgi``) in its own process."""
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=cli_env(url, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def run_cli(url: str, workdir: Path, *args: str, timeout: float = 120) -> str:
    process = start_cli(url, workdir, *args)
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err.decode()[-3000:]
    return out.decode()
