"""The voucher pages through HTTP: officers write, publish and run programs (applications,
vouchers, settlements, anomalies, exports, effectiveness, audit); enterprises learn whether
they qualify, apply and see their wallet; vendors see what programs owe them."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import openpyxl
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy.orm import Session

from marketplace import dates
from marketplace.db import utcnow
from marketplace.jsonapi import Actor
from tests.factories import login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    lines_of,
    officer_actor,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import applications, redemptions
from vouchers.models import (
    Anomaly,
    AnomalyStatus,
    Application,
    ApplicationStatus,
    Program,
    ProgramStatus,
    Settlement,
    SettlementStatus,
    Voucher,
    VoucherStatus,
)
from vouchers.views import offers


def page(response: Any) -> str:
    return response.get_data(as_text=True)


def sign_in(client: FlaskClient, actor: Actor) -> None:
    login(client, actor.user)


def open_program(session: Session, officer: Actor | None = None, **overrides: Any) -> Program:
    """A published program whose application window includes the real clock's now."""
    now = utcnow()
    fields: dict[str, Any] = {
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=60),
    }
    fields.update(overrides)
    return create_program(session, officer, **fields)


def paid_program(session: Session) -> tuple[Program, Actor, Actor, Actor, Voucher]:
    """A program whose voucher paid two invoices of one vendor, today."""
    program = open_program(session, region_prefix="31")
    officer = officer_of(session, program)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    voucher = grant(session, program, buyer, 100_000, officer=officer, now=utcnow())
    contract = contract_between(session, buyer, vendor)
    for amount in (20_000, 40_000):
        invoice = invoice_for(session, contract, amount)
        redemptions.redeem(
            session,
            invoice_id=invoice.id,
            buyer_id=invoice.buyer_id,
            lines=lines_of(invoice),
            codes=[voucher.code],
            now=utcnow(),
            contract_id=invoice.contract_id,
        )
    return program, officer, buyer, vendor, voucher


def field_error(html: str, name: str) -> bool:
    return f'data-field="{name}"' in html


PROGRAM_FORM = {
    "name": "浦东新区2027年上云券",
    "kind": "cloud",
    "region_prefix": "310115",
    "budget": "500,000",
    "ratio": "50",
    "annual_cap": "30000",
    "invoice_cap": "",
    "size_classes": ["small", "micro"],
    "industries": ["C"],
    "opens_on": "2026-12-01",
    "closes_on": "2027-03-31",
    "validity_days": "180",
}


# --- programs --------------------------------------------------------------------------------


def test_officer_creates_and_publishes_a_program_through_the_form(
    client: FlaskClient, session: Session
) -> None:
    officer = officer_actor(session)
    vendor = vendor_actor(session)
    sign_in(client, officer)
    form = page(client.get("/vouchers/programs/new"))
    assert vendor.organization.name in form  # verified vendors to pick for the pool
    assert "上云券" in form and "算力券" in form  # the kinds in the page's language
    assert (
        ">PDF 或图片</option>" in form and "图片（PNG 或 JPEG）" in form
    )  # files a document takes

    response = client.post(
        "/vouchers/programs/new",
        data={**PROGRAM_FORM, "vendor_whitelist": [str(vendor.organization.id)]},
    )
    assert response.status_code == 302, page(response)
    program = session.scalars(
        sa.select(Program).where(Program.owner_org_id == officer.organization.id)
    ).one()
    assert program.status is ProgramStatus.DRAFT
    assert (program.budget_fen, program.ratio_bp, program.annual_cap_fen) == (
        50_000_000,
        5000,
        3_000_000,
    )
    assert program.size_classes == ["small", "micro"] and program.industries == ["C"]
    assert program.vendor_whitelist == [vendor.organization.id]
    assert program.invoice_cap_fen is None and program.validity_days == 180
    # The last day named is the last day to apply: the window closes at the next midnight.
    assert program.closes_at.isoformat() == "2027-03-31T16:00:00+00:00"

    console = page(client.get(f"/vouchers/programs/{program.id}"))
    assert 'data-action="publish"' in console
    # Publishing states the budget and waits for it to be confirmed.
    step = page(client.post(f"/vouchers/programs/{program.id}/publish"))
    assert 'data-confirm-amount="50000000"' in step and "¥500,000.00" in step
    session.refresh(program)
    assert program.status is ProgramStatus.DRAFT
    client.post(f"/vouchers/programs/{program.id}/publish", data={"confirm_fen": "50000000"})
    session.refresh(program)
    assert program.status is ProgramStatus.PUBLISHED
    listing = page(client.get("/vouchers/programs"))
    assert f'data-program-row="{program.id}"' in listing and "¥500,000.00" in listing
    assert program.name in page(client.get("/vouchers/"))


