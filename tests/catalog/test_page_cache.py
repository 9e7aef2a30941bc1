"""Public storefront pages are cached whole for visitors who are not signed in, under the
search index's version: a listing change shows at once, signed-in people always get a
fresh page, each language has its own copy, and a waiting message is never lost."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from catalog import services
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor
from tests.factories import PASSWORD, create_org, create_user, csrf_token, login


def test_a_visitor_gets_the_cached_page_until_the_listing_changes(
    client: FlaskClient, session: Session
) -> None:
    vendor = vendor_actor(session)
    operator = operator_actor(session)
    solution = publish_solution(session, vendor, operator)
    session.commit()
    path = f"/solutions/{solution.slug}"
    first = client.get(path)
    assert first.headers["X-Page-Cache"] == "miss"
    second = client.get(path)
    assert second.headers["X-Page-Cache"] == "hit" and second.data == first.data
    assert client.get("/search?q=质检").headers["X-Page-Cache"] == "miss"
    assert client.get("/search?q=质检").headers["X-Page-Cache"] == "hit"
    # Security headers are on the cached answer too.
    assert "Content-Security-Policy" in second.headers

    services.delist(session, solution, actor=operator, reason="资质过期")
    session.commit()
    assert client.get(path).status_code == 404  # at once, not after the cache expires


def test_a_language_never_gets_the_other_ones_copy_and_signed_in_people_get_fresh_pages(
    client: FlaskClient, session: Session
) -> None:
    solution = publish_solution(session)
    session.commit()
    path = f"/solutions/{solution.slug}"
    chinese = client.get(path)
    assert client.post("/language", data={"lang": "en"}).status_code == 302  # no token needed
    english = client.get(path)
    assert english.headers.get("X-Page-Cache") != "hit"
    assert english.data != chinese.data and b'lang="en"' in english.data
    stranger = client.application.test_client()  # a new visitor: the Chinese copy
    cached = stranger.get(path)
    assert cached.headers["X-Page-Cache"] == "hit" and cached.data == chinese.data

    user = create_user(session)
    create_org(session, owner=user)
    session.commit()
    login(client, user)
    signed_in = client.get(path)
    assert "X-Page-Cache" not in signed_in.headers
    assert user.name in signed_in.get_data(as_text=True)


def test_a_waiting_message_is_shown_not_skipped(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    session.commit()
    cached = client.get("/")
    assert client.get("/").headers["X-Page-Cache"] == "hit"  # the home page is in the cache
    assert "您已退出登录。" not in cached.get_data(as_text=True)
    login(client, user)
    client.post("/logout")  # flashes a message for the next page
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers.get("X-Page-Cache") != "hit"
    text = page.get_data(as_text=True)
    assert 'lang="zh' in text
    assert "您已退出登录。" in text and "You are signed out." not in text
    # Shown once: the next visit gets the page without it.
    assert "您已退出登录。" not in client.get("/").get_data(as_text=True)

    # Someone who reads English is signed out in English, the English copy cached or not.
    english_reader = create_user(session, locale="en")
    create_org(session, owner=english_reader)
    session.commit()
    login(client, english_reader)
    client.post("/logout")
    english = client.get("/")
    assert english.headers.get("X-Page-Cache") != "hit"
    text = english.get_data(as_text=True)
    assert 'lang="en"' in text
    assert "You are signed out." in text and "您已退出登录。" not in text


@pytest.fixture
def csrf_on(config: dict[str, object]) -> dict[str, object]:
    config["WTF_CSRF_ENABLED"] = True
    return config


def test_a_signed_in_language_switch_still_needs_the_token(
    csrf_on: dict[str, object], client: FlaskClient, session: Session
) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    session.commit()
    assert client.post("/language", data={"lang": "en"}).status_code == 302
    token = csrf_token(client, "/login")
    client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert client.post("/language", data={"lang": "en"}).status_code == 400
    token = csrf_token(client, "/dashboard")
    assert client.post("/language", data={"lang": "en", "csrf_token": token}).status_code == 302
