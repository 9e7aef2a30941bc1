"""A card charge is never lost: the attempt is committed before Stripe is called, one per
invoice is in flight, a PaymentIntent whose request never finished is booked by its webhook
or by the reconciliation, and paying again never charges twice.

Against localstripe with real commits (tests/billing/conftest.py); a loopback proxy in
front of localstripe (tests/billing/holding_proxy.py) holds Stripe's answer so that the
test can look at the database while the request is still waiting for it.
"""

from __future__ import annotations

import contextlib
import re
import runpy
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
import stripe
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import card_attempts, invoices, ledger, reconciliation
from billing import run as billing_run
from billing.attempt_models import AttemptStatus, PaymentAttempt
from billing.ledger_models import LedgerTransaction
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus
from billing.payments import bank_transfers, card_payments, gateway
from catalog.models import Plan
from marketplace import create_app, services
from marketplace.audit import AuditEvent
from marketplace.config import Defaults, worker_timeout
from marketplace.db import utcnow
from marketplace.errors import Conflict
from marketplace.states import IllegalTransition
from tests.billing.conftest import LiveApp
from tests.billing.factories import buyer_actor, offered_plan, start_contract, subscription_terms
from tests.billing.holding_proxy import CONFIRM, CREATE, HoldingProxy
from tests.billing.test_payments_e2e import (
    DECLINED_WHEN_CHARGED,
    PRICE,
    VISA,
    assert_balanced,
    count,
    fresh,
    save_card,
    subscribe,
    wait_for_event,
)
from tests.catalog.factories import operator_actor
from tests.factories import login
from tests.stripe_server import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, free_port

RECEIVED = LedgerTransaction.kind == "payment.received"
LATER = timedelta(minutes=10)  # past card_attempts.STALE_AFTER: the request is long dead


# --- helpers -----------------------------------------------------------------------------


class Payer(threading.Thread):
    """``pay_by_card`` in a request of its own (a thread with its own session)."""

    def __init__(self, live: LiveApp, invoice_id: int) -> None:
        super().__init__(daemon=True)
        self.live, self.invoice_id = live, invoice_id
        self.status: PaymentStatus | None = None
        self.error: Exception | None = None

    def run(self) -> None:
        with self.live.sessions() as session:
            try:
                invoice = session.get_one(Invoice, self.invoice_id)
                result = card_payments.pay_by_card(
                    session, self.live.stripe(), invoice, now=utcnow()
                )
                session.commit()
                self.status = result.payment.status
            except Exception as exc:  # reported to the test
                self.error = exc

    def result(self) -> PaymentStatus:
        self.join(30)
        assert not self.is_alive(), "the payment did not finish"
        assert self.error is None, repr(self.error)
        assert self.status is not None
        return self.status


@contextlib.contextmanager
def holding(live: LiveApp, hold: re.Pattern[str] = CONFIRM) -> Iterator[HoldingProxy]:
    """The app talks to localstripe through a proxy that holds the answer to ``hold``."""
    direct = live.app.config["STRIPE_API_BASE"]
    with HoldingProxy(live.stripe_server.api_base, hold=hold) as proxy:
        live.app.config["STRIPE_API_BASE"] = proxy.url
        try:
            yield proxy
        finally:
            live.app.config["STRIPE_API_BASE"] = direct


def assert_invoice_not_locked(live: LiveApp, invoice_id: int) -> None:
    """Nobody holds the invoice's row (PostgreSQL) or the database's write lock (SQLite):
    a paying request waits for Stripe with no transaction open."""
    engine = live.app.extensions["marketplace.db"].engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            locked = sa.select(Invoice.id).where(Invoice.id == invoice_id)
            connection.execute(locked.with_for_update(nowait=True)).one()
            connection.rollback()
        return
    writer = sqlite3.connect(engine.url.database, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")  # "database is locked" at once if a writer is in
        writer.rollback()
    finally:
        writer.close()


def attempts(session: Session) -> list[PaymentAttempt]:
    return list(session.scalars(sa.select(PaymentAttempt).order_by(PaymentAttempt.id)))


def audit_actions(session: Session, invoice_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(AuditEvent.action)
            .where(
                AuditEvent.subject_type == "invoice",
                AuditEvent.subject_id == str(invoice_id),
                AuditEvent.action.like("payment.attempt_%"),
            )
            .order_by(AuditEvent.id)
        )
    )