def test_bad_program_terms_are_refused_with_the_field_named(
    client: FlaskClient, session: Session
) -> None:
    officer = officer_actor(session)
    sign_in(client, officer)
    cases = [
        ({"ratio": "150"}, "ratio"),  # the service: at most 100 percent
        ({"ratio": "abc"}, "ratio"),
        ({"region_prefix": "999999"}, "region_prefix"),  # no such region
        ({"budget": ""}, "budget"),
        ({"size_classes": []}, "size_classes"),
        ({"closes_on": "2026-11-01"}, "closes_on"),  # before it opens
        ({"validity_days": "0"}, "validity_days"),
        ({"closes_on": "9999-12-31"}, "closes_on"),  # the day after would overflow
        ({"vendor_whitelist": ["not-a-vendor"]}, "vendor_whitelist"),
        ({"industries": ["Z99"]}, "industries"),
    ]
    for change, name in cases:
        response = client.post("/vouchers/programs/new", data={**PROGRAM_FORM, **change})
        assert response.status_code == 422, change
        assert field_error(page(response), name), change
    assert session.scalar(sa.select(sa.func.count()).select_from(Program)) == 0


def test_a_draft_is_edited_and_a_published_program_is_not(
    client: FlaskClient, session: Session
) -> None:
    officer = officer_actor(session)
    program = create_program(session, officer, publish=False)
    sign_in(client, officer)
    form = page(client.get(f"/vouchers/programs/{program.id}/edit"))
    assert program.name in form and 'value="310115"' in form
    response = client.post(
        f"/vouchers/programs/{program.id}/edit", data={**PROGRAM_FORM, "name": "改名后的上云券"}
    )
    assert response.status_code == 302
    session.refresh(program)
    assert program.name == "改名后的上云券"
    client.post(
        f"/vouchers/programs/{program.id}/publish", data={"confirm_fen": str(program.budget_fen)}
    )
    response = client.get(f"/vouchers/programs/{program.id}/edit")
    assert response.status_code == 302  # back to the console with a warning


def test_officers_see_only_their_own_programs(client: FlaskClient, session: Session) -> None:
    program = open_program(session)
    application = applications.apply(
        session, program, actor=sme_actor(session), requested_fen=10_000, now=utcnow()
    )
    other = officer_actor(session)
    sign_in(client, other)
    for path in (
        f"/vouchers/programs/{program.id}",
        f"/vouchers/programs/{program.id}/vouchers",
        f"/vouchers/programs/{program.id}/effect",
        f"/vouchers/programs/{program.id}/export/redemptions.xlsx",
    ):
        assert client.get(path).status_code == 404, path
    assert client.post(f"/vouchers/applications/{application.id}/approve").status_code == 404
    assert client.post(f"/vouchers/programs/{program.id}/close").status_code == 404
    session.refresh(program)
    assert program.status is ProgramStatus.PUBLISHED
    assert program.name not in page(client.get("/vouchers/programs"))


def test_enterprises_and_vendors_cannot_open_the_console(
    client: FlaskClient, session: Session
) -> None:
    program = open_program(session)
    sign_in(client, sme_actor(session))
    assert client.get(f"/vouchers/programs/{program.id}").status_code == 403
    assert client.get("/vouchers/programs").status_code == 403


# --- enterprises: qualify, apply, wallet -----------------------------------------------------


def test_enterprise_sees_why_it_does_not_qualify(client: FlaskClient, session: Session) -> None:
    program = open_program(session, region_prefix="310115")
    elsewhere = sme_actor(session, region_code="310104")
    sign_in(client, elsewhere)
    html = page(client.get(f"/vouchers/p/{program.id}"))
    assert 'data-eligible="0"' in html and 'data-rule="region"' in html
    assert "data-apply-form" not in html
    assert 'data-rule="region"' in page(client.get("/vouchers/"))
    # Posting anyway is answered with every failed rule, and nothing is saved.
    response = client.post(f"/vouchers/p/{program.id}/apply", data={"requested": "1000"})
    assert response.status_code == 422
    assert "310115" in page(response) and "310104" in page(response)
    assert session.scalar(sa.select(sa.func.count()).select_from(Application)) == 0


