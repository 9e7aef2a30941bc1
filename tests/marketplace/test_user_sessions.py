"""Signing out signs out: sessions live on the server, so a session cookie copied before
logout, or a remember-me cookie, opens nothing afterwards; "sign out everywhere" and a
password change end every session; signed-in answers are never stored by a cache.

Everything goes through the real WSGI stack (Flask's test client) against the test
database (SQLite, or PostgreSQL with DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace import audit, user_sessions
from marketplace.db import utcnow
from marketplace.models import SessionEnd, User, UserSession
from marketplace.user_sessions import describe_agent
from tests.factories import PASSWORD, create_org, create_token, create_user, login

HOST = "marketplace.test"  # SERVER_NAME of the tests: the domain of every cookie
SESSION_COOKIE = "session"
REMEMBER_COOKIE = "remember_token"
NEW_PASSWORD = "a-much-better-secret-42"


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/dashboard")
    if response.status_code == 200:
        return True
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    return False


def cookie(client: FlaskClient, name: str) -> str:
    found = client.get_cookie(name, domain=HOST)
    assert found is not None, f"no {name} cookie"
    return found.value


def browser_with(app: Flask, **cookies: str) -> FlaskClient:
    """A fresh browser holding only the given cookies (as someone who copied them)."""
    other = app.test_client()
    for name, value in cookies.items():
        other.set_cookie(name, value, domain=HOST)
    return other


def remembered_login(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post(
        "/login", data={"email": user.email, "password": password, "remember": "y"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def person(session: Session) -> User:
    user = create_user(session)
    create_org(session, owner=user)
    return user


def test_a_session_cookie_copied_before_logout_is_refused_after_it(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = person(session)
    login(client, user)
    copied = cookie(client, SESSION_COOKIE)
    assert signed_in(browser_with(app, session=copied))  # the copy works while signed in

    client.post("/logout")

    assert not signed_in(client)
    assert not signed_in(browser_with(app, session=copied))
    ended = session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert ended.revoke_reason is SessionEnd.SIGNED_OUT and ended.revoked_at is not None


def test_a_remember_me_cookie_alone_no_longer_signs_in_after_logout(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = person(session)
    remembered_login(client, user)
    remember = cookie(client, REMEMBER_COOKIE)
    assert signed_in(browser_with(app, remember_token=remember))  # "keep me signed in" works
    # A month, not Flask-Login's default year; the server-side session ends with it.
    expires = client.get_cookie(REMEMBER_COOKIE, domain=HOST).expires
    assert timedelta(days=29) < expires - utcnow() <= timedelta(days=30)

    client.post("/logout")

    thief = browser_with(app, remember_token=remember)
    assert not signed_in(thief)
    # The refused cookie is deleted, so the browser stops presenting it.
    assert thief.get_cookie(REMEMBER_COOKIE, domain=HOST) is None


def test_a_remember_me_cookie_keeps_the_browser_signed_in_across_requests(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """The browser was closed (session cookie gone); the remember-me cookie signs it in,
    and it stays signed in on the following pages (Flask-Login's strong protection used to
    sign it out again on the second one)."""
    user = person(session)
    remembered_login(client, user)
    reopened = browser_with(app, remember_token=cookie(client, REMEMBER_COOKIE))
    assert [signed_in(reopened) for _ in range(3)] == [True, True, True]


def test_a_cookie_from_before_sessions_were_kept_signs_nobody_in(
    app: Flask, session: Session
) -> None:
    """Flask-Login used to keep the bare user id in the cookies, which nothing could revoke:
    such a cookie (signed with the right key) is now anonymous."""
    user = person(session)
    serializer = app.session_interface.get_signing_serializer(app)
    old_cookie = serializer.dumps({"_user_id": str(user.id), "_fresh": True})
    assert not signed_in(browser_with(app, session=old_cookie))


def test_sign_out_everywhere_ends_every_session_and_remember_me_cookie(
    app: Flask, session: Session
) -> None:
    user = person(session)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    remembered_login(phone, user)
    phone_remember = cookie(phone, REMEMBER_COOKIE)
    assert signed_in(laptop) and signed_in(phone)

    response = laptop.post("/account/sessions/end-all")

    assert response.status_code == 302
    assert not signed_in(laptop)
    assert not signed_in(phone)
    assert not signed_in(browser_with(app, remember_token=phone_remember))
    reasons = session.scalars(
        sa.select(UserSession.revoke_reason).where(UserSession.user_id == user.id)
    ).all()
    assert reasons == [SessionEnd.EVERYWHERE, SessionEnd.EVERYWHERE]
    event = session.scalar(
        sa.select(audit.AuditEvent).where(audit.AuditEvent.action == "user.signed_out_everywhere")
    )
    assert event.subject_id == str(user.id) and event.data == {"sessions_ended": 2}


def test_a_password_change_ends_every_other_session_and_keeps_this_browser_in(
    app: Flask, session: Session
) -> None:
    user = person(session)
    laptop, phone = app.test_client(), app.test_client()
    remembered_login(laptop, user)
    remembered_login(phone, user)
    phone_remember = cookie(phone, REMEMBER_COOKIE)
    laptop_before = cookie(laptop, SESSION_COOKIE)

    response = laptop.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert signed_in(laptop)  # carries on in a new session
    assert not signed_in(phone)
    assert not signed_in(browser_with(app, remember_token=phone_remember))
    assert not signed_in(browser_with(app, session=laptop_before))  # the old one is dead too
    # The laptop stays remembered: its new remember-me cookie alone signs in.
    assert signed_in(browser_with(app, remember_token=cookie(laptop, REMEMBER_COOKIE)))
    assert (
        app.test_client()
        .post("/login", data={"email": user.email, "password": PASSWORD})
        .status_code
        == 200
    )  # the old password is refused
    login(app.test_client(), user, NEW_PASSWORD)
    event = session.scalar(
        sa.select(audit.AuditEvent).where(audit.AuditEvent.action == "user.password_changed")
    )
    assert event.data == {"sessions_ended": 2}


def test_a_wrong_current_password_changes_nothing(app: Flask, session: Session) -> None:
    user = person(session)
    laptop, phone = app.test_client(), app.test_client()
    login(laptop, user)
    login(phone, user)
    laptop.post("/language", data={"lang": "en"})

    page = laptop.post(
        "/account/password",
        data={
            "current_password": "not-my-password",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )

    assert page.status_code == 200
    assert "The current password is wrong." in page.get_data(as_text=True)
    assert signed_in(laptop) and signed_in(phone)
    login(app.test_client(), user)  # the old password still works
    laptop.post("/language", data={"lang": "zh_CN"})
    page = laptop.post(
        "/account/password",
        data={
            "current_password": "not-my-password",
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert "当前密码不正确" in page.get_data(as_text=True)


def test_the_sessions_page_lists_devices_and_signs_one_out(app: Flask, session: Session) -> None:
    user = person(session)
    laptop = app.test_client()
    phone = app.test_client()
    phone.environ_base["HTTP_USER_AGENT"] = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    )
    login(laptop, user)
    login(phone, user)

    page = laptop.get("/account/sessions")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count("btn btn-sm btn-outline-danger") == 2 and "Safari · iOS" in text
    phone_session = session.scalar(
        sa.select(UserSession).where(
            UserSession.user_id == user.id, UserSession.user_agent.contains("iPhone")
        )
    )
    laptop.post(f"/account/sessions/{phone_session.id}/end")

    assert signed_in(laptop) and not signed_in(phone)
    session.refresh(phone_session)
    assert phone_session.revoke_reason is SessionEnd.ENDED_REMOTELY

    # "Sign out" on the row of this device signs this browser out, like the menu's.
    laptop_session = session.scalar(
        sa.select(UserSession).where(
            UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
        )
    )
    laptop.post(f"/account/sessions/{laptop_session.id}/end")
    assert not signed_in(laptop)
    session.refresh(laptop_session)
    assert laptop_session.revoke_reason is SessionEnd.SIGNED_OUT


def test_nobody_ends_another_persons_session(app: Flask, session: Session) -> None:
    user, stranger = person(session), person(session)
    victim, intruder = app.test_client(), app.test_client()
    login(victim, user)
    login(intruder, stranger)
    theirs = session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert intruder.post(f"/account/sessions/{theirs.id}/end").status_code == 404
    assert signed_in(victim)


def test_an_expired_session_signs_nobody_in(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = person(session)
    login(client, user)
    record = session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    record.created_at = utcnow() - timedelta(hours=13)
    record.expires_at = utcnow() - timedelta(hours=1)
    session.flush()
    assert not signed_in(client)


def test_signed_in_answers_are_never_stored_and_visitors_pages_still_are(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    visitor = app.test_client()
    visitor.get("/")
    cached = visitor.get("/")
    assert cached.headers["X-Page-Cache"] == "hit"
    assert "no-store" not in cached.headers.get("Cache-Control", "")

    user = person(session)
    org = user.memberships[0].organization
    login(client, user)
    for path in ("/dashboard", "/", "/account/sessions"):
        page = client.get(path)
        assert page.headers["Cache-Control"] == "no-store", path
        assert "Cookie" in page.headers["Vary"], path
    stylesheet = client.get("/static/css/site.css")
    assert "no-store" not in stylesheet.headers.get("Cache-Control", "")
    stylesheet.close()
    signed_out = client.post("/logout")
    assert signed_out.headers["Cache-Control"] == "no-store"

    token = create_token(session, user, org)
    answer = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Authorization" in answer.headers["Vary"]


def test_devices_are_named_from_their_user_agent() -> None:
    assert (
        describe_agent(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0"
        )
        == "Edge · Windows"
    )
    assert (
        describe_agent(
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Mobile Safari/537.36 MicroMessenger/8.0.49"
        )
        == "WeChat · Android"
    )
    assert describe_agent("python-requests/2.32") == "python"
    assert describe_agent("") == ""


def test_sessions_ended_long_ago_are_deleted_at_the_next_sign_in(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    user = person(session)
    now = utcnow()
    for days in (3, 40):
        record, _secret = user_sessions.start(
            session, user, remember=False, now=now - timedelta(days=days)
        )
        user_sessions.end(session, record, reason=SessionEnd.SIGNED_OUT, now=record.created_at)

    login(client, user)

    ages = sorted(
        round((now - created) / timedelta(days=1))
        for created in session.scalars(
            sa.select(UserSession.created_at).where(UserSession.user_id == user.id)
        )
    )
    assert ages == [0, 3]  # the new one and the recent one; the 40-day-old one is gone
