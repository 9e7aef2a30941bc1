"""The "Done means" of issues 15 and 16, item by item, in the loaded demo and on the pages
the demo logins open (what the lead shows when closing the issues)."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.bank_statement_models import BankStatementLine, LineStatus
from billing.fapiao_models import Fapiao, FapiaoStatus
from catalog.inquiry_models import Inquiry, Side
from catalog.models import Solution
from devtools.demo import stacking as stacking_demo
from devtools.demo.platform import DEMO_PASSWORD
from tests.marketplace.test_cli import load_demo_into
from vouchers import evidence, settlement_conditions, stacking
from vouchers.models import (
    Application,
    ApplicationStatus,
    Program,
    Redemption,
    RedemptionStatus,
    Settlement,
)
from vouchers.notice_models import Notice, NoticeStatus


def sign_in(client: FlaskClient, email: str) -> None:
    client.post("/logout")
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 302, email


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_issue_15_the_demo_shows_to_do_lists_overdue_fapiao_and_a_trusted_listing(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)

    # Each role's to-do list is filled.
    for email in ("buyer", "vendor", "officer", "operator"):
        sign_in(client, f"{email}@demo.local")
        items = re.findall(r'data-todo-item="([^"]+)"', page(client, "/dashboard"))
        assert items, f"{email}'s to-do list is empty"
        if email == "buyer":
            assert "invoices_overdue" in items
        if email == "vendor":
            assert "fapiao_requests" in items

    # An overdue invoice, flagged 逾期 N 天 on the buyer's invoice list (read in Chinese).
    sign_in(client, "buyer@demo.local")
    invoices = page(client, "/billing/invoices")
    assert re.search(r'data-overdue-days="\d+">逾期 \d+ 天', invoices), "no overdue invoice"

    # A fapiao requested (in the vendor's list) and one issued (downloadable by the buyer).
    by_status = {f.status: f for f in session.scalars(sa.select(Fapiao))}
    assert {FapiaoStatus.REQUESTED, FapiaoStatus.ISSUED} <= set(by_status)
    issued, requested = by_status[FapiaoStatus.ISSUED], by_status[FapiaoStatus.REQUESTED]
    assert issued.number in page(client, f"/billing/invoices/{issued.invoice_id}")
    with client.get(f"/billing/fapiao/{issued.id}/file") as download:
        assert download.status_code == 200 and download.data
    sign_in(client, "vendor@demo.local")
    assert f'data-fapiao-row="{requested.id}"' in page(client, "/billing/fapiao")

    # A listing with screenshots and FAQ on its public page.
    solution = session.scalars(sa.select(Solution).where(Solution.is_public)).first()
    client.post("/logout")
    listing = page(client, f"/solutions/{solution.slug}")
    for shot in solution.published.screenshots:
        assert shot.stored_name in listing
    assert solution.published.screenshots and solution.published.faq
    assert solution.published.faq[0]["question"] in listing

    # A buyer's question with the vendor's reply, seen by both.
    answered = next(
        i
        for i in session.scalars(sa.select(Inquiry))
        if {m.side for m in i.messages} == {Side.BUYER, Side.VENDOR}
    )
    reply = next(m for m in answered.messages if m.side is Side.VENDOR)
    sign_in(client, "vendor@demo.local")
    assert reply.body[:20] in page(client, f"/vendor/inquiries/{answered.id}")
    sign_in(client, "buyer@demo.local")
    assert reply.body[:20] in page(client, f"/account/inquiries/{answered.id}")


def test_issue_16_the_demo_pudong_programs_show_every_new_step(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    sign_in(client, "officer@demo.local")

    # Evidence: a Pudong program requires documents; an application carries them and the
    # officer reviews them with a checklist.
    with_documents = [
        a
        for a in session.scalars(sa.select(Application))
        if evidence.documents_of(session, a.id)
        and "浦东" in a.program.name
        and a.status is ApplicationStatus.SUBMITTED
    ]
    assert with_documents, "no Pudong application with documents"
    shown = with_documents[0]
    assert evidence.specs_of(session, shown.program_id)
    console = page(client, f"/vouchers/programs/{shown.program_id}")
    assert "data-checklist" in console

    # A notice period (公示) in progress, listed on the public page.
    running = session.scalars(sa.select(Notice).where(Notice.status == NoticeStatus.IN_NOTICE))
    running = list(running)
    assert running, "no notice in progress"
    client.post("/logout")
    assert running[0].applicant.name in page(client, "/vouchers/notices")

    # A district program stacked with a city program on one invoice, within the combined cap.
    city = session.scalar(sa.select(Program).where(Program.name == stacking_demo.CITY_PROGRAM))
    (redemption,) = session.scalars(
        sa.select(Redemption).where(
            Redemption.program_id == city.id, Redemption.status == RedemptionStatus.ACTIVE
        )
    )
    stacked = stacking.stacked_programs(session, [redemption.invoice_id])[redemption.invoice_id]
    district = next(p for p in stacked if p.id != city.id)
    assert "浦东" in district.name
    sign_in(client, "officer@demo.local")
    redemptions = page(client, f"/vouchers/programs/{district.id}/redemptions")
    assert "data-stacked-with" in redemptions and city.name in redemptions

    # A co-funded program whose settlement shows each funder's share, and a redemption held
    # back with its reason.
    cofunded = session.scalar(
        sa.select(Program).where(Program.name == stacking_demo.COFUNDED_PROGRAM)
    )
    assert "浦东" in cofunded.name
    batch = session.scalar(sa.select(Settlement).where(Settlement.program_id == cofunded.id))
    assert batch is not None
    assert settlement_conditions.waiting(session, cofunded, now=batch.created_at)
    settlements = page(client, f"/vouchers/programs/{cofunded.id}/settlements")
    assert settlements.count("data-funder-share") == 2
    assert "data-held-back-redemption" in settlements

    # A bank statement matched by the operator's import.
    matched = session.scalars(
        sa.select(BankStatementLine).where(BankStatementLine.status == LineStatus.MATCHED)
    ).first()
    assert matched is not None and matched.invoice_id is not None
    sign_in(client, "operator@demo.local")
    statement = page(client, f"/billing/console/bank-statements/{matched.statement_id}")
    assert 'data-matched="1"' in statement