def test_enterprise_applies_and_the_officer_approves_a_lower_amount(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    buyer = sme_actor(session)
    sign_in(client, buyer)
    html = page(client.get(f"/vouchers/p/{program.id}"))
    assert 'data-eligible="1"' in html and "data-apply-form" in html
    assert client.post(f"/vouchers/p/{program.id}/apply", data={"requested": ""}).status_code == 422
    response = client.post(
        f"/vouchers/p/{program.id}/apply", data={"requested": "2,000", "note": "MES 上云"}
    )
    assert response.status_code == 302
    application = session.scalars(
        sa.select(Application).where(Application.applicant_org_id == buyer.organization.id)
    ).one()
    assert application.requested_fen == 200_000

    officer_client = app.test_client()
    sign_in(officer_client, officer)
    queue = page(officer_client.get(f"/vouchers/programs/{program.id}"))
    assert f'data-application-row="{application.id}"' in queue and 'data-eligible="1"' in queue
    too_much = officer_client.post(
        f"/vouchers/applications/{application.id}/approve", data={"amount": "3000"}
    )
    assert too_much.status_code == 422 and field_error(page(too_much), "amount")
    response = officer_client.post(
        f"/vouchers/applications/{application.id}/approve", data={"amount": "1500"}
    )
    assert response.status_code == 302
    voucher = session.scalars(
        sa.select(Voucher).where(Voucher.application_id == application.id)
    ).one()
    assert voucher.face_fen == 150_000
    assert "¥1,500.00" in page(officer_client.get(f"/vouchers/programs/{program.id}/vouchers"))

    wallet = page(client.get("/vouchers/wallet"))
    assert f'data-offer="{program.id}"' in wallet  # it may apply again, up to its cap
    assert voucher.code in wallet and "¥1,500.00" in wallet and 'data-status="approved"' in wallet
    assert voucher.code in page(client.get(f"/vouchers/applications/{application.id}"))


def test_officer_rejects_with_a_reason_the_enterprise_reads(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    buyer = sme_actor(session)
    application = applications.apply(
        session, program, actor=buyer, requested_fen=50_000, now=utcnow()
    )
    sign_in(client, officer)
    without = client.post(f"/vouchers/applications/{application.id}/reject", data={"reason": ""})
    assert without.status_code == 422 and field_error(page(without), "reason")
    response = client.post(
        f"/vouchers/applications/{application.id}/reject", data={"reason": "营业执照已过期"}
    )
    assert response.status_code == 302
    session.refresh(application)
    assert application.status is ApplicationStatus.REJECTED

    buyer_client = app.test_client()
    sign_in(buyer_client, buyer)
    assert "营业执照已过期" in page(buyer_client.get(f"/vouchers/applications/{application.id}"))
    assert "营业执照已过期" in page(buyer_client.get("/vouchers/wallet"))


def test_enterprises_see_only_their_own_applications(client: FlaskClient, session: Session) -> None:
    program = open_program(session)
    application = applications.apply(
        session, program, actor=sme_actor(session), requested_fen=10_000, now=utcnow()
    )
    sign_in(client, sme_actor(session))
    assert client.get(f"/vouchers/applications/{application.id}").status_code == 404
    assert client.post(f"/vouchers/applications/{application.id}/withdraw").status_code == 404
    assert "10,000" not in page(client.get("/vouchers/wallet"))


def test_a_draft_program_has_no_public_page(client: FlaskClient, session: Session) -> None:
    program = create_program(session, publish=False)
    assert client.get(f"/vouchers/p/{program.id}").status_code == 404
    assert client.get("/vouchers/p/999999").status_code == 404


# --- the books: revoke, exports, settlements, anomalies, effect, audit ---------------------


def test_officer_revokes_a_voucher_with_a_reason(client: FlaskClient, session: Session) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    voucher = grant(session, program, sme_actor(session), 40_000, officer=officer, now=utcnow())
    sign_in(client, officer)
    assert client.post(f"/vouchers/issued/{voucher.id}/revoke", data={}).status_code == 422
    response = client.post(f"/vouchers/issued/{voucher.id}/revoke", data={"reason": "虚假材料"})
    assert response.status_code == 302
    session.refresh(voucher)
    assert voucher.status is VoucherStatus.REVOKED and voucher.released_fen == 40_000
    assert 'data-figure="released">¥400.00' in page(client.get(f"/vouchers/programs/{program.id}"))


def test_xlsx_export_opens_with_chinese_headers(client: FlaskClient, session: Session) -> None:
    program, officer, buyer, _vendor, voucher = paid_program(session)
    sign_in(client, officer)
    listed = page(client.get(f"/vouchers/programs/{program.id}/redemptions"))
    assert voucher.code in listed and 'data-export="redemptions-xlsx"' in listed

    response = client.get(f"/vouchers/programs/{program.id}/export/redemptions.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    disposition = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("UTF-8''")[1]) == f"核销明细-{program.id}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).active
    headers = [cell.value for cell in sheet[1]]
    assert "企业名称" in headers and "补贴金额（元）" in headers
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2 and buyer.organization.name in rows[0]

    csv_response = client.get(f"/vouchers/programs/{program.id}/export/settlements.csv")
    assert csv_response.status_code == 200
    assert csv_response.headers["Content-Type"].startswith("text/csv")
    assert csv_response.data.startswith("\ufeff".encode())  # Excel reads the Chinese
    assert client.get(f"/vouchers/programs/{program.id}/export/secrets.csv").status_code == 404


def test_settlement_from_batch_to_paid_through_the_pages(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    sign_in(client, officer)
    tab = page(client.get(f"/vouchers/programs/{program.id}/settlements"))
    assert vendor.organization.name in tab and "data-settlement-form" in tab
    today = dates.first_day(utcnow())  # the officer types China's days
    bad = client.post(
        f"/vouchers/programs/{program.id}/settlements",
        data={"vendor_id": vendor.organization.id, "period_start": "", "period_end": ""},
    )
    assert bad.status_code == 422 and field_error(page(bad), "period_start")
    response = client.post(
        f"/vouchers/programs/{program.id}/settlements",
        data={
            "vendor_id": vendor.organization.id,
            "period_start": (today - timedelta(days=7)).isoformat(),
            "period_end": today.isoformat(),
        },
    )
    assert response.status_code == 302, page(response)
    batch = session.scalars(sa.select(Settlement).where(Settlement.program_id == program.id)).one()
    assert batch.total_fen == 30_000 and batch.status is SettlementStatus.DRAFT
    again = client.post(
        f"/vouchers/programs/{program.id}/settlements",
        data={
            "vendor_id": vendor.organization.id,
            "period_start": (today - timedelta(days=7)).isoformat(),
            "period_end": today.isoformat(),
        },
    )
    assert again.status_code == 409  # nothing left to settle

    early = client.post(f"/vouchers/settlements/{batch.id}/paid", data={"bank_reference": "X"})
    assert early.status_code == 409  # approve first
    # Approving states the batch's total and waits for it to be confirmed.
    step = page(client.post(f"/vouchers/settlements/{batch.id}/approve"))
    assert 'data-confirm-amount="30000"' in step and "¥300.00" in step
    session.refresh(batch)
    assert batch.status is SettlementStatus.DRAFT
    client.post(f"/vouchers/settlements/{batch.id}/approve", data={"confirm_fen": "29999"})
    session.refresh(batch)
    assert batch.status is SettlementStatus.DRAFT  # not the amount shown
    client.post(f"/vouchers/settlements/{batch.id}/approve", data={"confirm_fen": "30000"})
    session.refresh(batch)
    assert batch.status is SettlementStatus.APPROVED
    response = client.post(
        f"/vouchers/settlements/{batch.id}/paid", data={"bank_reference": "BOC20261120001"}
    )
    assert response.status_code == 302
    session.refresh(batch)
    assert batch.status is SettlementStatus.PAID and batch.bank_reference == "BOC20261120001"

    vendor_client = app.test_client()
    sign_in(vendor_client, vendor)
    mine = page(vendor_client.get("/vouchers/settlements"))
    assert "BOC20261120001" in mine and 'data-figure="paid">¥300.00' in mine
    other_officer = app.test_client()
    sign_in(other_officer, officer_actor(session))
    assert other_officer.post(f"/vouchers/settlements/{batch.id}/approve").status_code == 404


def test_officer_scans_and_reviews_anomalies(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    sign_in(client, officer)
    client.post(f"/vouchers/programs/{program.id}/anomalies/scan")
    cases = list(session.scalars(sa.select(Anomaly).where(Anomaly.program_id == program.id)))
    assert cases  # one vendor took the whole program
    case = cases[0]
    tab = page(client.get(f"/vouchers/programs/{program.id}/anomalies"))
    assert f'data-anomaly-row="{case.id}"' in tab and vendor.organization.name in tab
    no_note = client.post(f"/vouchers/anomalies/{case.id}/review", data={"status": "cleared"})
    assert no_note.status_code == 422 and field_error(page(no_note), "note")
    response = client.post(
        f"/vouchers/anomalies/{case.id}/review",
        data={"status": "cleared", "note": "试点期仅一家服务商入围"},
    )
    assert response.status_code == 302
    session.refresh(case)
    assert case.status is AnomalyStatus.CLEARED
    export = client.get(f"/vouchers/programs/{program.id}/export/anomalies.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(export.data)).active
    assert "复核意见" in [cell.value for cell in sheet[1]]
    assert "试点期仅一家服务商入围" in [c for row in sheet.iter_rows(values_only=True) for c in row]


def test_effectiveness_dashboard_draws_its_charts(client: FlaskClient, session: Session) -> None:
    program, officer, _buyer, vendor, _voucher = paid_program(session)
    sign_in(client, officer)
    html = page(client.get(f"/vouchers/programs/{program.id}/effect"))
    assert "<svg" in html and "data-budget-chart" in html
    assert 'data-part="redeemed"' in html and 'data-part="reserved"' in html
    assert 'data-bar-chart="vendors"' in html and vendor.organization.name in html
    assert 'data-figure="served">1<' in html
    # The two invoices came to ¥600, of which the voucher paid ¥300.
    assert 'data-figure="leverage">2.00×' in html


def test_audit_page_verifies_the_chain_and_lists_voucher_events(
    client: FlaskClient, session: Session
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    sign_in(client, officer)
    html = page(client.get("/vouchers/audit"))
    assert 'data-audit-ok="1"' in html and "voucher_program.published" in html
    sign_in(client, sme_actor(session))
    assert client.get("/vouchers/audit").status_code == 403


def test_officer_flags_an_organization_which_then_does_not_qualify(
    client: FlaskClient, session: Session
) -> None:
    program = open_program(session)
    officer = officer_of(session, program)
    buyer = sme_actor(session)
    sign_in(client, officer)
    unknown = client.post("/vouchers/flags", data={"uscc": "9".ljust(18, "1"), "reason": "x"})
    assert unknown.status_code == 422 and field_error(page(unknown), "uscc")
    response = client.post(
        "/vouchers/flags", data={"uscc": buyer.organization.uscc, "reason": "骗取补贴"}
    )
    assert response.status_code == 302
    assert "骗取补贴" in page(client.get("/vouchers/flags"))
    sign_in(client, buyer)
    assert 'data-rule="dishonest"' in page(client.get(f"/vouchers/p/{program.id}"))


# --- what templates get: offers and the price after a voucher -------------------------------


def test_offers_and_price_after_voucher_for_the_signed_in_enterprise(
    app: Flask, session: Session
) -> None:
    program = open_program(session, ratio_bp=5000, invoice_cap_fen=20_000)
    buyer, vendor = sme_actor(session), vendor_actor(session)
    plan = contract_between(session, buyer, vendor).plan  # ¥... a month, accepts cloud
    price = plan.monthly_equivalent_fen
    with app.test_request_context("/"):
        login_user(buyer.user)
        found = offers.voucher_offers()
        assert [offer.program.id for offer in found] == [program.id]
        quoted = offers.price_after_voucher(plan)
        assert quoted is not None and not quoted.from_wallet
        assert quoted.subsidy_fen == min(price // 2, 20_000)
        assert quoted.after_fen == price - quoted.subsidy_fen
    voucher = grant(session, program, buyer, 300_000, now=utcnow())
    with app.test_request_context("/"):
        login_user(buyer.user)
        quoted = offers.price_after_voucher(plan)
        assert quoted is not None and quoted.voucher_code == voucher.code
    with app.test_request_context("/"):
        login_user(vendor.user)
        assert offers.voucher_offers() == [] and offers.price_after_voucher(plan) is None
