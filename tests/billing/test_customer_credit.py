"""Customer credit (billing/credits.py): a downgrade's unused part and a credit note beyond
what was due go to the buyer's balance with the vendor and pay the next invoices; voiding or
refunding gives applied credit back; the refunded display state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import contracts, credits, invoice_money, invoices, ledger, run
from billing.credit_models import CreditKind, CreditTransaction
from billing.invoices import InvoiceDraft, LineDraft
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.models import Contract, Invoice, InvoiceKind, InvoiceStatus
from billing.payment_models import Payment
from billing.payments import bank_transfers, refunds
from catalog.models import Plan
from marketplace.jsonapi import Actor
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    start_contract,
    subscription_terms,
)
from tests.catalog.factories import operator_actor, publish_solution, vendor_actor
from tests.factories import create_token, login

JAN_1 = T0.replace(day=1)
FEB_1 = JAN_1.replace(month=2)


@dataclass
class Downgrade:
    buyer: Actor
    contract: Contract
    pro: Plan
    basic: Plan
    proration: Invoice


def downgrade(session: Session, *, basic_fen: int) -> Downgrade:
    """A buyer on ¥620 a month pays January, then moves to a cheaper plan on 11 January:
    21 of January's 31 days unused, credit 21/31 of ¥620 = ¥420 less the new plan's part."""
    buyer = buyer_actor(session)
    solution = publish_solution(
        session,
        vendor_actor(session),
        plans=[
            subscription_terms(name="专业版", price_fen=62_000, trial_days=0),
            subscription_terms(name="基础版", price_fen=basic_fen, trial_days=0),
        ],
    )
    pro, basic = solution.published.plans
    contract = start_contract(session, plan=pro, buyer=buyer, now=JAN_1)
    (january,) = invoices_of(session, contract)
    bank_transfers.record_bank_transfer(
        session,
        january,
        amount_fen=62_000,
        reference=f"JAN-{contract.id}",
        actor=operator_actor(session),
        now=JAN_1,
    )
    proration = contracts.change_plan(
        session,
        contract,
        basic,
        actor=buyer,
        now=JAN_1 + timedelta(days=10),
        commission_bp=COMMISSION_BP,
    )
    assert proration is not None
    return Downgrade(buyer, contract, pro, basic, proration)


def invoices_of(session: Session, contract: Contract) -> list[Invoice]:
    return list(
        session.scalars(
            sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id)
        )
    )


def billing_run(app: Flask, as_of: datetime) -> run.RunReport:
    return run.run(
        app.extensions["marketplace.db"].sessions, as_of=as_of, commission_bp=COMMISSION_BP
    )


def renewal_of(session: Session, contract: Contract, period_start: datetime) -> Invoice:
    session.expire_all()
    found = invoices.existing(session, contract.id, period_start, "renewal")
    assert found is not None
    return found


def ledger_kinds(session: Session, invoice: Invoice) -> list[str]:
    return list(
        session.scalars(
            sa.select(LedgerTransaction.kind)
            .where(LedgerTransaction.invoice_id == invoice.id)
            .order_by(LedgerTransaction.id)
        )
    )


def credit_account(session: Session, buyer_id: int) -> int:
    """The buyer's credit in the ledger (a liability: its credit balance, made positive)."""
    return -ledger.balance(session, ledger.CUSTOMER_CREDIT, buyer_id)


def assert_books_balance(session: Session) -> None:
    assert ledger.unbalanced_transactions(session) == []
    assert session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0))) == 0


# --- a downgrade's credit pays the renewal --------------------------------------------------


