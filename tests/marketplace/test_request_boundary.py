"""One commit per request at its boundary; any error rolls everything back."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from flask import Flask, abort
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import services
from marketplace.db import db
from marketplace.models import User


def add_writer_routes(app: Flask) -> None:
    def write(email: str) -> None:
        services.create_user(db.session, email=email, name="x", password="long-enough-pw")

    @app.post("/_test/ok/<email>")
    def ok(email: str) -> str:
        write(email)
        return "ok"

    @app.post("/_test/crash/<email>")
    def crash(email: str) -> str:
        write(email)
        raise RuntimeError("boom")

    @app.post("/_test/refuse/<email>")
    def refuse(email: str) -> str:
        write(email)
        abort(409)


@pytest.fixture
def writer_app(app: Flask) -> Flask:
    app.config["PROPAGATE_EXCEPTIONS"] = False
    add_writer_routes(app)
    return app


def exists(session: Session, email: str) -> bool:
    return session.scalar(sa.select(User.id).where(User.email == email)) is not None


def test_success_commits(writer_app: Flask, session: Session) -> None:
    client = writer_app.test_client()
    assert client.post("/_test/ok/a@example.com").status_code == 200
    assert exists(session, "a@example.com")


@pytest.mark.parametrize(("route", "status"), [("crash", 500), ("refuse", 409)])
def test_error_rolls_back(writer_app: Flask, session: Session, route: str, status: int) -> None:
    client = writer_app.test_client()
    assert client.post(f"/_test/{route}/b@example.com").status_code == status
    assert not exists(session, "b@example.com")


def test_500_page_in_chinese(writer_app: Flask) -> None:
    page = writer_app.test_client().post("/_test/crash/c@example.com")
    assert page.status_code == 500
    assert "您填写的内容未保存" in page.get_data(as_text=True)


def test_rate_limits_can_live_in_redis(config: dict[str, object]) -> None:
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    from marketplace import create_app

    config.update(
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:6379/0",
        RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
        LOGIN_RATE_LIMIT="2 per minute",
    )
    statuses = []
    for _ in range(2):  # two apps (two gunicorn workers) share the count through Redis
        app = create_app(config)
        client: FlaskClient = app.test_client()
        statuses += [
            client.post("/login", data={"email": "r@example.com", "password": "x" * 9}).status_code
        ]
        app.extensions["marketplace.db"].engine.dispose()
    app = create_app(config)
    statuses.append(
        app.test_client()
        .post("/login", data={"email": "r@example.com", "password": "x" * 9})
        .status_code
    )
    app.extensions["marketplace.db"].engine.dispose()
    assert statuses == [200, 200, 429]
