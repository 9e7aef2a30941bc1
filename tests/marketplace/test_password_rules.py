"""Password rules (at least 10 characters, not a common password, not the e-mail address)
on every way a password is set: registration, invitation sign-up, password change, the CLI;
the refusal is in the page's language."""

from __future__ import annotations

import re
import string

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from devtools.demo.platform import DEMO_PASSWORD
from marketplace import passwords
from marketplace.errors import DomainError
from marketplace.models import User
from tests.factories import PASSWORD, create_org, create_user, login, make_uscc
from tests.marketplace.test_registration import form

TOO_SHORT = ("请至少输入 10 个字符", "Use at least 10 characters")
TOO_COMMON = ("这个密码太常见了", "This password is too common")
IS_EMAIL = ("请不要用您的电子邮箱地址作密码", "Do not use your e-mail address as the password")


def in_english(client: FlaskClient) -> None:
    client.post("/language", data={"lang": "en"})


def user_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User))


@pytest.mark.parametrize(
    ("password", "messages"),
    [
        ("Short-1", TOO_SHORT),
        ("woaini1314", TOO_COMMON),
        ("1234567890", TOO_COMMON),
        ("QWERTYUIOP", TOO_COMMON),  # compared in lower case
        ("li@hengfeng.example", IS_EMAIL),
    ],
)
@pytest.mark.parametrize("language", [0, 1], ids=["zh_CN", "en"])
def test_registration_refuses_weak_passwords(
    client: FlaskClient, session: Session, password: str, messages: tuple[str, str], language: int
) -> None:
    if language:
        in_english(client)
    before = user_count(session)
    response = client.post("/register", data=form(password=password, confirm=password))
    assert response.status_code == 200
    assert messages[language] in response.get_data(as_text=True)
    assert user_count(session) == before


def test_registration_accepts_a_good_password(client: FlaskClient, session: Session) -> None:
    response = client.post(
        "/register", data=form(password="hengfeng-gear-7", confirm="hengfeng-gear-7")
    )
    assert response.status_code == 302


def _invitation_path(client: FlaskClient, session: Session) -> str:
    owner = create_user(session)
    create_org(session, owner=owner)
    login(client, owner)
    page = client.post(
        "/organization/members", data={"email": "colleague@example.com", "role": "member"}
    ).get_data(as_text=True)
    link = re.search(r'id="invite-link" value="([^"]+)"', page).group(1)
    return link.split("marketplace.test", 1)[1]


@pytest.mark.parametrize(
    ("password", "messages"),
    [("zhaomin-1", TOO_SHORT), ("88888888", TOO_SHORT), ("qwertyuiop", TOO_COMMON)],
)
@pytest.mark.parametrize("language", [0, 1], ids=["zh_CN", "en"])
def test_invitation_sign_up_refuses_weak_passwords(
    app: Flask, client: FlaskClient, session: Session, password: str, messages, language: int
) -> None:
    path = _invitation_path(client, session)
    colleague = app.test_client()
    if language:
        in_english(colleague)
    response = colleague.post(path, data={"name": "赵敏", "password": password})
    assert response.status_code == 200
    assert messages[language] in response.get_data(as_text=True)
    assert session.scalar(sa.select(User).where(User.email == "colleague@example.com")) is None


def test_invitation_sign_up_refuses_the_invited_address(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    """The form has no e-mail field: the service checks against the invitation's address."""
    path = _invitation_path(client, session)
    colleague = app.test_client()
    response = colleague.post(path, data={"name": "赵敏", "password": "colleague@example.com"})
    assert IS_EMAIL[0] in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("password", "messages"), [("new-pass", TOO_SHORT), ("password123", TOO_COMMON)]
)
@pytest.mark.parametrize("language", [0, 1], ids=["zh_CN", "en"])
def test_password_change_refuses_weak_passwords(
    client: FlaskClient, session: Session, password: str, messages, language: int
) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    login(client, user)
    if language:
        in_english(client)
    before = user.password_hash
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": password, "confirm": password},
    )
    assert response.status_code == 200
    assert messages[language] in response.get_data(as_text=True)
    session.refresh(user)
    assert user.password_hash == before


def test_password_change_refuses_the_own_address(client: FlaskClient, session: Session) -> None:
    user = create_user(session)
    create_org(session, owner=user)
    login(client, user)
    response = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": user.email, "confirm": user.email},
    )
    assert IS_EMAIL[0] in response.get_data(as_text=True)


def test_cli_refuses_a_common_owner_password(app: Flask) -> None:
    result = app.test_cli_runner().invoke(
        args=[
            "org",
            "create",
            "--kind",
            "government",
            "--name",
            "浦东新区科技和经济委员会",
            "--uscc",
            make_uscc(),
            "--region",
            "310115",
            "--legal-representative",
            "王芳",
            "--address",
            "上海市浦东新区世纪大道 2001 号",
            "--phone",
            "021-68541234",
            "--email",
            "kjw@pudong.example",
            "--owner-email",
            "officer@pudong.example",
            "--owner-password",
            "1234567890",
        ]
    )
    assert result.exit_code != 0
    assert "(password)" in result.output and "太常见" in result.output


def test_the_rules() -> None:
    assert passwords.password_problem("abc", email=None) is not None
    assert passwords.password_problem("x" * 201) is not None
    assert passwords.password_problem("  88888888  ") is not None  # length counts spaces
    assert passwords.password_problem("wang.fang@example.com", email="Wang.Fang@example.com")
    assert passwords.password_problem("wang.fang.2026", email="wang.fang.2026@example.com")
    assert passwords.password_problem("hengfeng-gear-7", email="li@example.com") is None
    with pytest.raises(DomainError) as refused:
        passwords.check_password("iloveyou1314")
    assert refused.value.field == "password"


def test_the_list_holds_common_and_chinese_patterns() -> None:
    common = passwords.common_passwords()
    assert len(common) > 4000
    for word in ("12345678", "88888888", "woaini1314", "qwertyuiop", "password1", "5201314"):
        assert word in common, word


def test_passwords_in_use_pass_the_rules() -> None:
    """The demo logins `marketplace demo` prints, and the test factories' password."""
    assert passwords.password_problem(DEMO_PASSWORD) is None
    assert passwords.password_problem(PASSWORD) is None


@given(st.text(alphabet=string.ascii_letters + string.digits + "-_.!", max_size=30))
def test_length_rule_holds_for_any_password(password: str) -> None:
    problem = passwords.password_problem(password, email="someone@example.com")
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        assert problem is not None
    elif password.lower() not in passwords.common_passwords():
        assert problem is None