@pytest.mark.parametrize(
    ("basic_fen", "granted", "applied", "due", "left"),
    [
        # ¥310 plan: credit 42,000 - charge 21,000 = 21,000; February's ¥310 takes it all.
        (31_000, 21_000, 21_000, 10_000, 0),
        # ¥31 plan: credit 42,000 - 2,100 = 39,900; February's ¥31 is paid by credit and
        # 36,800 stays on the balance for March.
        (3_100, 39_900, 3_100, 0, 36_800),
    ],
)
def test_downgrade_then_renewal_applies_the_credit(
    app: Flask,
    session: Session,
    basic_fen: int,
    granted: int,
    applied: int,
    due: int,
    left: int,
) -> None:
    case = downgrade(session, basic_fen=basic_fen)
    buyer_id, vendor_id = case.contract.buyer_id, case.contract.vendor_id
    proration = case.proration
    assert proration.total_fen == -granted
    assert proration.credit_granted_fen == granted
    assert invoices.amount_due(proration) == 0
    assert credits.balance(session, buyer_id, vendor_id) == granted
    assert credit_account(session, buyer_id) == granted

    billing_run(app, FEB_1 + timedelta(hours=1))

    february = renewal_of(session, case.contract, FEB_1)
    assert february.total_fen == basic_fen
    assert february.credit_applied_fen == applied
    assert invoices.amount_owed(february) == due
    assert invoices.amount_due(february) == due
    assert february.status is (InvoiceStatus.OPEN if due else InvoiceStatus.PAID)
    assert credits.balance(session, buyer_id, vendor_id) == left
    assert credit_account(session, buyer_id) == left
    # The ledger shows the grant on the proration and the application on the renewal, and
    # the buyer owes exactly what is due.
    assert "credit.granted" in ledger_kinds(session, proration)
    assert "credit.applied" in ledger_kinds(session, february)
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer_id) == due
    assert_books_balance(session)
    history = [
        (t.kind, t.amount_fen, t.invoice_id)
        for t in session.scalars(
            sa.select(CreditTransaction)
            .where(CreditTransaction.buyer_id == buyer_id)
            .order_by(CreditTransaction.id)
        )
    ]
    assert history == [
        (CreditKind.GRANTED, granted, proration.id),
        (CreditKind.APPLIED, -applied, february.id),
    ]


def test_credit_stays_with_its_vendor(session: Session) -> None:
    case = downgrade(session, basic_fen=31_000)
    other = start_contract(session, subscription_terms(trial_days=0), buyer=case.buyer, now=FEB_1)
    (invoice,) = invoices_of(session, other)
    assert invoice.credit_applied_fen == 0
    assert credits.balance(session, case.buyer.organization.id, case.contract.vendor_id) == 21_000


# --- credit notes ----------------------------------------------------------------------------


def credit_note(session: Session, corrected: Invoice, amount_fen: int, at: datetime) -> Invoice:
    line = LineDraft(
        kind="outcome",
        description="correction",
        quantity=Decimal(1),
        unit_fen=Decimal(-amount_fen),
        amount_fen=-amount_fen,
        vat_rate_bp=600,
        period_start=at,
        period_end=at + timedelta(days=1),
    )
    draft = InvoiceDraft(
        corrected.contract,
        "correction",
        at,
        at + timedelta(days=1),
        [line],
        kind=InvoiceKind.CREDIT_NOTE,
        corrects=corrected,
    )
    note = invoices.create_many(session, [draft], commission_bp=COMMISSION_BP, now=at)[0]
    session.expire(corrected, ["corrections"])
    return note


def test_a_credit_note_on_a_paid_invoice_becomes_credit(session: Session) -> None:
    contract = start_contract(session, subscription_terms(trial_days=0, price_fen=10_000))
    (paid,) = invoices_of(session, contract)
    bank_transfers.record_bank_transfer(
        session, paid, amount_fen=10_000, reference="CN-1", actor=operator_actor(session), now=T0
    )
    note = credit_note(session, paid, 4_000, T0 + timedelta(days=3))
    assert note.credit_granted_fen == 4_000
    assert invoices.amount_due(paid) == 0  # not "paid too much": the 4,000 is on the balance
    assert credits.balance(session, contract.buyer_id, contract.vendor_id) == 4_000
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, contract.buyer_id) == 0
    assert credit_account(session, contract.buyer_id) == 4_000
    assert_books_balance(session)


def test_refunding_a_credited_invoice_pays_out_the_credit_still_on_the_balance(
    session: Session,
) -> None:
    contract = start_contract(session, subscription_terms(trial_days=0, price_fen=10_000))
    (paid,) = invoices_of(session, contract)
    operator = operator_actor(session)
    payment = bank_transfers.record_bank_transfer(
        session, paid, amount_fen=10_000, reference="PO-1", actor=operator, now=T0
    )
    credit_note(session, paid, 4_000, T0 + timedelta(days=3))
    # 1,500 of the credit pays a new invoice; 2,500 is still on the balance.
    invoices.create_many(
        session,
        [_draft(contract, 1_500, T0 + timedelta(days=4))],
        commission_bp=COMMISSION_BP,
        now=T0 + timedelta(days=4),
    )
    vendor_before = ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id)

    refunds.refund(session, None, payment, amount_fen=4_000, reason="退还", actor=operator, now=T0)

    # 2,500 paid out of the balance; only the other 1,500 takes back the vendor's share.
    assert credits.balance(session, contract.buyer_id, contract.vendor_id) == 0
    vendor_share, _commission = ledger.split_commission(1_500, COMMISSION_BP)
    assert ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id) == (
        vendor_before + vendor_share
    )
    assert credit_account(session, contract.buyer_id) == 0
    assert_books_balance(session)


