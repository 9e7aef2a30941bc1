"""Registering an enterprise or a vendor through the page."""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from marketplace.models import Membership, Organization, Role, User, Verification
from tests.factories import make_uscc


def form(**overrides: str) -> dict[str, str]:
    data = {
        "name": "李建国",
        "email": "li@hengfeng.example",
        "password": "s3cure-pass",
        "confirm": "s3cure-pass",
        "kind": "sme",
        "org_name": "上海恒丰精密零件有限公司",
        "uscc": make_uscc(),
        "region_code": "310115",
        "legal_representative": "李建国",
        "address": "上海市浦东新区张江路 88 号",
        "contact_phone": "021-58881234",
        "contact_email": "office@hengfeng.example",
        "industry_code": "C33",
        "employees": "86",
        "annual_revenue": "26,000,000",
    }
    data.update(overrides)
    return data


def org_count(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Organization))


def test_sme_registers_and_sees_its_size_class(client: FlaskClient, session: Session) -> None:
    response = client.post("/register", data=form(), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "上海恒丰精密零件有限公司" in page
    assert 'data-size-class="small"' in page  # 86 employees, 26 million yuan
    assert "上海市 浦东新区" in page
    org = session.scalar(
        sa.select(Organization).where(Organization.name == "上海恒丰精密零件有限公司")
    )
    assert org.annual_revenue_fen == 26_000_000_00
    owner = session.scalar(sa.select(Membership).where(Membership.organization_id == org.id))
    assert owner.role is Role.OWNER


def test_wrong_check_digit_is_refused_in_chinese(client: FlaskClient, session: Session) -> None:
    good = make_uscc()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    before = org_count(session)
    page = client.post("/register", data=form(uscc=wrong)).get_data(as_text=True)
    assert "校验位" in page  # "the check digit is wrong"
    assert 'data-field="uscc"' in page
    assert org_count(session) == before
    assert session.scalar(sa.select(User).where(User.email == "li@hengfeng.example")) is None


def test_wrong_check_digit_is_refused_in_english(client: FlaskClient) -> None:
    client.post("/language", data={"lang": "en", "next": "/register"})
    good = make_uscc()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    page = client.post("/register", data=form(uscc=wrong)).get_data(as_text=True)
    assert "The check digit (last character) is wrong" in page


def test_short_uscc_and_bad_region_name_their_fields(client: FlaskClient) -> None:
    page = client.post("/register", data=form(uscc="91310115", region_code="310100")).get_data(
        as_text=True
    )
    assert "18" in page and 'data-field="uscc"' in page
    assert 'data-field="region_code"' in page


def test_sme_must_give_industry_and_size(client: FlaskClient, session: Session) -> None:
    before = org_count(session)
    page = client.post(
        "/register", data=form(industry_code="", employees="", annual_revenue="")
    ).get_data(as_text=True)
    for field in ("industry_code", "employees", "annual_revenue"):
        assert f'data-field="{field}"' in page
    assert org_count(session) == before


def test_bad_revenue_says_why(client: FlaskClient) -> None:
    page = client.post("/register", data=form(annual_revenue="12.345")).get_data(as_text=True)
    assert 'data-field="annual_revenue"' in page


def test_duplicate_uscc_is_refused_and_nothing_is_kept(
    client: FlaskClient, session: Session
) -> None:
    uscc = make_uscc()
    assert client.post("/register", data=form(uscc=uscc)).status_code == 302
    other = FlaskClient(client.application)
    users_before = session.scalar(sa.select(sa.func.count()).select_from(User))
    page = other.post("/register", data=form(uscc=uscc, email="second@example.com")).get_data(
        as_text=True
    )
    assert 'data-field="uscc"' in page
    assert session.scalar(sa.select(sa.func.count()).select_from(User)) == users_before


def test_vendor_registers_and_waits_for_verification(client: FlaskClient, session: Session) -> None:
    data = form(kind="vendor", org_name="杭州云织智能科技有限公司", region_code="330106")
    page = client.post("/register", data=data, follow_redirects=True).get_data(as_text=True)
    org = session.scalar(
        sa.select(Organization).where(Organization.name == "杭州云织智能科技有限公司")
    )
    assert org.verification is Verification.PENDING
    assert org.size_class is None  # size data is only asked of enterprises
    assert "待审核" in page
