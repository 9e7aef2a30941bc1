"""The ``marketplace`` command: organizations, tokens, and the demo data."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from devtools.demo.platform import DEMO_PASSWORD, demo_logins, load_demo
from marketplace.models import Organization, OrgKind, Role, User
from tests.factories import make_uscc


def test_org_create_makes_a_government_organization(app: Flask, session: Session) -> None:
    uscc = make_uscc(serial=777)
    result = app.test_cli_runner().invoke(
        args=[
            "org",
            "create",
            "--kind",
            "government",
            "--name",
            "浦东新区科技和经济委员会",
            "--uscc",
            uscc,
            "--region",
            "310115",
            "--phone",
            "021-68541234",
            "--email",
            "kjw@pudong.example",
            "--owner-email",
            "officer@pudong.example",
            "--owner-password",
            "officer-pass-1",
            "--legal-representative",
            "陈立",
            "--address",
            "上海市浦东新区世纪大道 2001 号",
        ]
    )
    assert result.exit_code == 0, result.output
    org = session.scalar(sa.select(Organization).where(Organization.uscc == uscc))
    assert org.kind is OrgKind.GOVERNMENT
    owner = session.scalar(sa.select(User).where(User.email == "officer@pudong.example"))
    assert owner.membership_in(org.id).role is Role.OWNER


def test_org_create_reports_a_bad_uscc_without_writing(app: Flask, session: Session) -> None:
    before = session.scalar(sa.select(sa.func.count()).select_from(Organization))
    result = app.test_cli_runner().invoke(
        args=[
            "org",
            "create",
            "--kind",
            "platform",
            "--name",
            "X",
            "--uscc",
            "123",
            "--region",
            "310115",
            "--phone",
            "021-1234567",
            "--email",
            "a@b.example",
            "--owner-email",
            "o@b.example",
            "--owner-password",
            "long-enough-1",
        ]
    )
    assert result.exit_code != 0 and "18" in result.output
    assert session.scalar(sa.select(sa.func.count()).select_from(Organization)) == before


def test_token_create_prints_a_working_token(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    vendor = session.scalar(sa.select(Organization).where(Organization.kind == OrgKind.VENDOR))
    owner = next(m.user for m in vendor.memberships if m.role is Role.OWNER)
    result = app.test_cli_runner().invoke(
        args=["token", "create", "--email", owner.email, "--org", vendor.uscc, "--name", "MES"]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert me["organization"]["uscc"] == vendor.uscc


def load_demo_into(app: Flask, session: Session) -> None:
    with app.app_context():
        load_demo(app)


def test_demo_data_has_one_login_per_role_and_loads_twice(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    load_demo_into(app, session)  # idempotent: the demo may start many times
    kinds = {org.kind for org in session.scalars(sa.select(Organization))}
    assert kinds >= set(OrgKind)
    roles = {login.role.split("/")[1] for login in demo_logins()}
    assert roles == {r.value for r in Role}
    for login in demo_logins():
        response = client.post("/login", data={"email": login.email, "password": DEMO_PASSWORD})
        assert response.status_code == 302, login.email
        client.post("/logout")


def test_demo_holds_outcome_contracts_in_every_state(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    from billing.models import Contract, Invoice, InvoiceStatus
    from billing.outcomes.models import OutcomeReport, ReportStatus
    from marketplace.db import utcnow

    load_demo_into(app, session)
    reports = list(session.scalars(sa.select(OutcomeReport).order_by(OutcomeReport.id)))
    # Energy saving and quality inspection, each with a report in every state (the third
    # outcome contract, with two confirmed months, feeds the officer's 使用效能 tab).
    contracts = {
        c for c in {r.contract_id for r in reports} if sum(r.contract_id == c for r in reports) == 4
    }
    assert len(contracts) == 2
    kpis = {session.get(Contract, c).plan.kpi_name for c in contracts}
    assert kpis == {"月天然气用量", "月返工工时"}
    for contract_id in contracts:
        mine = [r for r in reports if r.contract_id == contract_id]
        assert [r.confirmed_how for r in mine] == ["buyer", "silence", "operator", None]
        assert mine[2].dispute_reason and mine[2].resolution_note
        assert mine[3].status is ReportStatus.SUBMITTED
        invoiced = [session.get(Invoice, r.invoice_id) for r in mine[:3]]
        assert invoiced[0].status is InvoiceStatus.PAID
        assert all(i is not None and i.reason == "outcome" for i in invoiced)
        contract = session.get(Contract, contract_id)
        assert contract.current_period_start <= utcnow() < contract.current_period_end
    buyer_contract = next(c for c in contracts if "恒丰" in session.get(Contract, c).buyer.name)
    client.post("/login", data={"email": "buyer@demo.local", "password": DEMO_PASSWORD})
    page = client.get(f"/billing/contracts/{buyer_contract}").get_data(as_text=True)
    assert "outcome-chart" in page and "data-confirm-result" in page


def test_demo_holds_voucher_programs_in_every_state(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    from billing.models import Invoice
    from vouchers.models import (
        Anomaly,
        Application,
        ApplicationStatus,
        Program,
        Redemption,
        Settlement,
        SettlementStatus,
        Voucher,
    )

    load_demo_into(app, session)
    programs = list(session.scalars(sa.select(Program)))
    assert {p.kind.value for p in programs} == {"cloud", "compute"}
    # Pudong's programs, and the city's (上海市) program stacked with them.
    assert {p.region_prefix for p in programs} == {"310115", "31"}
    assert all(p.region_prefix == "310115" for p in programs if "浦东" in p.name)
    states = {a.status for a in session.scalars(sa.select(Application))}
    assert states == set(ApplicationStatus)
    spent = [v for v in session.scalars(sa.select(Voucher)) if 0 < v.balance_fen < v.face_fen]
    assert spent, "a voucher partly spent"
    assert session.scalar(sa.select(Settlement).where(Settlement.status == SettlementStatus.PAID))
    assert session.scalar(sa.select(sa.func.count()).select_from(Anomaly)) >= 1
    paid_with_voucher = session.scalar(sa.select(Invoice).where(Invoice.voucher_fen > 0))
    assert paid_with_voucher is not None
    assert session.scalar(sa.select(sa.func.count()).select_from(Redemption)) >= 2
    # The demo buyer can try its voucher on an open invoice it can pay.
    client.post("/login", data={"email": "buyer@demo.local", "password": DEMO_PASSWORD})
    buyer_invoices = session.scalars(
        sa.select(Invoice).where(Invoice.buyer_id == users_org(session, "buyer@demo.local"))
    )
    pages = [
        client.get(f"/billing/invoices/{i.id}/pay").get_data(as_text=True)
        for i in buyer_invoices
        if i.status.value == "open"
    ]
    assert any("data-apply-vouchers" in html for html in pages)
    client.post("/logout")
    client.post("/login", data={"email": "officer@demo.local", "password": DEMO_PASSWORD})
    program = programs[0]
    export = client.get(f"/vouchers/programs/{program.id}/export/redemptions.xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"


def users_org(session: Session, email: str) -> int:
    user = session.scalar(sa.select(User).where(User.email == email))
    return user.memberships[0].organization_id
