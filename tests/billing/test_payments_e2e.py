"""Card and bank-transfer payments end to end: the billing code against localstripe, with
localstripe's signed webhooks arriving at the app served live on its own database.

Setup data is committed for real (``live_session``); every check reads through a fresh
session, as the next request would. localstripe sends each webhook once, one second after
the event (tests/billing/LOCALSTRIPE.md).
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
import stripe
from sqlalchemy.orm import Session

from billing import invoices, ledger, notify, run
from billing.ledger_models import LedgerEntry, LedgerTransaction
from billing.metering import events as metering
from billing.models import Contract, ContractStatus, Invoice, InvoiceStatus, Notification
from billing.payment_models import Payment, PaymentStatus, Refund, StripeCustomer, WebhookEvent
from billing.payments import bank_transfers, card_payments, gateway, saved_cards
from billing.payments.refunds import refund
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError
from marketplace.jsonapi import Actor
from tests.billing.conftest import WEBHOOK_PATH, LiveApp
from tests.billing.factories import (
    COMMISSION_BP,
    T0,
    buyer_actor,
    event,
    offered_plan,
    start_contract,
    subscription_terms,
    usage_terms,
)
from tests.catalog.factories import operator_actor, vendor_actor
from tests.live_server import Served
from tests.stripe_server import free_port

VISA = "4242424242424242"
DECLINED_WHEN_SAVED = "4000000000000002"  # localstripe refuses it on the SetupIntent
DECLINED_WHEN_CHARGED = "4000000000000341"  # saves fine, every charge is declined
THREE_D_SECURE = "4000002760003184"
PRICE = 99_900  # the subscription factory's monthly price, in fen


# --- helpers -----------------------------------------------------------------------------


@contextmanager
def fresh(live: LiveApp) -> Iterator[Session]:
    """A new session, as the next request would have; closed (and its lock released)."""
    with live.sessions() as session:
        yield session


def subscribe(session: Session) -> tuple[Actor, Invoice]:
    """A buyer starts a subscription without trial: its first period is invoiced at once."""
    buyer = buyer_actor(session)
    contract = start_contract(session, subscription_terms(trial_days=0), buyer=buyer)
    (invoice,) = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id))
    session.commit()
    return buyer, invoice


def new_card(client: stripe.StripeClient, number: str) -> str:
    """A PaymentMethod from a raw test number (what Stripe.js makes in the browser)."""
    card = {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}
    return client.v1.payment_methods.create({"type": "card", "card": card}).id


def confirm_setup(live: LiveApp, session: Session, buyer: Actor, number: str) -> str:
    """The card form: ``begin_card_setup`` gives Stripe.js a SetupIntent's client secret,
    which confirms it with the card typed in. Returns the SetupIntent's id."""
    client_secret = saved_cards.begin_card_setup(session, live.stripe(), buyer.organization)
    session.commit()
    setup_intent_id = client_secret.split("_secret_")[0]
    client = live.stripe()
    intent = client.v1.setup_intents.confirm(
        setup_intent_id, {"payment_method": new_card(client, number)}
    )
    if intent.status == "requires_action":  # 3-D Secure: the fake Stripe.js' "Complete"
        intent = client.v1.setup_intents.confirm(setup_intent_id)
    assert intent.status == "succeeded"
    return setup_intent_id


def save_card(live: LiveApp, session: Session, buyer: Actor, number: str) -> StripeCustomer:
    setup_intent_id = confirm_setup(live, session, buyer, number)
    record = saved_cards.finish_card_setup(
        session, live.stripe(), buyer.organization, setup_intent_id, actor=buyer
    )
    session.commit()
    assert record.card_last4 == number[-4:]
    return record


def authenticate(live: LiveApp, intent_id: str, client_secret: str, *, success: bool) -> None:
    """The buyer's answer on the 3-D Secure page (what localstripe's Stripe.js posts)."""
    client = live.stripe()
    client.raw_request(
        "post",
        f"/v1/payment_intents/{intent_id}/_authenticate",
        client_secret=client_secret,
        success="true" if success else "false",
    )