def test_a_credit_note_on_an_open_invoice_lowers_it_and_credits_only_the_rest(
    session: Session,
) -> None:
    contract = start_contract(session, subscription_terms(trial_days=0, price_fen=10_000))
    (open_,) = invoices_of(session, contract)
    small = credit_note(session, open_, 3_000, T0 + timedelta(days=1))
    assert small.credit_granted_fen == 0
    assert invoices.amount_due(open_) == 7_000
    big = credit_note(session, open_, 9_000, T0 + timedelta(days=2))
    assert big.credit_granted_fen == 2_000
    assert invoices.amount_due(open_) == 0
    assert credits.balance(session, contract.buyer_id, contract.vendor_id) == 2_000
    assert_books_balance(session)


# --- void and refund give applied credit back -------------------------------------------------


def test_voiding_an_invoice_with_applied_credit_restores_the_balance(
    app: Flask, session: Session
) -> None:
    case = downgrade(session, basic_fen=31_000)
    billing_run(app, FEB_1 + timedelta(hours=1))
    february = renewal_of(session, case.contract, FEB_1)
    assert february.credit_applied_fen == 21_000
    buyer_id, vendor_id = case.contract.buyer_id, case.contract.vendor_id

    invoice_money.void(session, february, note="wrong plan", actor=operator_actor(session))

    assert credits.balance(session, buyer_id, vendor_id) == 21_000
    assert credit_account(session, buyer_id) == 21_000
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer_id) == 0
    assert "credit.restored" in ledger_kinds(session, february)
    assert_books_balance(session)