def intents_of(client: stripe.StripeClient, customer_id: str) -> list[Any]:
    """Every PaymentIntent of the customer at localstripe (it cannot filter by customer)."""
    found = client.v1.payment_intents.list({"limit": 100})
    return [i for i in found.auto_paging_iter() if i.customer == customer_id]


def assert_paid_once(live: LiveApp, invoice_id: int, customer_id: str) -> None:
    """One succeeded charge at Stripe, one booked payment, the invoice paid, the ledger
    balanced and nothing left receivable from the buyer."""
    charged = [i for i in intents_of(live.stripe(), customer_id) if i.status == "succeeded"]
    assert len(charged) == 1, charged
    with fresh(live) as session:
        invoice = session.get_one(Invoice, invoice_id)
        assert invoice.status is InvoiceStatus.PAID
        booked = [p for p in invoice.payments if p.status is PaymentStatus.SUCCEEDED]
        assert [p.stripe_payment_intent_id for p in booked] == [charged[0].id]
        assert count(session, LedgerTransaction, RECEIVED) == 1
        assert ledger.balance(session, ledger.BUYER_RECEIVABLE, invoice.buyer_id) == 0
        assert ledger.balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert_balanced(session)


def api_client(live: LiveApp, session: Session, buyer: Any) -> tuple[Any, dict[str, str]]:
    _record, token = services.create_token(
        session, user=buyer.user, organization=buyer.organization, name="pay"
    )
    session.commit()
    return live.app.test_client(), {"Authorization": f"Bearer {token}"}


# --- the attempt comes first ---------------------------------------------------------------


