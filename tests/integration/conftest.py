"""``committed_app``: the app on a database of its own whose commits are real (SQLite file,
or a fresh PostgreSQL database when DATABASE_URL is set), for tests about what other
connections see while a transaction is open. The ``app`` fixture's rolled-back outer
transaction would hide exactly that."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from marketplace import create_app, migrate
from marketplace.db import make_engine
from tests.conftest import POSTGRES_URL


@pytest.fixture
def committed_app(tmp_path: Path) -> Iterator[Flask]:
    admin = None
    if POSTGRES_URL:
        base = sa.make_url(make_engine(POSTGRES_URL).url)
        name = f"{base.database}_committed_{os.getpid()}"
        admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = base.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'committed.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "RATELIMIT_ENABLED": False,
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
            "OUTBOUND_URLS_ALLOW_PRIVATE": True,
            "OUTBOUND_URLS_ALLOW_HTTP": True,
        }
    )
    app.extensions["catalog.search"].create()
    yield app
    app.extensions["marketplace.db"].engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