def test_refunding_every_payment_shows_refunded_and_gives_the_credit_back(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    case = downgrade(session, basic_fen=31_000)
    billing_run(app, FEB_1 + timedelta(hours=1))
    february = renewal_of(session, case.contract, FEB_1)
    operator = operator_actor(session)
    payment = bank_transfers.record_bank_transfer(
        session, february, amount_fen=10_000, reference="FEB-1", actor=operator, now=FEB_1
    )
    assert february.status is InvoiceStatus.PAID
    assert february.display_status == "paid"
    buyer_id, vendor_id = case.contract.buyer_id, case.contract.vendor_id
    vendor_before = ledger.balance(session, ledger.VENDOR_PAYABLE, vendor_id)

    refunds.refund(
        session, None, payment, amount_fen=4_000, reason="部分退款", actor=operator, now=FEB_1
    )
    session.refresh(february, ["payments"])
    assert february.display_status == "partially_refunded"
    assert credits.balance(session, buyer_id, vendor_id) == 0

    refunds.refund(
        session, None, payment, amount_fen=6_000, reason="全部退款", actor=operator, now=FEB_1
    )
    session.refresh(february, ["payments"])
    assert february.status is InvoiceStatus.PAID  # the transition table is unchanged
    assert february.display_status == "refunded"
    assert credits.balance(session, buyer_id, vendor_id) == 21_000
    # The vendor gives back its share of the whole ¥310, the platform its commission.
    vendor_share, _commission = ledger.split_commission(31_000, COMMISSION_BP)
    assert ledger.balance(session, ledger.VENDOR_PAYABLE, vendor_id) == vendor_before + vendor_share
    assert_books_balance(session)

    login(client, case.buyer.user)
    html = client.get(f"/billing/invoices/{february.id}").get_data(as_text=True)
    assert 'data-status="refunded"' in html
    assert 'data-refund-state="refunded"' in html
    listing = client.get("/billing/invoices").get_data(as_text=True)
    assert 'data-status="refunded"' in listing
    token = create_token(session, case.buyer.user, case.buyer.organization)
    answer = client.get(
        f"/api/v1/invoices/{february.id}", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert answer["status"] == "paid"
    assert answer["display_status"] == "refunded"


# --- pages and API ---------------------------------------------------------------------------


def test_pages_and_api_show_the_credit(app: Flask, session: Session, client: FlaskClient) -> None:
    case = downgrade(session, basic_fen=31_000)
    billing_run(app, FEB_1 + timedelta(hours=1))
    february = renewal_of(session, case.contract, FEB_1)
    login(client, case.buyer.user)

    html = client.get(f"/billing/invoices/{february.id}").get_data(as_text=True)
    assert "data-credit-applied>-¥210.00<" in html.replace("−", "-").replace("￥", "¥")
    assert "data-amount-due>¥100.00<" in html.replace("￥", "¥")
    proration_page = client.get(f"/billing/invoices/{case.proration.id}").get_data(as_text=True)
    assert "data-credit-granted>¥210.00<" in proration_page.replace("￥", "¥")

    pay_page = client.get(f"/billing/invoices/{february.id}/pay").get_data(as_text=True)
    assert "data-credit-applied" in pay_page
    listing = client.get("/billing/invoices").get_data(as_text=True)
    assert f'data-credit-balance="{case.contract.vendor_id}"' in listing
    assert 'data-credit-balance-fen="0"' in listing
    assert 'data-credit-move="granted"' in listing and 'data-credit-move="applied"' in listing

    headers = {
        "Authorization": f"Bearer {create_token(session, case.buyer.user, case.buyer.organization)}"
    }
    answer = client.get(f"/api/v1/invoices/{february.id}", headers=headers).get_json()
    assert answer["credit_applied_fen"] == 21_000
    assert answer["amount_due_fen"] == 10_000
    balances = client.get("/api/v1/credit-balances", headers=headers).get_json()
    (item,) = balances["items"]
    assert item["vendor_id"] == case.contract.vendor_id
    assert item["balance_fen"] == 0
    assert [m["kind"] for m in item["history"]] == ["applied", "granted"]
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/credit-balances" in spec["paths"]


# --- vouchers never pay what credit already paid --------------------------------------------


def test_vouchers_subsidise_only_what_credit_left(session: Session) -> None:
    from billing import voucher_payments

    contract = start_contract(session, subscription_terms(trial_days=0, price_fen=10_000))
    (invoice,) = invoices_of(session, contract)
    invoice.credit_applied_fen = 6_000  # as if a balance had paid part of it at issue
    session.flush()
    left = [line.amount_fen for line in voucher_payments.eligible_lines(invoice)]
    assert sum(left) == 4_000


# --- properties --------------------------------------------------------------------------------


def _draft(contract: Contract, amount_fen: int, at: datetime) -> InvoiceDraft:
    line = LineDraft(
        kind="proration_credit" if amount_fen < 0 else "subscription",
        description="step",
        quantity=Decimal(1),
        unit_fen=Decimal(amount_fen),
        amount_fen=amount_fen,
        vat_rate_bp=600,
        period_start=at,
        period_end=at + timedelta(days=1),
    )
    return InvoiceDraft(contract, "step", at, at + timedelta(days=1), [line])


STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.integers(1, 50_000)),
        st.tuples(st.just("issue"), st.lists(st.integers(1, 40_000), min_size=1, max_size=3)),
        st.tuples(st.just("void"), st.integers(0, 20)),
        st.tuples(st.just("pay_and_refund"), st.integers(0, 20)),
        st.tuples(st.just("credit_note"), st.tuples(st.integers(0, 20), st.fractions(0, 1))),
    ),
    min_size=1,
    max_size=12,
)