@pytest.mark.parametrize("held", ["create", "confirm"])
def test_the_attempt_is_committed_before_stripe_is_called_and_no_lock_is_held(
    live_app: LiveApp, live_session: Session, held: str
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    with holding(live_app, CREATE if held == "create" else CONFIRM) as proxy:
        payer = Payer(live_app, invoice_id)
        payer.start()
        proxy.wait_until_held()
        # Stripe has answered, the request has not heard it: what a death now leaves.
        with fresh(live_app) as session:
            (attempt,) = attempts(session)
            assert (attempt.invoice_id, attempt.amount_fen) == (invoice_id, PRICE)
            assert attempt.customer_id == card.customer_id
            if held == "create":  # nothing at Stripe yet that could charge
                assert attempt.status is AttemptStatus.STARTED
                assert attempt.stripe_payment_intent_id is None
                assert count(session, Payment) == 0
            else:  # the intent's id was committed before it was confirmed
                assert attempt.status is AttemptStatus.CONFIRMING
                (payment,) = session.scalars(sa.select(Payment))
                assert payment.status is PaymentStatus.PROCESSING
                assert attempt.payment_id == payment.id
                assert payment.stripe_payment_intent_id == attempt.stripe_payment_intent_id
            assert audit_actions(session, invoice_id) == ["payment.attempt_started"]
        assert_invoice_not_locked(live_app, invoice_id)
        proxy.release()
        assert payer.result() is PaymentStatus.SUCCEEDED

    assert_paid_once(live_app, invoice_id, card.customer_id)
    with fresh(live_app) as session:
        (attempt,) = attempts(session)
        assert attempt.status is AttemptStatus.SUCCEEDED and attempt.finished_at is not None
        assert audit_actions(session, invoice_id) == [
            "payment.attempt_started",
            "payment.attempt_succeeded",
        ]
        intent = live_app.stripe().v1.payment_intents.retrieve(attempt.stripe_payment_intent_id)
        assert intent.metadata[card_attempts.METADATA_KEY] == str(attempt.id)
        assert intent.metadata["invoice_id"] == str(invoice_id)


def test_stripe_unreachable_leaves_a_failed_attempt_and_the_next_pay_charges_once(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    reachable = live_app.app.config["STRIPE_API_BASE"]
    live_app.app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nobody there
    with pytest.raises(gateway.PaymentUnavailable):
        card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.rollback()  # the request boundary rolls back on a 503
    with fresh(live_app) as session:
        (failed,) = attempts(session)
        assert (failed.status, failed.failure_code) == (AttemptStatus.FAILED, "unreachable")
        assert count(session, Payment) == 0
        assert session.get_one(Invoice, invoice_id).status is InvoiceStatus.OPEN
        assert audit_actions(session, invoice_id) == [
            "payment.attempt_started",
            "payment.attempt_failed",
        ]

    live_app.app.config["STRIPE_API_BASE"] = reachable
    invoice = live_session.get_one(Invoice, invoice_id)
    assert card_payments.pay_by_card(
        live_session, live_app.stripe(), invoice, now=utcnow()
    ).succeeded
    live_session.commit()
    assert_paid_once(live_app, invoice_id, card.customer_id)
    assert len(intents_of(live_app.stripe(), card.customer_id)) == 1
    with fresh(live_app) as session:
        assert [a.status for a in attempts(session)] == [
            AttemptStatus.FAILED,
            AttemptStatus.SUCCEEDED,
        ]


def test_a_second_pay_while_one_is_in_flight_is_refused_and_charges_nothing(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    api, bearer = api_client(live_app, live_session, buyer)
    page = live_app.app.test_client()
    login(page, buyer.user)
    page.post("/language", data={"lang": "en"})
    with holding(live_app) as proxy:
        first = Payer(live_app, invoice_id)
        first.start()
        proxy.wait_until_held()  # the first is being confirmed: it may charge any moment

        answer = api.post(
            f"/api/v1/invoices/{invoice_id}/pay", json={"method": "card"}, headers=bearer
        )
        assert answer.status_code == 409, answer.get_json()
        error = answer.get_json()["error"]
        assert error["code"] == "payment_in_progress"
        assert "正在处理中，未再次扣款" in error["message"]  # the API answers in Chinese
        clicked = page.post(f"/billing/invoices/{invoice_id}/pay/card", follow_redirects=True)
        assert "already in progress; nothing more was charged" in clicked.get_data(as_text=True)
        with fresh(live_app) as session, pytest.raises(card_attempts.AttemptInFlight):
            # nor could the billing run's retry, or another host, start one
            card_payments.pay_by_card(
                session, live_app.stripe(), session.get_one(Invoice, invoice_id), now=utcnow()
            )
        proxy.release()
        assert first.result() is PaymentStatus.SUCCEEDED

    assert len(intents_of(live_app.stripe(), card.customer_id)) == 1
    assert_paid_once(live_app, invoice_id, card.customer_id)


def test_two_pays_at_once_charge_once(live_app: LiveApp, live_session: Session):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        with live_app.sessions() as session:
            start.wait(5)
            try:
                result = card_payments.pay_by_card(
                    session, live_app.stripe(), session.get_one(Invoice, invoice_id), now=utcnow()
                )
                session.commit()
                outcomes.append(result.payment.status.value)
            except card_attempts.AttemptInFlight:
                outcomes.append("in progress")
            except Conflict:
                outcomes.append("nothing due")

    clicks = [threading.Thread(target=click) for _ in range(2)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join(30)
    assert sorted(outcomes) in (["in progress", "succeeded"], ["nothing due", "succeeded"])
    assert len(intents_of(live_app.stripe(), card.customer_id)) == 1
    assert_paid_once(live_app, invoice_id, card.customer_id)


def test_the_database_holds_one_attempt_in_flight_per_invoice(session: Session):
    buyer = buyer_actor(session)
    contract = start_contract(session, subscription_terms(trial_days=0), buyer=buyer)
    (invoice,) = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id))

    def attempt(status: AttemptStatus) -> PaymentAttempt:
        row = PaymentAttempt(
            invoice_id=invoice.id,
            buyer_id=invoice.buyer_id,
            amount_fen=invoice.total_fen,
            customer_id="cus_x",
            status=status,
        )
        session.add(row)
        session.flush()
        return row

    first = attempt(AttemptStatus.FAILED)
    second = attempt(AttemptStatus.CONFIRMING)  # finished ones do not count
    for status in (AttemptStatus.STARTED, AttemptStatus.REQUIRES_ACTION):
        with pytest.raises(IntegrityError), session.begin_nested():
            attempt(status)
    second.move(AttemptStatus.SUCCEEDED, now=utcnow())
    session.flush()
    attempt(AttemptStatus.STARTED)  # the next one may start
    with pytest.raises(IllegalTransition):
        first.move(AttemptStatus.SUCCEEDED, now=utcnow())
    with pytest.raises(IllegalTransition):
        second.move(AttemptStatus.FAILED, now=utcnow())


# --- the webhook books what the request never did --------------------------------------------


def test_the_webhook_books_a_charge_whose_request_is_still_waiting(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    with holding(live_app) as proxy:
        payer = Payer(live_app, invoice_id)
        payer.start()
        proxy.wait_until_held()
        with fresh(live_app) as session:
            (attempt,) = attempts(session)
            intent_id = attempt.stripe_payment_intent_id
        wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
        assert payer.is_alive()  # booked while the request still waits for Stripe's answer
        assert_paid_once(live_app, invoice_id, card.customer_id)
        with fresh(live_app) as session:
            assert [a.status for a in attempts(session)] == [AttemptStatus.SUCCEEDED]
        proxy.release()
        assert payer.result() is PaymentStatus.SUCCEEDED  # its late answer books nothing more
    assert_paid_once(live_app, invoice_id, card.customer_id)


def test_an_answer_lost_to_the_sdk_timeout_leaves_the_payment_processing_until_its_webhook(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    api, bearer = api_client(live_app, live_session, buyer)
    live_app.app.config["STRIPE_TIMEOUT_SECONDS"] = 1.0
    with holding(live_app):
        answer = api.post(
            f"/api/v1/invoices/{invoice_id}/pay", json={"method": "card"}, headers=bearer
        )
        assert answer.status_code == 200, answer.get_json()
        body = answer.get_json()
        assert body["payment_status"] == "processing" and body["invoice"]["status"] == "open"
        with fresh(live_app) as session:
            (attempt,) = attempts(session)
            # Still in flight, unless the webhook (sent by localstripe as it charged, not
            # held by the proxy) has booked it already.
            assert attempt.status in (AttemptStatus.CONFIRMING, AttemptStatus.SUCCEEDED)
            intent_id = attempt.stripe_payment_intent_id
        wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
        again = api.post(
            f"/api/v1/invoices/{invoice_id}/pay", json={"method": "card"}, headers=bearer
        )
        assert again.status_code == 409, again.get_json()
        assert again.get_json()["error"]["code"] == "conflict"  # paid: not open any more
    assert_paid_once(live_app, invoice_id, card.customer_id)
    assert len(intents_of(live_app.stripe(), card.customer_id)) == 1


def test_the_webhook_finds_an_attempt_by_the_id_in_the_intents_metadata(
    live_app: LiveApp, live_session: Session
):
    """The request died after Stripe made the PaymentIntent, before its id was recorded."""
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    card = save_card(live_app, live_session, buyer, VISA)
    attempt = card_attempts.start(
        live_session, invoice, amount_fen=PRICE, customer_id=card.customer_id, off_session=True
    )
    live_session.commit()
    stranger = SimpleNamespace(
        id="pi_someone_else",
        customer=card.customer_id,
        amount=PRICE - 1,  # not what this attempt charges
        metadata={card_attempts.METADATA_KEY: str(attempt.id)},
    )
    assert card_attempts.attempt_for_intent(live_session, stranger) is None
    live_session.rollback()

    client = live_app.stripe()
    intent = client.v1.payment_intents.create(
        {
            "amount": PRICE,
            "currency": gateway.CURRENCY,
            "customer": card.customer_id,
            "payment_method": card.payment_method_id,
            "metadata": {card_attempts.METADATA_KEY: str(attempt.id)},
        }
    )
    client.v1.payment_intents.confirm(intent.id)
    wait_for_event(live_app, live_session, "payment_intent.succeeded", intent.id)
    assert_paid_once(live_app, invoice_id, card.customer_id)
    with fresh(live_app) as session:
        (settled,) = attempts(session)
        assert settled.status is AttemptStatus.SUCCEEDED
        assert settled.stripe_payment_intent_id == intent.id
        assert settled.payment is not None and settled.payment.amount_fen == PRICE


# --- reconciliation ------------------------------------------------------------------------


@pytest.fixture
def quiet_app(
    live_database_url: str, stripe_server: LocalStripe, tmp_path: Path
) -> Iterator[LiveApp]:
    """The app on its own database with no webhook: only the reconciliation can learn what
    Stripe did."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": live_database_url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SEARCH_INDEX_DIR": str(tmp_path / "index"),
            "STRIPE_SECRET_KEY": SECRET_KEY,
            "STRIPE_PUBLISHABLE_KEY": PUBLISHABLE_KEY,
            "STRIPE_API_BASE": stripe_server.api_base,
        }
    )
    app.extensions["catalog.search"].create()
    yield LiveApp(app, None, stripe_server, "")  # type: ignore[arg-type]
    app.extensions["marketplace.db"].engine.dispose()


@pytest.fixture
def quiet_session(quiet_app: LiveApp) -> Iterator[Session]:
    """For setting up (``live_session`` would serve the database with webhooks)."""
    with quiet_app.sessions() as session:
        yield session


def left_in_flight(
    live: LiveApp, session: Session, card_number: str, *, record: bool, confirm: bool, create=True
) -> tuple[int, str]:
    """What a request that died leaves: an attempt, maybe its PaymentIntent (recorded or
    not), maybe confirmed. Returns the invoice's and the customer's ids."""
    buyer, invoice = subscribe(session)
    card = save_card(live, session, buyer, card_number)
    attempt = card_attempts.start(
        session, invoice, amount_fen=PRICE, customer_id=card.customer_id, off_session=True
    )
    session.commit()
    client = live.stripe()
    if create:
        intent = client.v1.payment_intents.create(
            {
                "amount": PRICE,
                "currency": gateway.CURRENCY,
                "customer": card.customer_id,
                "payment_method": card.payment_method_id,
                "metadata": {card_attempts.METADATA_KEY: str(attempt.id)},
            },
            {"idempotency_key": attempt.idempotency_key},
        )
        if record:
            card_attempts.record_intent(session, attempt, intent.id)
            session.commit()
        if confirm:
            with contextlib.suppress(stripe.CardError):  # declined
                client.v1.payment_intents.confirm(intent.id)
    return invoice.id, card.customer_id


def test_reconciliation_books_fails_and_cancels_stale_attempts(
    quiet_app: LiveApp, quiet_session: Session
):
    live = quiet_app
    charged, charged_customer = left_in_flight(live, quiet_session, VISA, record=True, confirm=True)
    declined, _ = left_in_flight(
        live, quiet_session, DECLINED_WHEN_CHARGED, record=True, confirm=True
    )
    unconfirmed, unconfirmed_customer = left_in_flight(
        live, quiet_session, VISA, record=True, confirm=False
    )
    unrecorded, unrecorded_customer = left_in_flight(
        live, quiet_session, VISA, record=False, confirm=False
    )
    never_created, _ = left_in_flight(
        live, quiet_session, VISA, record=False, confirm=False, create=False
    )
    fresh_one, _ = left_in_flight(live, quiet_session, VISA, record=True, confirm=False)

    report = reconciliation.reconcile(live.sessions, live.stripe(), now=utcnow())
    assert report.checked == 0  # nothing stale yet: their requests may still be working
    with fresh(live) as session:  # the last one was started just now
        stale_ids = [a.id for a in attempts(session) if a.invoice_id != fresh_one]
        session.execute(
            sa.update(PaymentAttempt)
            .where(PaymentAttempt.id.in_(stale_ids))
            .values(updated_at=utcnow() - LATER)
        )
        session.commit()

    report = reconciliation.reconcile(live.sessions, live.stripe(), now=utcnow())
    assert (report.checked, report.errors) == (5, 0)
    assert report.outcomes == {"succeeded": 1, "failed": 1, "canceled": 3}
    assert_paid_once(live, charged, charged_customer)
    client = live.stripe()
    with fresh(live) as session:
        by_invoice = {a.invoice_id: a for a in attempts(session)}
        assert by_invoice[charged].status is AttemptStatus.SUCCEEDED
        assert by_invoice[declined].status is AttemptStatus.FAILED
        assert by_invoice[declined].payment.failure_message == "Your card was declined."
        for invoice_id, customer in (
            (unconfirmed, unconfirmed_customer),
            (unrecorded, unrecorded_customer),
        ):
            attempt = by_invoice[invoice_id]
            assert (attempt.status, attempt.failure_code) == (AttemptStatus.CANCELED, "abandoned")
            assert attempt.payment.status is PaymentStatus.FAILED
            (intent,) = intents_of(client, customer)
            assert intent.status == "canceled"  # it can never charge now
            assert intent.id == attempt.stripe_payment_intent_id
        gone = by_invoice[never_created]
        assert (gone.status, gone.failure_code) == (AttemptStatus.CANCELED, "not_created")
        assert gone.payment is None
        assert by_invoice[fresh_one].status is AttemptStatus.CONFIRMING  # untouched
        for invoice_id in (declined, unconfirmed, unrecorded, never_created):
            invoice = session.get_one(Invoice, invoice_id)
            assert invoice.status is InvoiceStatus.OPEN
            assert invoices.amount_due(invoice) == PRICE
        assert count(session, LedgerTransaction, RECEIVED) == 1
        assert_balanced(session)
    again = reconciliation.reconcile(live.sessions, live.stripe(), now=utcnow() + LATER)
    assert again.checked == 1 and again.outcomes == {"canceled": 1}  # only the fresh one
    assert_paid_once(live, charged, charged_customer)


def test_the_billing_run_reconciles_before_it_retries_cards(
    quiet_app: LiveApp, quiet_session: Session
):
    """A card retry of an invoice whose charge was made by a request that died books that
    charge instead of making a second one."""
    live = quiet_app
    invoice_id, customer = left_in_flight(live, quiet_session, VISA, record=True, confirm=True)
    with fresh(live) as session:
        session.execute(sa.update(PaymentAttempt).values(updated_at=utcnow() - LATER))
        invoice = session.get_one(Invoice, invoice_id)
        invoice.next_attempt_at = invoice.issued_at  # its card retry is due
        session.commit()
        as_of = invoice.issued_at
    report = billing_run.run(
        live.sessions,
        as_of=as_of,
        commission_bp=1000,
        charge=live.app.extensions["billing.charge"],
        reconcile=reconciliation.for_billing_run(live.app),
    )
    assert (report.attempts_reconciled, report.payment_attempts) == (1, 0)
    assert_paid_once(live, invoice_id, customer)
    assert len(intents_of(live.stripe(), customer)) == 1


# --- the amount ---------------------------------------------------------------------------


# Examples share the test's rolled-back transaction; each has a buyer and an invoice of its own.
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(transferred=st.integers(1, PRICE - 1))
def test_the_card_charges_exactly_what_a_partial_transfer_left(
    app: Flask, stripe_server: LocalStripe, transferred: int
):
    app.config.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_API_BASE=stripe_server.api_base)
    live = LiveApp(app, None, stripe_server, "")  # type: ignore[arg-type]
    with live.sessions() as session:
        if "tests.plan_id" not in app.extensions:  # one listing: each publish reindexes
            app.extensions["tests.plan_id"] = offered_plan(
                session, subscription_terms(trial_days=0)
            ).id
        buyer = buyer_actor(session)
        plan = session.get_one(Plan, app.extensions["tests.plan_id"])
        contract = start_contract(session, plan=plan, buyer=buyer)
        (invoice,) = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id))
        save_card(live, session, buyer, VISA)
        bank_transfers.record_bank_transfer(
            session,
            invoice,
            amount_fen=transferred,
            reference=f"ICBC-{uuid.uuid4().hex[:12]}",
            actor=operator_actor(session),
            now=utcnow(),
        )
        clearing = ledger.balance(session, ledger.STRIPE_CLEARING)
        result = card_payments.pay_by_card(session, live.stripe(), invoice, now=utcnow())
        session.commit()
        left = PRICE - transferred
        assert result.succeeded and result.payment.amount_fen == left
        (attempt,) = session.scalars(
            sa.select(PaymentAttempt).where(PaymentAttempt.invoice_id == invoice.id)
        )
        assert attempt.amount_fen == left
        intent = live.stripe().v1.payment_intents.retrieve(attempt.stripe_payment_intent_id)
        assert (intent.amount, intent.status) == (left, "succeeded")
        assert invoice.status is InvoiceStatus.PAID and invoices.amount_due(invoice) == 0
        assert ledger.balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0
        assert ledger.balance(session, ledger.STRIPE_CLEARING) == clearing + left
        assert ledger.unbalanced_transactions(session) == []


# --- the timeouts --------------------------------------------------------------------------


def test_the_stripe_timeout_ends_every_call_before_gunicorn_kills_the_worker(app: Flask):
    config = dict(app.config)
    gateway.check_timeouts(config)  # the defaults hold
    budget = gateway.CALLS_PER_PAYMENT * 2 * Defaults.STRIPE_TIMEOUT_SECONDS  # real Stripe
    assert budget < Defaults.WORKER_TIMEOUT_SECONDS == worker_timeout({})
    assert card_attempts.STALE_AFTER.total_seconds() > Defaults.WORKER_TIMEOUT_SECONDS
    with pytest.raises(ValueError, match="WORKER_TIMEOUT_SECONDS"):
        gateway.check_timeouts({**config, "STRIPE_TIMEOUT_SECONDS": 80})  # the SDK's default
    with pytest.raises(ValueError, match="WORKER_TIMEOUT_SECONDS"):
        create_app({**config, "STRIPE_TIMEOUT_SECONDS": 30.0})  # refused at app start
    assert worker_timeout({"MARKETPLACE_WORKER_TIMEOUT_SECONDS": "90"}) == 90

    app.config.update(STRIPE_SECRET_KEY=SECRET_KEY, STRIPE_TIMEOUT_SECONDS=2.5)
    client = gateway.stripe_client(app)
    assert client is not None
    assert client._requestor._client._timeout == 2.5  # the SDK's requests client

    gunicorn_conf = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    assert gunicorn_conf["timeout"] == Defaults.WORKER_TIMEOUT_SECONDS