def wait_for_event(
    live: LiveApp, session: Session, event_type: str, object_id: str, timeout: float = 10.0
) -> WebhookEvent:
    """Poll until localstripe's webhook about ``object_id`` is recorded by the live app."""
    session.commit()  # end the setup session's transaction: SQLite would lock the webhook out
    deadline = time.monotonic() + timeout
    while True:
        with fresh(live) as check:
            for row in check.scalars(
                sa.select(WebhookEvent).where(WebhookEvent.type == event_type)
            ):
                if row.payload["data"]["object"]["id"] == object_id:
                    return row
        if time.monotonic() > deadline:
            served = [(r.status, r.body[:200]) for r in live.server.requests_to(WEBHOOK_PATH)]
            raise AssertionError(
                f"no {event_type} webhook for {object_id} within {timeout} s; served: {served}\n"
                + live.stripe_server.log_text()[-2000:]
            )
        time.sleep(0.1)


def delivery(live: LiveApp, event_id: str, timeout: float = 5.0) -> Served:
    """The request localstripe made to deliver ``event_id`` (the server records it just
    after the app has answered, so it may lag the database by a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        served = [
            r for r in live.server.requests_to(WEBHOOK_PATH) if json.loads(r.body)["id"] == event_id
        ]
        if served or time.monotonic() > deadline:
            (found,) = served
            return found
        time.sleep(0.02)


def post_webhook(live: LiveApp, body: bytes, signature: str | None) -> tuple[int, dict]:
    """POST to the live webhook endpoint with plain http.client (no proxy, no requests)."""
    url = urlsplit(live.webhook_url)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if signature is not None:
        headers["Stripe-Signature"] = signature
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request("POST", url.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def balance(session: Session, account: str, org_id: int | None = None) -> int:
    return ledger.balance(session, account, org_id)


def assert_balanced(session: Session) -> None:
    assert ledger.unbalanced_transactions(session) == []
    assert session.scalar(sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0))) == 0


def count(session: Session, model: type, *where: sa.ColumnElement[bool]) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0


def snapshot(live: LiveApp, intent_id: str) -> dict[str, object]:
    """Everything a webhook about ``intent_id`` could change. (Other events, e.g. the
    customer.updated of saving the card, may still arrive: deliveries are unordered.)"""
    with fresh(live) as session:
        return {
            "payments": sorted(
                (p.id, p.status.value, p.amount_fen) for p in session.scalars(sa.select(Payment))
            ),
            "invoices": sorted((i.id, i.status.value) for i in session.scalars(sa.select(Invoice))),
            "ledger_transactions": count(session, LedgerTransaction),
            "ledger_entries": count(session, LedgerEntry),
            "notifications": count(session, Notification),
            "webhook_events": sorted(
                e.event_id
                for e in session.scalars(sa.select(WebhookEvent))
                if e.payload["data"]["object"].get("id") == intent_id
            ),
        }


def kinds(session: Session, org_id: int) -> list[str]:
    return sorted(
        session.scalars(sa.select(Notification.kind).where(Notification.organization_id == org_id))
    )


# --- card payments -----------------------------------------------------------------------


def test_subscribe_invoice_pay_by_card_webhook_paid(live_app: LiveApp, live_session: Session):
    buyer, invoice = subscribe(live_session)
    assert invoice.status is InvoiceStatus.OPEN
    assert invoices.amount_due(invoice) == invoice.total_fen == PRICE
    card = save_card(live_app, live_session, buyer, VISA)
    assert card.card_brand == "visa" and card.card_exp == "12/2030"

    result = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert result.succeeded and result.client_secret is None
    intent_id = result.payment.stripe_payment_intent_id

    recorded = wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
    served = delivery(live_app, recorded.event_id)
    assert served.status == 200 and served.headers["Stripe-Signature"].startswith("t=")
    assert json.loads(served.response) == {"received": True, "duplicate": False}

    with fresh(live_app) as session:
        paid = session.get(Invoice, invoice.id)
        assert paid.status is InvoiceStatus.PAID and invoices.amount_due(paid) == 0
        assert [(p.status, p.amount_fen) for p in paid.payments] == [
            (PaymentStatus.SUCCEEDED, PRICE)
        ]
        received = LedgerTransaction.kind == "payment.received"
        assert count(session, LedgerTransaction, received) == 1
        assert_balanced(session)
        assert balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0
        assert balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert "payment_succeeded" in kinds(session, buyer.organization.id)

    intent = live_app.stripe().v1.payment_intents.retrieve(intent_id)
    assert (intent.status, intent.amount, intent.currency) == ("succeeded", PRICE, "cny")
    assert intent.customer == card.customer_id and intent.payment_method == card.payment_method_id
    assert intent.metadata["invoice_number"] == invoice.number


def test_declined_card_leaves_the_invoice_open_with_the_reason(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    save_card(live_app, live_session, buyer, DECLINED_WHEN_CHARGED)

    result = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert not result.succeeded and not result.needs_action
    assert result.payment.status is PaymentStatus.FAILED
    assert result.payment.failure_code == "card_declined"
    assert result.payment.failure_message == "Your card was declined."
    intent_id = result.payment.stripe_payment_intent_id

    # localstripe also sends payment_intent.payment_failed: applying it changes nothing more
    wait_for_event(live_app, live_session, "payment_intent.payment_failed", intent_id)
    with fresh(live_app) as session:
        still_open = session.get(Invoice, invoice.id)
        assert still_open.status is InvoiceStatus.OPEN
        assert invoices.amount_due(still_open) == PRICE
        assert [p.status for p in still_open.payments] == [PaymentStatus.FAILED]
        (failed,) = session.scalars(
            sa.select(Notification).where(
                Notification.organization_id == buyer.organization.id,
                Notification.kind == "payment_failed",
            )
        )
        assert invoice.number in notify.message(failed)
        assert "Your card was declined." in notify.message(failed)
        assert balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == PRICE
        assert balance(session, ledger.STRIPE_CLEARING) == 0
        assert_balanced(session)


def test_a_card_declined_when_saved_is_not_kept(live_app: LiveApp, live_session: Session):
    buyer, invoice = subscribe(live_session)
    org_id = buyer.organization.id  # ids kept: a rollback expires the objects
    client = live_app.stripe()
    client_secret = saved_cards.begin_card_setup(live_session, client, buyer.organization)
    live_session.commit()
    setup_intent_id = client_secret.split("_secret_")[0]

    with pytest.raises(stripe.CardError) as declined:  # what Stripe.js shows in the form
        client.v1.setup_intents.confirm(
            setup_intent_id, {"payment_method": new_card(client, DECLINED_WHEN_SAVED)}
        )
    assert declined.value.code == "card_declined"
    assert declined.value.user_message == "Your card was declined."

    with pytest.raises(DomainError, match="not confirmed") as refused:
        saved_cards.finish_card_setup(
            live_session, client, buyer.organization, setup_intent_id, actor=buyer
        )
    assert refused.value.field == "setup_intent"
    live_session.rollback()
    with pytest.raises(DomainError, match="Save a card first"):
        card_payments.pay_by_card(live_session, client, invoice, now=utcnow())
    live_session.rollback()

    with fresh(live_app) as session:
        record = session.get(StripeCustomer, org_id)
        assert record is not None and record.payment_method_id is None
        assert record.card_last4 is None
        assert count(session, Payment) == 0


@pytest.mark.parametrize("authenticated", [True, False], ids=["authenticated", "refused"])
def test_three_d_secure(live_app: LiveApp, live_session: Session, authenticated: bool):
    buyer, invoice = subscribe(live_session)
    save_card(live_app, live_session, buyer, THREE_D_SECURE)

    result = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert result.needs_action and result.payment.status is PaymentStatus.REQUIRES_ACTION
    intent_id = result.payment.stripe_payment_intent_id
    assert result.client_secret and result.client_secret.startswith(f"{intent_id}_secret_")
    # Asking again (the buyer reloads the page) gives the same pending payment.
    again = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert again.payment.id == result.payment.id and again.client_secret == result.client_secret

    authenticate(live_app, intent_id, result.client_secret, success=authenticated)

    if authenticated:
        wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
        with fresh(live_app) as session:
            paid = session.get(Invoice, invoice.id)
            assert paid.status is InvoiceStatus.PAID
            assert [p.status for p in paid.payments] == [PaymentStatus.SUCCEEDED]
            assert balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0
            assert balance(session, ledger.STRIPE_CLEARING) == PRICE
            assert_balanced(session)
        return

    # A failed authentication sends no webhook on localstripe (Stripe sends payment_failed):
    # the invoice stays open, and paying again finds out and starts a new attempt.
    with fresh(live_app) as session:
        assert session.get(Invoice, invoice.id).status is InvoiceStatus.OPEN
    retry = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert retry.needs_action and retry.payment.id != result.payment.id
    with fresh(live_app) as session:
        first = session.get(Payment, result.payment.id)
        assert first.status is PaymentStatus.FAILED
        assert first.failure_code == "payment_intent_authentication_failure"
        assert session.get(Invoice, invoice.id).status is InvoiceStatus.OPEN
        assert balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == PRICE
        assert balance(session, ledger.STRIPE_CLEARING) == 0
        assert "payment_failed" in kinds(session, buyer.organization.id)
        assert_balanced(session)


def test_a_double_click_charges_once(live_app: LiveApp, live_session: Session):
    """Two "Pay" requests at once: the second waits for the first and finds nothing due."""
    buyer, invoice = subscribe(live_session)
    save_card(live_app, live_session, buyer, VISA)
    live_session.close()
    start = threading.Barrier(2)

    def click() -> str:
        with live_app.sessions() as session:
            start.wait(5)
            try:
                result = card_payments.pay_by_card(
                    session, live_app.stripe(), session.get(Invoice, invoice.id), now=utcnow()
                )
            except Conflict:
                return "nothing due"
            session.commit()
            return result.payment.status.value

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(lambda _: click(), range(2)))
    assert outcomes == ["nothing due", "succeeded"]
    with fresh(live_app) as session:
        paid = session.get(Invoice, invoice.id)
        assert paid.status is InvoiceStatus.PAID
        assert [p.status for p in paid.payments] == [PaymentStatus.SUCCEEDED]
        assert balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert_balanced(session)


# --- webhooks ----------------------------------------------------------------------------


def test_replayed_or_forged_webhooks_change_nothing(live_app: LiveApp, live_session: Session):
    buyer, invoice = subscribe(live_session)
    save_card(live_app, live_session, buyer, DECLINED_WHEN_CHARGED)
    result = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    intent_id = result.payment.stripe_payment_intent_id
    recorded = wait_for_event(live_app, live_session, "payment_intent.payment_failed", intent_id)
    original = delivery(live_app, recorded.event_id)
    signature = original.headers["Stripe-Signature"]
    before = snapshot(live_app, intent_id)
    assert before["webhook_events"] == [recorded.event_id]

    # the same body and signature again: recognised, nothing applied twice
    assert post_webhook(live_app, original.body, signature) == (
        200,
        {"received": True, "duplicate": True},
    )
    assert snapshot(live_app, intent_id) == before

    # the same event turned into a success under a new id, which would pay the invoice
    event = json.loads(original.body)
    event["id"] = f"{event['id']}x"
    event["type"] = "payment_intent.succeeded"
    event["data"]["object"]["status"] = "succeeded"
    forged = json.dumps(event, indent=2, sort_keys=True).encode()
    wrong_secret = stripe.WebhookSignature.generate_signature_header(
        forged.decode(), "whsec_not_ours"
    )
    for body, header in [
        (forged, signature),  # body changed, old signature
        (forged, wrong_secret),  # signed with another secret
        (forged, None),  # not signed
        (b"not json", signature),
    ]:
        status, answer = post_webhook(live_app, body, header)
        assert status == 400 and "error" in answer
    assert snapshot(live_app, intent_id) == before

    # Control: signed with our secret, the same body is applied (so the 400s were the guard).
    ours = stripe.WebhookSignature.generate_signature_header(
        forged.decode(), live_app.webhook_secret
    )
    assert post_webhook(live_app, forged, ours) == (200, {"received": True, "duplicate": False})
    with fresh(live_app) as session:
        assert session.get(Invoice, invoice.id).status is InvoiceStatus.PAID


# --- Stripe unreachable ------------------------------------------------------------------


def test_stripe_unreachable_then_back(live_app: LiveApp, live_session: Session):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id  # kept: a rollback expires the objects
    card = save_card(live_app, live_session, buyer, VISA)

    reachable = live_app.app.config["STRIPE_API_BASE"]
    live_app.app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nobody there
    down = live_app.stripe()
    with pytest.raises(gateway.PaymentUnavailable) as unavailable:
        card_payments.pay_by_card(live_session, down, invoice, now=utcnow())
    assert unavailable.value.status == 503
    assert "cannot be reached" in str(unavailable.value)
    assert "nothing was charged" in str(unavailable.value)
    live_session.rollback()  # the request boundary rolls back on a 503
    with pytest.raises(gateway.PaymentUnavailable):
        saved_cards.begin_card_setup(live_session, down, buyer.organization)
    live_session.rollback()
    with fresh(live_app) as session:
        assert session.get(Invoice, invoice_id).status is InvoiceStatus.OPEN
        assert count(session, Payment) == 0

    live_app.app.config["STRIPE_API_BASE"] = reachable
    result = card_payments.pay_by_card(live_session, live_app.stripe(), invoice, now=utcnow())
    live_session.commit()
    assert result.succeeded
    intent_id = result.payment.stripe_payment_intent_id
    wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
    with fresh(live_app) as session:
        paid = session.get(Invoice, invoice_id)
        assert paid.status is InvoiceStatus.PAID
        assert [p.status for p in paid.payments] == [PaymentStatus.SUCCEEDED]
        received = LedgerTransaction.kind == "payment.received"
        assert count(session, LedgerTransaction, received) == 1
        assert balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert_balanced(session)
    # and Stripe holds exactly one PaymentIntent for this customer
    intents = live_app.stripe().v1.payment_intents.list({"limit": 100})
    assert [i.id for i in intents.auto_paging_iter() if i.customer == card.customer_id] == [
        intent_id
    ]


# --- bank transfer -----------------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 10_100], ids=["exact", "overpaid"])
def test_bank_transfer_partial_then_the_rest(live_app: LiveApp, live_session: Session, extra: int):
    operator = operator_actor(live_session)
    buyer, invoice = subscribe(live_session)
    org_id, invoice_id = buyer.organization.id, invoice.id  # kept: a rollback expires objects

    bank_transfers.record_bank_transfer(
        live_session, invoice, amount_fen=40_000, reference="ICBC-0001", actor=operator, now=T0
    )
    live_session.commit()
    with fresh(live_app) as session:
        partly = session.get(Invoice, invoice_id)
        assert partly.status is InvoiceStatus.OPEN and invoices.amount_due(partly) == 59_900
        assert balance(session, ledger.BUYER_RECEIVABLE, org_id) == 59_900

    with pytest.raises(Conflict):  # the same bank reference twice
        bank_transfers.record_bank_transfer(
            live_session, invoice, amount_fen=59_900, reference="ICBC-0001", actor=operator, now=T0
        )
    live_session.rollback()
    bank_transfers.record_bank_transfer(
        live_session,
        invoice,
        amount_fen=59_900 + extra,
        reference="ICBC-0002",
        actor=operator,
        now=T0,
    )
    live_session.commit()

    with fresh(live_app) as session:
        paid = session.get(Invoice, invoice_id)
        assert paid.status is InvoiceStatus.PAID
        assert invoices.amount_due(paid) == -extra  # an over-payment shows as credit
        assert invoices.amount_paid(paid) == PRICE + extra
        assert balance(session, ledger.BUYER_RECEIVABLE, org_id) == -extra
        assert balance(session, ledger.BANK_CLEARING) == PRICE + extra
        assert "payment_succeeded" in kinds(session, org_id)
        assert_balanced(session)
        with pytest.raises(Conflict):
            bank_transfers.record_bank_transfer(
                session, paid, amount_fen=1, reference="ICBC-0003", actor=operator, now=T0
            )


# --- refunds -----------------------------------------------------------------------------


def test_card_refund_partial_then_the_rest(live_app: LiveApp, live_session: Session):
    operator = operator_actor(live_session)
    buyer, invoice = subscribe(live_session)
    save_card(live_app, live_session, buyer, VISA)
    payment = card_payments.pay_by_card(
        live_session, live_app.stripe(), invoice, now=utcnow()
    ).payment
    live_session.commit()
    intent_id = payment.stripe_payment_intent_id
    # ids kept: the rollback below expires the objects
    org_id, invoice_id, vendor_id = buyer.organization.id, invoice.id, invoice.vendor_id

    for amount in (40_000, PRICE - 40_000):
        refund(
            live_session,
            live_app.stripe(),
            payment,
            amount_fen=amount,
            reason="服务未按约定交付",
            actor=operator,
            now=utcnow(),
        )
        live_session.commit()
    with pytest.raises(DomainError, match="what is left"):
        refund(
            live_session,
            live_app.stripe(),
            payment,
            amount_fen=1,
            reason="多退一分",
            actor=operator,
            now=utcnow(),
        )
    live_session.rollback()

    client = live_app.stripe()
    refunds = client.v1.refunds.list({"payment_intent": intent_id})
    assert sorted(r.amount for r in refunds.auto_paging_iter()) == [40_000, PRICE - 40_000]
    intent = client.v1.payment_intents.retrieve(intent_id, {"expand": ["latest_charge"]})
    charge = intent.latest_charge
    charge = client.v1.charges.retrieve(charge) if isinstance(charge, str) else charge
    assert charge.amount_refunded == PRICE

    with fresh(live_app) as session:
        rows = session.scalars(sa.select(Refund).order_by(Refund.id)).all()
        assert [(r.amount_fen, r.status) for r in rows] == [
            (40_000, "succeeded"),
            (PRICE - 40_000, "succeeded"),
        ]
        assert all(r.stripe_refund_id for r in rows)
        reversals = LedgerTransaction.kind == "payment.refunded"
        assert count(session, LedgerTransaction, reversals) == 2
        assert balance(session, ledger.STRIPE_CLEARING) == 0
        assert balance(session, ledger.VENDOR_PAYABLE, vendor_id) == 0
        assert balance(session, ledger.PLATFORM_COMMISSION) == 0
        assert balance(session, ledger.BUYER_RECEIVABLE, org_id) == 0
        assert session.get(Invoice, invoice_id).status is InvoiceStatus.PAID
        assert_balanced(session)


# --- the billing run's card retries ------------------------------------------------------


def test_billing_run_retries_a_declining_card_then_suspends(
    live_app: LiveApp, live_session: Session
):
    vendor = vendor_actor(live_session)
    plan = offered_plan(live_session, usage_terms(free_units=0), vendor)
    buyer = buyer_actor(live_session)
    contract = start_contract(live_session, plan=plan, buyer=buyer)
    used = metering.ingest(
        live_session,
        vendor_id=vendor.organization.id,
        events=[event(contract, "u1", 5_000, at=T0 + timedelta(days=1))],
        now=T0 + timedelta(days=1),
    )
    assert used.accepted == 1
    live_session.commit()
    save_card(live_app, live_session, buyer, DECLINED_WHEN_CHARGED)
    issued_at = contract.current_period_end
    charge = live_app.app.extensions["billing.charge"]

    def billing_run(as_of) -> run.RunReport:
        return run.run(live_app.sessions, as_of=as_of, commission_bp=COMMISSION_BP, charge=charge)

    def state() -> tuple[ContractStatus, InvoiceStatus, int, int]:
        with fresh(live_app) as session:
            (invoice,) = session.scalars(
                sa.select(Invoice).where(Invoice.contract_id == contract.id)
            )
            return (
                session.get(Contract, contract.id).status,
                invoice.status,
                invoice.attempt_count,
                count(session, Payment, Payment.status == PaymentStatus.FAILED),
            )

    first = billing_run(issued_at)  # closes the period, first try at issue
    assert (first.periods_closed, first.payment_attempts, first.payments_failed) == (1, 1, 1)
    assert state() == (ContractStatus.ACTIVE, InvoiceStatus.OPEN, 1, 1)
    assert billing_run(issued_at + timedelta(days=2)).payment_attempts == 0  # not due yet
    second = billing_run(issued_at + timedelta(days=3))
    assert (second.payment_attempts, second.suspended) == (1, 0)
    assert state() == (ContractStatus.ACTIVE, InvoiceStatus.OPEN, 2, 2)
    third = billing_run(issued_at + timedelta(days=7))
    assert (third.payment_attempts, third.payments_failed, third.suspended) == (1, 1, 1)
    assert state() == (ContractStatus.PAST_DUE, InvoiceStatus.OPEN, 3, 3)
    assert billing_run(issued_at + timedelta(days=8)).payment_attempts == 0  # no fourth try

    with fresh(live_app) as session:
        (invoice,) = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id))
        assert invoice.total_fen == 10_000  # 5,000 images at 2 fen
        (suspended,) = session.scalars(
            sa.select(Notification).where(
                Notification.organization_id == buyer.organization.id,
                Notification.kind == "contract_suspended",
            )
        )
        assert invoice.number in notify.message(suspended)
        assert kinds(session, buyer.organization.id).count("payment_failed") == 3
        failures = session.scalars(sa.select(Payment.failure_message)).all()
        assert failures == ["Your card was declined."] * 3

        bank_transfers.record_bank_transfer(
            session,
            invoice,
            amount_fen=10_000,
            reference="ICBC-7001",
            actor=operator_actor(session),
            now=issued_at + timedelta(days=9),
        )
        session.commit()
    assert state() == (ContractStatus.ACTIVE, InvoiceStatus.PAID, 3, 3)
    with fresh(live_app) as session:
        assert balance(session, ledger.BUYER_RECEIVABLE, buyer.organization.id) == 0
        assert balance(session, ledger.STRIPE_CLEARING) == 0
        assert balance(session, ledger.BANK_CLEARING) == 10_000
        assert_balanced(session)


def test_a_card_gone_at_stripe_does_not_stop_the_billing_run(
    live_app: LiveApp, live_session: Session
):
    vendor = vendor_actor(live_session)
    plan = offered_plan(live_session, usage_terms(free_units=0, base_fee_fen=5_000), vendor)
    broken, fine = buyer_actor(live_session), buyer_actor(live_session)
    contracts = [start_contract(live_session, plan=plan, buyer=b) for b in (broken, fine)]
    live_session.commit()
    save_card(live_app, live_session, broken, VISA)
    save_card(live_app, live_session, fine, VISA)
    gone = live_session.get(StripeCustomer, broken.organization.id)
    gone.payment_method_id = "pm_deleted_at_stripe"  # Stripe answers 404 for it
    live_session.commit()

    report = run.run(
        live_app.sessions,
        as_of=contracts[0].current_period_end,
        commission_bp=COMMISSION_BP,
        charge=live_app.app.extensions["billing.charge"],
    )
    assert (report.payment_attempts, report.payments_failed) == (2, 1)
    with fresh(live_app) as session:
        statuses = [
            session.scalars(sa.select(Invoice.status).where(Invoice.contract_id == c.id)).one()
            for c in contracts
        ]
        assert statuses == [InvoiceStatus.OPEN, InvoiceStatus.PAID]
        assert_balanced(session)