# Each example runs in its own savepoint that is rolled back, so sharing the app is safe.
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=STEPS)
def test_credit_never_negative_and_ledger_balanced(app: Flask, steps: list) -> None:
    sessions = app.extensions["marketplace.db"].sessions
    with sessions() as session:
        nested = session.begin_nested()
        contract = start_contract(session, subscription_terms(trial_days=14))
        operator = operator_actor(session)
        pair = (contract.buyer_id, contract.vendor_id)
        issued: list[Invoice] = []
        at = T0
        for number, (action, arg) in enumerate(steps):
            at += timedelta(hours=1)
            if action == "grant":
                issued += invoices.create_many(
                    session, [_draft(contract, -arg, at)], commission_bp=COMMISSION_BP, now=at
                )
            elif action == "issue":  # a batch, as the billing run issues them
                drafts = [
                    _draft(contract, amount, at + timedelta(minutes=i))
                    for i, amount in enumerate(arg)
                ]
                issued += invoices.create_many(session, drafts, commission_bp=COMMISSION_BP, now=at)
            elif action == "credit_note":
                targets = [
                    i for i in issued if i.total_fen > 0 and i.status is not InvoiceStatus.VOID
                ]
                if targets:
                    corrected = targets[arg[0] % len(targets)]
                    amount = int(corrected.total_fen * arg[1])
                    if amount > 0:
                        issued.append(credit_note(session, corrected, amount, at))
            elif issued:
                invoice = issued[arg % len(issued)]
                if action == "void" and invoice.status is InvoiceStatus.OPEN:
                    invoice_money.void(session, invoice, note="test", actor=operator, now=at)
                elif action == "pay_and_refund" and invoices.amount_due(invoice) > 0:
                    payment = bank_transfers.record_bank_transfer(
                        session,
                        invoice,
                        amount_fen=invoices.amount_due(invoice),
                        reference=f"P{number}",
                        actor=operator,
                        now=at,
                    )
                    refunds.refund(
                        session,
                        None,
                        payment,
                        amount_fen=payment.amount_fen,
                        reason="r",
                        actor=operator,
                        now=at,
                    )
            balance = credits.balance(session, *pair)
            assert balance >= 0
            assert credit_account(session, contract.buyer_id) == balance
            for invoice in issued:
                assert invoice.credit_applied_fen <= max(invoice.total_fen, 0)
                if invoice.kind is InvoiceKind.INVOICE and invoice.status is not InvoiceStatus.VOID:
                    assert invoices.amount_owed(invoice) >= 0
            assert_books_balance(session)
        # Credit is never lost: granted = balance + applied on invoices still standing + paid
        # back as money.
        granted = sum(i.credit_granted_fen for i in issued)
        applied = sum(i.credit_applied_fen for i in issued)
        paid_out = -sum(
            session.scalars(
                sa.select(CreditTransaction.amount_fen).where(
                    CreditTransaction.kind == CreditKind.PAID_OUT
                )
            )
        )
        assert granted == credits.balance(session, *pair) + applied + paid_out
        nested.rollback()


def test_payments_never_exceed_what_is_owed(session: Session) -> None:
    """Paying an invoice with credit applied charges only the rest (no overpayment)."""
    case = downgrade(session, basic_fen=31_000)
    renewal = invoices.create_many(
        session,
        [_draft(case.contract, 31_000, FEB_1)],
        commission_bp=COMMISSION_BP,
        now=FEB_1,
    )[0]
    assert renewal.credit_applied_fen == 21_000
    payment = bank_transfers.record_bank_transfer(
        session,
        renewal,
        amount_fen=invoices.amount_due(renewal),
        reference="REST-1",
        actor=operator_actor(session),
        now=FEB_1,
    )
    assert payment.amount_fen == 10_000
    assert renewal.status is InvoiceStatus.PAID
    assert (
        renewal.credit_applied_fen + renewal.voucher_fen + invoices.amount_paid(renewal)
        == renewal.total_fen
    )
    assert session.scalar(sa.select(sa.func.count()).select_from(Payment)) >= 1


@given(
    amounts=st.lists(st.integers(-50_000, 50_000), min_size=1, max_size=6).filter(
        lambda a: sum(a) > 0
    ),
    share=st.fractions(0, 1),
)
def test_vouchers_see_at_most_what_credit_and_negative_lines_left(amounts, share) -> None:
    """Whatever the lines and the credit applied, the amounts vouchers may subsidise add up
    to exactly what is left to pay, and no line offers more than its own amount."""
    from types import SimpleNamespace

    from billing.voucher_payments import _left_to_pay

    total = sum(amounts)
    credit = int(total * share)
    invoice = SimpleNamespace(
        lines=[SimpleNamespace(amount_fen=a) for a in amounts], credit_applied_fen=credit
    )
    left = _left_to_pay(invoice)
    positive = [(a, x) for a, x in zip(amounts, left, strict=True) if a > 0]
    assert all(0 <= x <= a for a, x in positive)
    assert sum(x for _a, x in positive) == total - credit
