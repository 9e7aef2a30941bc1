"""The navigation bar is rendered once per person, organization, role, language and page
and kept in memory (marketplace/templating.py); what changes between requests — the form
token, the page to come back to, the notifications bell — is filled in every time. So a
person never sees another's name, organization or token, and a change shows at once."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.models import Notification
from marketplace.models import Role
from tests.factories import PASSWORD, add_member, create_org, create_user

NAV = re.compile(r'<nav class="navbar.*?</nav>', re.S)


@pytest.fixture
def config(config: dict[str, object]) -> dict[str, object]:
    config["WTF_CSRF_ENABLED"] = True
    return config


def _nav(client: FlaskClient, path: str = "/dashboard") -> str:
    page = client.get(path)
    assert page.status_code == 200, path
    found = NAV.search(page.get_data(as_text=True))
    assert found
    return found.group(0)


def _sign_in(client: FlaskClient, user: object) -> None:
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert token
    response = client.post(
        "/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": token[1]},  # type: ignore[attr-defined]
    )
    assert response.status_code == 302


def test_two_members_of_one_organization_each_see_their_own_name_and_token(
    app: Flask, session: Session
) -> None:
    owner = create_user(session, name="陈一")
    org = create_org(session, owner=owner, name="同一家企业有限公司")
    colleague = add_member(session, org, Role.ADMIN, name="陈二")
    session.commit()
    first, second = app.test_client(), app.test_client()
    _sign_in(first, owner)
    _sign_in(second, colleague)

    one, two = _nav(first), _nav(second)
    assert "陈一" in one and "陈二" not in one
    assert "陈二" in two and "陈一" not in two
    tokens = [re.findall(r'name="csrf_token" value="([^"]+)"', nav) for nav in (one, two)]
    assert tokens[0] and tokens[1] and set(tokens[0]).isdisjoint(tokens[1])
    assert "<!--hole:" not in one + two

    # The token in the bar is the person's own: signing out with it works.
    assert second.post("/logout", data={"csrf_token": tokens[1][0]}).status_code == 302
    assert "陈二" not in _nav(second, "/")


def test_the_bell_the_name_and_the_page_to_return_to_are_current(
    app: Flask, session: Session
) -> None:
    owner = create_user(session, name="罗安")
    org = create_org(session, owner=owner)
    session.commit()
    client = app.test_client()
    _sign_in(client, owner)
    assert 'data-unread="0"' in _nav(client)

    session.add(
        Notification(
            organization_id=org.id, kind="invoice_issued", params={}, dedupe_key="nav-test"
        )
    )
    owner.name = "罗安然"
    session.commit()
    nav = _nav(client, "/search?q=质检")
    assert 'data-unread="1"' in nav and "罗安然" in nav
    assert 'name="next" value="/search?q=质检"' in nav
    assert 'name="next" value="/dashboard"' in _nav(client, "/dashboard")
    hostile = _nav(client, '/search?q=a"><b>x')
    assert '"><b>x' not in hostile  # the page to return to is escaped, whatever it holds
    assert re.search(r'name="next" value="/search\?q=a(&#34;|%22)(&gt;|%3E)(&lt;|%3C)b', hostile)
