"""Billing rules without HTTP: contracts, metering, invoices, ledger, the billing run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from billing import contracts, invoice_money, invoices, ledger, run
from billing.ledger_models import LedgerEntry
from billing.metering import events as metering
from billing.models import Contract, ContractStatus, Invoice, InvoiceStatus
from billing.periods import add_months, prorate
from marketplace import outbox
from marketplace.states import IllegalTransition
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    event,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import vendor_actor


def ingest(
    session: Session, contract: Contract, events: list[dict], now=T0
) -> metering.IngestResult:
    return metering.ingest(session, vendor_id=contract.vendor_id, events=events, now=now)


def billing_run(app: Flask, as_of) -> run.RunReport:
    return run.run(
        app.extensions["marketplace.db"].sessions, as_of=as_of, commission_bp=COMMISSION_BP
    )


def invoices_of(session: Session, contract: Contract) -> list[Invoice]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Invoice).where(Invoice.contract_id == contract.id).order_by(Invoice.id)
        )
    )


# --- periods and proration ----------------------------------------------------------


def test_month_end_anchor_clamps_and_returns() -> None:
    anchor = T0.replace(day=31, month=1)
    assert add_months(anchor, 1).day == 28
    assert add_months(anchor, 2).day == 31


@given(st.integers(0, 10**9), st.integers(0, 40))
def test_proration_is_a_share_of_the_amount(amount: int, days_in: int) -> None:
    start, end = T0, add_months(T0, 1)
    part = prorate(amount, start, end, start + timedelta(days=days_in))
    assert 0 <= part <= amount
    assert prorate(amount, start, end, start) == amount
    assert prorate(amount, start, end, end) == 0


# --- metering ------------------------------------------------------------------------


def test_duplicates_conflicts_late_and_future_events(session: Session) -> None:
    contract = start_contract(session, usage_terms())
    first = ingest(session, contract, [event(contract, "e1", 5), event(contract, "e2", 3)])
    assert first.accepted == 2 and first.duplicates == [] and first.rejected == []
    again = ingest(
        session,
        contract,
        [
            event(contract, "e1", 5),  # a retry: same payload
            event(contract, "e2", 4),  # same id, other payload
            event(contract, "late", 1, at=T0 - timedelta(days=1)),  # before the contract
            event(contract, "future", 1, at=T0 + timedelta(minutes=6)),
            event(contract, "soon", 1, at=T0 + timedelta(minutes=4)),
            event(contract, "meter", 1, meter="other_meter"),
        ],
    )
    assert again.accepted == 1 and again.duplicates == ["e1"]
    reasons = {r["id"]: r["reason"].split(":")[0] for r in again.rejected}
    assert reasons == {
        "e2": "conflict",
        "late": "period_closed",
        "future": "in_future",
        "meter": "unknown_meter",
    }


def test_another_vendors_contract_is_refused(session: Session) -> None:
    contract = start_contract(session, usage_terms())
    other_vendor = vendor_actor(session)
    result = metering.ingest(
        session, vendor_id=other_vendor.organization.id, events=[event(contract, "x")], now=T0
    )
    assert result.rejected == [{"id": "x", "reason": "unknown_contract"}]


def test_a_subscription_contract_takes_no_usage(session: Session) -> None:
    contract = start_contract(session, subscription_terms(trial_days=0))
    result = ingest(session, contract, [event(contract, "x", meter="anything")])
    assert result.rejected[0]["reason"] == "not_usage_billed"


def test_more_than_1000_events_is_refused(session: Session) -> None:
    contract = start_contract(session, usage_terms())
    with pytest.raises(ValueError):
        ingest(session, contract, [event(contract, f"e{i}") for i in range(1001)])


def test_spend_cap_warns_buyer_and_vendor_once(session: Session) -> None:
    from billing.models import Notification

    contract = start_contract(session, usage_terms(free_units=0), spend_cap_fen=10_000)
    ingest(session, contract, [event(contract, "a", 4_000)])  # 8,000 fen = 80%
    ingest(session, contract, [event(contract, "b", 100)])
    ingest(session, contract, [event(contract, "c", 2_000)])  # over 100%
    kinds = sorted(
        (n.organization_id == contract.buyer_id, n.kind)
        for n in session.scalars(sa.select(Notification))
        if n.kind.startswith("spend_cap")
    )
    assert kinds == [
        (False, "spend_cap_100"),
        (False, "spend_cap_80"),
        (True, "spend_cap_100"),
        (True, "spend_cap_80"),
    ]


# --- invoices, ledger, the billing run -------------------------------------------------


def test_usage_invoiced_in_arrears_with_tiers_and_cap(app: Flask, session: Session) -> None:
    contract = start_contract(session, usage_terms(free_units=1000, base_fee_fen=5000))
    ingest(session, contract, [event(contract, "a", 12_000)])
    session.commit()
    report = billing_run(app, T0 + timedelta(days=31))
    assert report.periods_closed == 1 and len(report.invoices) == 1
    (invoice,) = invoices_of(session, contract)
    # base 5,000 fen; units 1,001-10,000 at 2 fen; 10,001-12,000 at 1.5 fen (graduated)
    assert invoice.total_fen == 5000 + 18_000 + 3_000
    assert sum(line.amount_fen for line in invoice.lines) == invoice.total_fen
    assert invoice.tax_fen == sum(line.tax_fen for line in invoice.lines)
    assert invoice.status is InvoiceStatus.OPEN
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, contract.buyer_id) == invoice.total_fen
    assert ledger.unbalanced_transactions(session) == []


def test_billing_run_twice_creates_nothing_twice(app: Flask, session: Session) -> None:
    contract = start_contract(session, usage_terms())
    subscription = start_contract(session, subscription_terms(trial_days=0))
    ingest(session, contract, [event(contract, "a", 2_000)])
    session.commit()
    as_of = T0 + timedelta(days=65)
    first = billing_run(app, as_of)
    second = billing_run(app, as_of)
    assert first.periods_closed == 4 and second.periods_closed == 0 and second.invoices == []
    assert len(invoices_of(session, contract)) == 2  # January and February usage
    assert len(invoices_of(session, subscription)) == 3  # start + two renewals in advance


def test_trial_then_first_invoice(app: Flask, session: Session) -> None:
    contract = start_contract(session, subscription_terms(trial_days=14))
    assert contract.status is ContractStatus.TRIALING
    assert invoices_of(session, contract) == []
    session.commit()
    billing_run(app, T0 + timedelta(days=14))
    session.expire_all()
    assert contract.status is ContractStatus.ACTIVE
    (invoice,) = invoices_of(session, contract)
    assert invoice.period_start == T0 + timedelta(days=14)


def test_cancel_at_period_end_stops_renewals(app: Flask, session: Session) -> None:
    buyer = buyer_actor(session)
    contract = start_contract(session, subscription_terms(trial_days=0), buyer=buyer)
    contracts.cancel(session, contract, actor=buyer, at_period_end=True, now=T0)
    session.commit()
    billing_run(app, T0 + timedelta(days=90))
    session.expire_all()
    assert contract.status is ContractStatus.ENDED
    assert len(invoices_of(session, contract)) == 1


def test_plan_change_prorates_by_day(session: Session) -> None:
    buyer = buyer_actor(session)
    vendor = vendor_actor(session)
    from tests.catalog.factories import publish_solution

    solution = publish_solution(
        session,
        vendor,
        plans=[
            subscription_terms(name="基础版", price_fen=31_000, trial_days=0),
            subscription_terms(name="专业版", price_fen=62_000, trial_days=0),
        ],
    )
    basic, pro = solution.published.plans
    start = T0.replace(day=1)
    contract = start_contract(session, plan=basic, buyer=buyer, now=start)
    invoice = contracts.change_plan(
        session,
        contract,
        pro,
        actor=buyer,
        now=start + timedelta(days=10),
        commission_bp=COMMISSION_BP,
    )
    # January has 31 days; 21 remain: credit 21/31 of 310.00, charge 21/31 of 620.00.
    assert [line.amount_fen for line in invoice.lines] == [-21_000, 42_000]
    assert invoice.total_fen == 21_000


# Each example runs in its own savepoint that is rolled back, so sharing the app is safe.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(quantities=st.lists(st.integers(0, 50_000), min_size=1, max_size=5))
def test_every_ledger_transaction_sums_to_zero(app: Flask, quantities: list[int]) -> None:
    sessions = app.extensions["marketplace.db"].sessions
    with sessions() as session:
        nested = session.begin_nested()
        contract = start_contract(session, usage_terms(free_units=100, base_fee_fen=999))
        for i, quantity in enumerate(quantities):
            ingest(
                session, contract, [event(contract, f"q{i}", quantity, at=T0 + timedelta(days=i))]
            )
        invoice_rows = []
        period_end = contract.current_period_end
        from billing.run import close_period

        invoice_rows += close_period(session, contract, now=period_end, commission_bp=COMMISSION_BP)
        for invoice in invoice_rows:
            assert sum(line.amount_fen for line in invoice.lines) == invoice.total_fen
            assert invoice.subtotal_fen + invoice.tax_fen == invoice.total_fen
            if invoice.status is InvoiceStatus.OPEN:
                invoice_money.void(session, invoice, note="test")
        assert ledger.unbalanced_transactions(session) == []
        total = session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)))
        assert total == 0
        nested.rollback()


def test_illegal_invoice_transition(session: Session) -> None:
    contract = start_contract(session, subscription_terms(trial_days=0))
    (invoice,) = invoices_of(session, contract)
    invoice_money.void(session, invoice, note="mistake")
    with pytest.raises(IllegalTransition):
        invoices.transition(session, invoice, InvoiceStatus.PAID)


def test_invoice_numbers_are_sequential(session: Session) -> None:
    numbers = [
        invoices_of(session, start_contract(session, subscription_terms(trial_days=0)))[0].number
        for _ in range(3)
    ]
    serials = [int(n.rsplit("-", 1)[1]) for n in numbers]
    assert serials == [serials[0], serials[0] + 1, serials[0] + 2]
    assert all(n.startswith("INV-2026-") for n in numbers)


def test_unoffered_plan_cannot_be_started(session: Session) -> None:
    from marketplace.errors import DomainError
    from tests.catalog.factories import create_solution

    vendor = vendor_actor(session)
    draft = create_solution(session, vendor)
    with pytest.raises(DomainError):
        start_contract(session, plan=draft.revisions[0].plans[0])


def test_usage_quantity_sums_events(session: Session) -> None:
    contract = start_contract(session, usage_terms())
    ingest(session, contract, [event(contract, "a", "1.5"), event(contract, "b", "2.25")])
    quantity, _charge = metering.current_usage(session, contract)
    assert quantity == Decimal("3.75")


def test_refunding_an_overpayment_gives_back_the_credit_only(session: Session) -> None:
    from billing.payments import bank_transfers, refunds
    from tests.catalog.factories import operator_actor

    contract = start_contract(session, subscription_terms(trial_days=0, price_fen=10_000))
    (invoice,) = invoices_of(session, contract)
    operator = operator_actor(session)
    payment = bank_transfers.record_bank_transfer(
        session, invoice, amount_fen=15_000, reference="OVER-1", actor=operator, now=T0
    )
    vendor_before = ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id)
    refunds.refund(
        session, None, payment, amount_fen=5_000, reason="多付退回", actor=operator, now=T0
    )
    assert ledger.balance(session, ledger.BUYER_RECEIVABLE, contract.buyer_id) == 0
    assert ledger.balance(session, ledger.VENDOR_PAYABLE, contract.vendor_id) == vendor_before
    assert ledger.unbalanced_transactions(session) == []


def test_billing_notifications_are_emailed_when_smtp_is_configured(
    smtp, app: Flask, session: Session
) -> None:
    contract = start_contract(session, usage_terms(free_units=0), spend_cap_fen=2_500)
    with app.app_context():  # as in a request or a CLI command: mail settings come from the app
        ingest(session, contract, [event(contract, "big", 1_000)])  # 2,000 of 2,500 fen: 80%
    assert smtp.handler.messages == []  # queued in the outbox, sent by the worker
    assert outbox.drain(app).done == 2
    messages = smtp.wait_for(2)  # buyer and vendor owners
    assert len(messages) == 2
    assert all("80%" in message.get_content() for message in messages)
