"""Fixtures: a migrated database per test run (SQLite, or PostgreSQL when DATABASE_URL is
set), a fresh app per test whose every session joins one outer transaction that is rolled
back at the end, and a client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import create_app, migrate, services
from marketplace.db import make_engine, normalize_url
from tests.api.shapes import check_answers
from tests.mail import SmtpSink

POSTGRES_URL = os.environ.get("DATABASE_URL")

# Hashing test passwords with scrypt would take a third of a second per user.
services.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


def reset_database(url: str) -> None:
    """Drop everything in the database so the migrations start from empty."""
    engine = make_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        else:
            metadata = sa.MetaData()
            metadata.reflect(connection)
            metadata.drop_all(connection)
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if POSTGRES_URL:
        url = normalize_url(POSTGRES_URL)
        reset_database(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def config(database_url: str, tmp_path: Path) -> dict[str, object]:
    """Settings of the app under test; a test may change them before asking for ``app``."""
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": "marketplace.test",
        "RATELIMIT_STORAGE_URI": "memory://",
        "SEARCH_INDEX_DIR": str(tmp_path / "index"),
        "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        # Checkpoint files belong to one database; the test's is rolled back.
        "AUDIT_CHECKPOINT_DIR": str(tmp_path / "audit-checkpoints"),
    }


@pytest.fixture
def smtp(config: dict[str, object]) -> Iterator[SmtpSink]:
    """A real SMTP server; ask for it before ``app`` so the app is configured to use it."""
    with SmtpSink() as sink:
        config["MAIL_SERVER"], config["MAIL_PORT"] = sink.host, sink.port
        yield sink


@pytest.fixture
def app(config: dict[str, object]) -> Iterator[Flask]:
    app = create_app(config)
    check_answers(app)  # every API answer against its declared schema (tests/api/shapes.py)
    state = app.extensions["marketplace.db"]
    connection = state.engine.connect()
    outer = connection.begin()
    state.sessions.configure(bind=connection, join_transaction_mode="create_savepoint")
    app.extensions["catalog.search"].create()  # an empty index, as after `catalog reindex`
    yield app
    outer.rollback()
    connection.close()
    state.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session in the test's transaction, for factories and assertions."""
    session = app.extensions["marketplace.db"].sessions()
    yield session
    session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
