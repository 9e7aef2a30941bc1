"""Small factories with sensible defaults; every argument can be overridden."""

from __future__ import annotations

import itertools
import re
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from stdnum.cn import uscc as stdnum_uscc

from marketplace import services
from marketplace.jsonapi import Actor
from marketplace.models import Membership, Organization, OrgKind, Role, User

PASSWORD = "correct-horse-battery"
_serial = itertools.count(1000)


def make_uscc(region: str = "310115", serial: int | None = None) -> str:
    body = f"91{region}{(serial or next(_serial)):08d}X"[:17]
    return body + stdnum_uscc.calc_check_digit(body + "0")


def create_user(session: Session, **overrides: Any) -> User:
    n = next(_serial)
    fields = {"email": f"user{n}@example.com", "name": f"测试用户{n}", "password": PASSWORD}
    fields.update(overrides)
    return services.create_user(session, **fields)


def create_org(
    session: Session, kind: OrgKind = OrgKind.SME, *, owner: User | None = None, **overrides: Any
) -> Organization:
    owner = owner or create_user(session)
    n = next(_serial)
    fields: dict[str, Any] = {
        "kind": kind,
        "name": f"测试企业{n}有限公司",
        "uscc": make_uscc(serial=n),
        "region_code": "310115",
        "legal_representative": "张三",
        "address": f"上海市浦东新区测试路{n}号",
        "contact_phone": f"021-6{n:07d}",
        "contact_email": f"contact{n}@example.com",
    }
    if kind is OrgKind.SME:
        fields.update(industry_code="C33", employees=50, annual_revenue_fen=10_000_000_00)
    fields.update(overrides)
    return services.register_organization(
        session, services.OrganizationDetails(**fields), owner=owner
    )


def add_member(session: Session, org: Organization, role: Role = Role.MEMBER, **user: Any) -> User:
    person = create_user(session, **user)
    session.add(Membership(user_id=person.id, organization_id=org.id, role=role))
    session.flush()
    session.refresh(person)
    return person


def actor_for(session: Session, user: User, org: Organization) -> Actor:
    session.refresh(user)
    membership = user.membership_in(org.id)
    assert membership is not None
    return Actor(user, org, membership.role)


def create_token(session: Session, user: User, org: Organization) -> str:
    _token, secret = services.create_token(session, user=user, organization=org, name="test")
    session.flush()
    return secret


def login(client: FlaskClient, user: User, password: str = PASSWORD) -> None:
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def csrf_token(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)
