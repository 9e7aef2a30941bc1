"""Fixtures for billing tests that need real commits: a database of their own, localstripe,
and the app served live so that localstripe's signed webhooks reach it.

The ``app`` fixture of tests/conftest.py binds every session to one connection inside a
rolled-back transaction; a live server thread must not share it, hence ``live_app``.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from billing.payments import gateway
from marketplace import create_app, migrate
from marketplace.db import make_engine
from tests.conftest import POSTGRES_URL
from tests.live_server import LiveServer
from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe

WEBHOOK_PATH = "/billing/webhooks/stripe"


@pytest.fixture
def live_database_url(tmp_path: Path) -> Iterator[str]:
    """A migrated database of the test's own: a SQLite file in tmp_path, or on PostgreSQL
    ``<db>_live_<pid>``, created afresh and dropped afterwards (the pid keeps two test runs
    on one server, e.g. two people's, from dropping each other's database)."""
    if not POSTGRES_URL:
        url = f"sqlite:///{tmp_path / 'live.db'}"
        admin = None
    else:
        base = sa.make_url(make_engine(POSTGRES_URL).url)
        name = f"{base.database}_live_{os.getpid()}"
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


@pytest.fixture(scope="module")
def stripe_server() -> Iterator[LocalStripe]:
    with LocalStripe() as server:
        yield server


@dataclass
class LiveApp:
    app: Flask
    server: LiveServer
    stripe_server: LocalStripe
    webhook_secret: str

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.app.extensions["marketplace.db"].sessions

    @property
    def webhook_url(self) -> str:
        return self.server.url + WEBHOOK_PATH

    def stripe(self) -> stripe.StripeClient:
        """The client the billing code builds from the app's settings."""
        client = gateway.stripe_client(self.app)
        assert client is not None
        return client


@pytest.fixture
def live_app(
    live_database_url: str, stripe_server: LocalStripe, tmp_path: Path
) -> Iterator[LiveApp]:
    """The app on its own database, served live, with localstripe's webhooks sent to it."""
    secret = f"whsec_{secrets.token_hex(16)}"
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_API_BASE": stripe_server.api_base,
            "STRIPE_JS_URL": stripe_server.js_url,
            "STRIPE_WEBHOOK_SECRET": secret,
        }
    )
    app.extensions["catalog.search"].create()
    name = f"live-{uuid.uuid4().hex}"  # localstripe keeps one webhook per name, forever
    with LiveServer(app) as server:
        live = LiveApp(app, server, stripe_server, secret)
        stripe_server.register_webhook(live.webhook_url, secret, name=name)
        try:
            yield live
        finally:  # localstripe cannot delete a webhook: silence it
            stripe_server.register_webhook(live.webhook_url, secret, name=name, events=[])
    app.extensions["marketplace.db"].engine.dispose()


@pytest.fixture
def live_session(live_app: LiveApp) -> Iterator[Session]:
    """A session on the live database for setting up a test; it commits for real."""
    with live_app.sessions() as session:
        yield session
