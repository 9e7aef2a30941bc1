"""Paying invoices with vouchers: the subsidy lowers what is due and moves that part of
the buyer's debt to the program in the ledger; a void or a full refund gives it back;
a paid settlement clears the program's debt against what the platform owes the vendor;
the billing run expires vouchers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import invoice_money, invoices, ledger, run, voucher_payments
from billing.models import InvoiceStatus
from billing.payments import bank_transfers, refunds
from catalog.models import VoucherKind
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotAllowed
from tests.billing.factories import T0, subscription_terms
from tests.catalog.factories import operator_actor, publish_solution
from tests.factories import create_token, csrf_token, login
from tests.vouchers.factories import (
    contract_between,
    create_program,
    grant,
    invoice_for,
    officer_of,
    sme_actor,
    vendor_actor,
)
from vouchers import settlements
from vouchers.models import VoucherStatus


def program_owes(session: Session, program) -> int:
    return ledger.balance(session, ledger.VOUCHER_PROGRAM_PAYABLE, program.owner_org_id)


def setup(session: Session, *, voucher_fen: int = 3_000, now=T0, **program_terms):
    if now != T0:  # a program open today, for pages that offer today's usable vouchers
        program_terms = {
            "opens_at": now - timedelta(days=1),
            "closes_at": now + timedelta(days=30),
            **program_terms,
        }
    program = create_program(session, **program_terms)
    buyer = sme_actor(session)
    vendor = vendor_actor(session)
    voucher = grant(session, program, buyer, voucher_fen, now=now)
    contract = contract_between(session, buyer, vendor)
    invoice = invoice_for(session, contract, 10_000)
    return program, buyer, vendor, voucher, invoice


def test_a_voucher_pays_its_part_and_the_rest_stays_due(session: Session) -> None:
    program, buyer, _vendor, voucher, invoice = setup(session)  # ratio 50%
    paid = voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    assert paid == 3_000  # min(balance ¥30, 50% of ¥100)
    assert invoice.voucher_fen == 3_000 and invoices.amount_due(invoice) == 7_000
    assert voucher.balance_fen == 0 and voucher.status is VoucherStatus.SPENT
    assert program_owes(session, program) == 3_000
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 7_000
    assert ledger.unbalanced_transactions(session) == []
    with pytest.raises(Conflict):  # the same voucher twice on one invoice
        voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)


def test_the_ratio_limits_the_subsidy_and_a_full_subsidy_pays_the_invoice(
    session: Session,
) -> None:
    _program, buyer, _vendor, voucher, invoice = setup(session, voucher_fen=20_000, ratio_bp=10_000)
    assert voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0) == (
        10_000
    )
    assert invoice.status is InvoiceStatus.PAID and voucher.balance_fen == 10_000


def test_only_the_buyer_applies_vouchers_and_only_before_other_payments(
    session: Session,
) -> None:
    _program, buyer, vendor, voucher, invoice = setup(session)
    with pytest.raises(NotAllowed):
        voucher_payments.apply(session, invoice, codes=[voucher.code], actor=vendor, now=T0)
    bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=1_000, reference="B-9", actor=operator_actor(session), now=T0
    )
    with pytest.raises(Conflict) as refused:
        voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    assert refused.value.field == "vouchers"
    assert voucher.balance_fen == 3_000


def test_no_voucher_while_a_card_payment_awaits_confirmation(session: Session) -> None:
    from billing.payment_models import Payment, PaymentMethodKind, PaymentStatus

    _program, buyer, _vendor, voucher, invoice = setup(session)
    session.add(
        Payment(
            invoice_id=invoice.id,
            buyer_id=invoice.buyer_id,
            method=PaymentMethodKind.CARD,
            status=PaymentStatus.REQUIRES_ACTION,
            amount_fen=invoices.amount_due(invoice),
            stripe_payment_intent_id="pi_waiting",
        )
    )
    session.flush()
    with pytest.raises(Conflict) as refused:
        voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    assert refused.value.field == "vouchers" and voucher.balance_fen == 3_000


def test_voiding_the_invoice_gives_the_voucher_back(session: Session) -> None:
    program, buyer, _vendor, voucher, invoice = setup(session)
    voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    invoice_money.void(session, invoice, note="开错了", actor=operator_actor(session), now=T0)
    assert voucher.balance_fen == 3_000 and voucher.status is VoucherStatus.ACTIVE
    assert invoice.voucher_fen == 0
    assert program_owes(session, program) == 0
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0
    assert ledger.unbalanced_transactions(session) == []


def test_a_full_refund_gives_the_voucher_back_and_undoes_the_vendor_share(
    session: Session,
) -> None:
    program, buyer, vendor, voucher, invoice = setup(session)
    operator = operator_actor(session)
    voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    payment = bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=7_000, reference="B-10", actor=operator, now=T0
    )
    assert invoice.status is InvoiceStatus.PAID
    refunds.refund(
        session, None, payment, amount_fen=3_000, reason="部分退款", actor=operator, now=T0
    )
    assert voucher.balance_fen == 0  # a partial refund keeps the subsidy
    refunds.refund(
        session, None, payment, amount_fen=4_000, reason="全部退款", actor=operator, now=T0
    )
    assert voucher.balance_fen == 3_000 and invoice.voucher_fen == 0
    assert program_owes(session, program) == 0
    assert ledger.balance(session, ledger.VENDOR_PAYABLE, vendor.organization.id) == 0
    assert ledger.balance(session, ledger.PLATFORM_COMMISSION) == 0
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0


def test_a_paid_settlement_clears_the_program_debt_against_the_vendor_payable(
    session: Session,
) -> None:
    program, buyer, vendor, voucher, invoice = setup(session)
    voucher_payments.apply(session, invoice, codes=[voucher.code], actor=buyer, now=T0)
    officer = officer_of(session, program)
    batch = settlements.create_settlement(
        session,
        program,
        actor=officer,
        vendor_id=vendor.organization.id,
        period_start=T0 - timedelta(days=1),
        period_end=T0 + timedelta(days=1),
        now=T0,
    )
    settlements.approve_settlement(session, batch, actor=officer, now=T0)
    owed_to_vendor = -ledger.balance(session, ledger.VENDOR_PAYABLE, vendor.organization.id)
    settlements.mark_paid(session, batch, actor=officer, bank_reference="GOV-1", now=T0)
    assert program_owes(session, program) == 0
    assert -ledger.balance(session, ledger.VENDOR_PAYABLE, vendor.organization.id) == (
        owed_to_vendor - 3_000
    )
    assert ledger.unbalanced_transactions(session) == []


def test_the_billing_run_expires_vouchers(app: Flask, session: Session) -> None:
    _program, _buyer, _vendor, voucher, _invoice = setup(session)
    session.commit()
    report = run.run(
        app.extensions["marketplace.db"].sessions,
        as_of=voucher.expires_at + timedelta(minutes=1),
        commission_bp=1000,
    )
    assert report.vouchers_expired == 1
    session.expire_all()
    assert voucher.status is VoucherStatus.EXPIRED and voucher.released_fen == 3_000


def test_the_pay_page_offers_vouchers_and_applies_them(
    client: FlaskClient, session: Session
) -> None:
    now = utcnow()
    _program, buyer, _vendor, voucher, invoice = setup(session, now=now)
    other_program = create_program(
        session,
        kind=VoucherKind.COMPUTE,
        name="算力券",
        opens_at=now - timedelta(days=1),
        closes_at=now + timedelta(days=30),
    )
    compute = grant(
        session, other_program, buyer, 5_000, now=now
    )  # this SaaS line takes no compute
    login(client, buyer.user)
    page = f"/billing/invoices/{invoice.id}/pay"
    html = client.get(page).get_data(as_text=True)
    assert f'data-voucher="{voucher.code}"' in html and "¥30.00" in html
    assert f'data-voucher="{compute.code}"' in html and "data-voucher-problem" in html
    client.post(
        f"{page}/vouchers",
        data={"csrf_token": csrf_token(client, page), "vouchers": [voucher.code]},
    )
    session.expire_all()
    assert invoice.voucher_fen == 3_000 and invoices.amount_due(invoice) == 7_000
    html = client.get(page).get_data(as_text=True)
    assert "data-voucher-redemptions" in html and f'data-voucher="{voucher.code}"' not in html


def test_the_api_pays_with_vouchers_and_names_the_bank_reference(
    client: FlaskClient, session: Session
) -> None:
    _program, buyer, _vendor, voucher, invoice = setup(session, now=utcnow())
    auth = {"Authorization": f"Bearer {create_token(session, buyer.user, buyer.organization)}"}
    path = f"/api/v1/invoices/{invoice.id}/pay"
    wrong = client.post(
        path, headers=auth, json={"vouchers": ["CLD-NOPE"], "method": "bank_transfer"}
    )
    assert (
        wrong.status_code in (404, 409, 422) and "vouchers" in wrong.get_json()["error"]["fields"]
    )
    paid = client.post(
        path, headers=auth, json={"vouchers": [voucher.code], "method": "bank_transfer"}
    )
    assert paid.status_code == 200, paid.get_json()
    body = paid.get_json()
    assert body["voucher_fen"] == 3_000 and body["invoice"]["amount_due_fen"] == 7_000
    assert body["transfer_reference"] == invoice.transfer_reference
    stranger = sme_actor(session)
    other = {
        "Authorization": f"Bearer {create_token(session, stranger.user, stranger.organization)}"
    }
    assert client.post(path, headers=other, json={}).status_code == 404


def test_the_solution_page_and_dashboard_show_the_price_after_the_voucher(
    client: FlaskClient, session: Session
) -> None:
    now = utcnow()
    program = create_program(
        session, opens_at=now - timedelta(days=1), closes_at=now + timedelta(days=30)
    )
    buyer = sme_actor(session)
    vendor = vendor_actor(session)
    solution = publish_solution(
        session,
        vendor,
        voucher_kinds=["cloud"],
        plans=[subscription_terms(trial_days=0, price_fen=100_000)],
    )
    login(client, buyer.user)
    html = client.get(f"/solutions/{solution.slug}").get_data(as_text=True)
    # Not applied for yet: half of ¥1,000 with a voucher from the open program.
    assert "data-price-after-voucher" in html and "¥500.00" in html and program.name in html
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert "data-voucher-offers" in dashboard and program.name in dashboard
    assert f"/vouchers/p/{program.id}" in offer(html)  # apply there
    grant(session, program, buyer, 300_000, now=now)  # the whole annual cap, in the wallet
    html = client.get(f"/solutions/{solution.slug}").get_data(as_text=True)
    assert "¥500.00" in offer(html) and "/vouchers/p/" not in offer(html)


def offer(html: str) -> str:
    start = html.index("data-price-after-voucher")
    return html[start : html.index("</p>", start)]
