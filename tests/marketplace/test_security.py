"""CSRF, headers, cookies, login rate limit and lock-out, who may open the console."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.models import Role
from tests.factories import PASSWORD, add_member, create_org, create_user, csrf_token, login


@pytest.fixture
def csrf_config(config: dict[str, object]) -> dict[str, object]:
    config["WTF_CSRF_ENABLED"] = True
    return config


def test_post_without_csrf_token_is_refused(
    csrf_config, client: FlaskClient, session: Session
) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    token = csrf_token(client, "/login")
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    # Signed in, a state change without the token is still refused.
    assert client.post("/tokens", data={"name": "x"}).status_code == 400
    assert client.post("/logout").status_code == 400


def test_security_headers(client: FlaskClient) -> None:
    headers = client.get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_no_inline_script_in_pages(client: FlaskClient) -> None:
    page = client.get("/register").get_data(as_text=True)
    assert "<script>" not in page and "onclick=" not in page
    assert "cdn." not in page  # Bootstrap is served locally
    assert "/bootstrap/static/" in page


def test_session_cookie_flags(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # testing: plain http


def test_session_cookie_is_secure_outside_debug(database_url: str) -> None:
    from marketplace import create_app

    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "x"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    app.extensions["marketplace.db"].engine.dispose()


def test_login_is_rate_limited_per_address(config: dict[str, object]) -> None:
    config["LOGIN_RATE_LIMIT"] = "3 per minute"
    config["LOGIN_LOCKOUT_LIMIT"] = "100 per minute"
    from marketplace import create_app

    app = create_app(config)
    client = app.test_client()
    statuses = [
        client.post("/login", data={"email": f"n{i}@example.com", "password": "x" * 9}).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    app.extensions["marketplace.db"].engine.dispose()


def test_account_locks_after_failed_logins(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    for _ in range(5):
        assert (
            client.post("/login", data={"email": user.email, "password": "wrong-pw"}).status_code
            == 200
        )
    # Locked: even the right password is refused for the window.
    locked = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert locked.status_code == 429
    # Another account from the same address is not locked.
    other = create_user(session)
    create_org(session, owner=other)
    assert (
        client.post("/login", data={"email": other.email, "password": PASSWORD}).status_code == 302
    )


@pytest.mark.parametrize("role", [Role.OWNER, Role.MEMBER])
def test_sme_cannot_reach_the_operator_console(
    client: FlaskClient, session: Session, role: Role
) -> None:
    org = create_org(session)
    login(client, add_member(session, org, role))
    for path in (
        "/console/vendors",
        "/console/organizations",
        f"/console/organizations/{org.id}",
        "/console/audit",
    ):
        assert client.get(path).status_code == 403, path


def test_anonymous_is_sent_to_login(client: FlaskClient) -> None:
    response = client.get("/console/vendors")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_error_pages_in_both_languages(client: FlaskClient) -> None:
    page = client.get("/nope")
    assert page.status_code == 404 and "页面不存在" in page.get_data(as_text=True)
    client.post("/language", data={"lang": "en"})
    page = client.get("/nope")
    assert page.status_code == 404 and "Page not found" in page.get_data(as_text=True)


def test_healthz_checks_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_reports_an_unreachable_database(database_url: str) -> None:
    from marketplace import create_app

    app = create_app(
        {"TESTING": True, "DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"
