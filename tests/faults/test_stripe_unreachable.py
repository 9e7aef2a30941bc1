"""Stripe unreachable while a buyer pays by card: the pay page says so (in the page's
language) and nothing was charged, the API answers 503 in its error shape, the invoice stays
open with no payment and no ledger booking; once Stripe is back, paying again records
exactly one succeeded payment and one ledger booking, and a repeated click changes nothing.

Runs against localstripe with the app served live (so Stripe's webhooks reach it), reusing
the fixtures (imported in tests/faults/conftest.py) and helpers of tests/billing.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import ledger
from billing.ledger_models import LedgerTransaction
from billing.models import Invoice, InvoiceStatus
from billing.payment_models import Payment, PaymentStatus
from marketplace import services
from tests.billing.conftest import LiveApp
from tests.billing.test_payments_e2e import (
    PRICE,
    VISA,
    assert_balanced,
    count,
    fresh,
    save_card,
    subscribe,
    wait_for_event,
)
from tests.factories import login
from tests.stripe_server import free_port

RECEIVED = LedgerTransaction.kind == "payment.received"


def pay_on_the_page(client: FlaskClient, invoice_id: int) -> str:
    """Press "pay by card" on the pay page; returns the page the buyer lands on."""
    response = client.post(f"/billing/invoices/{invoice_id}/pay/card", data={})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    landed = client.get(response.headers["Location"], follow_redirects=True)
    assert landed.status_code == 200
    return landed.get_data(as_text=True)


def nothing_recorded(live: LiveApp, invoice_id: int) -> None:
    with fresh(live) as session:
        assert session.get(Invoice, invoice_id).status is InvoiceStatus.OPEN
        assert count(session, Payment) == 0
        assert count(session, LedgerTransaction, RECEIVED) == 0


def test_card_payment_while_stripe_is_unreachable_then_back(
    live_app: LiveApp, live_session: Session
):
    buyer, invoice = subscribe(live_session)
    invoice_id = invoice.id
    save_card(live_app, live_session, buyer, VISA)
    _record, token = services.create_token(
        live_session, user=buyer.user, organization=buyer.organization, name="pay"
    )
    live_session.commit()
    client = live_app.app.test_client()
    login(client, buyer.user)
    api = live_app.app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}

    reachable = live_app.app.config["STRIPE_API_BASE"]
    live_app.app.config["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"  # nobody there
    try:
        page = pay_on_the_page(client, invoice_id)
        assert "银行卡支付服务暂时无法连接，未发生扣款" in page
        client.post("/language", data={"lang": "en"})
        page = pay_on_the_page(client, invoice_id)
        assert "cannot be reached right now; nothing was charged" in page
        client.post("/language", data={"lang": "zh_CN"})
        answer = api.post(
            f"/api/v1/invoices/{invoice_id}/pay", json={"method": "card"}, headers=bearer
        )
        assert answer.status_code == 503, answer.get_json()
        assert answer.get_json()["error"]["code"] == "unavailable"
        nothing_recorded(live_app, invoice_id)
    finally:
        live_app.app.config["STRIPE_API_BASE"] = reachable

    page = pay_on_the_page(client, invoice_id)
    with fresh(live_app) as session:
        (payment,) = session.scalars(sa.select(Payment))
        intent_id = payment.stripe_payment_intent_id
    wait_for_event(live_app, live_session, "payment_intent.succeeded", intent_id)
    # A second click, and the same call through the API, find nothing left to pay.
    pay_on_the_page(client, invoice_id)
    again = api.post(f"/api/v1/invoices/{invoice_id}/pay", json={"method": "card"}, headers=bearer)
    assert again.status_code == 409, again.get_json()

    with fresh(live_app) as session:
        paid = session.get(Invoice, invoice_id)
        assert paid.status is InvoiceStatus.PAID
        assert [p.status for p in paid.payments] == [PaymentStatus.SUCCEEDED]
        assert count(session, LedgerTransaction, RECEIVED) == 1
        assert ledger.balance(session, ledger.STRIPE_CLEARING) == PRICE
        assert_balanced(session)
