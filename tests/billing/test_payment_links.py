"""Payment links: the buyer forwards an invoice; the link shows that invoice and the bank
transfer details without sign-in, opens no other invoice, expires, and can be revoked."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import payment_links
from billing.models import Invoice
from marketplace.db import utcnow
from marketplace.models import Membership, Role
from tests.billing.factories import buyer_actor, offered_plan, start_contract, subscription_terms
from tests.factories import create_user, login


def open_invoice(session: Session, buyer) -> Invoice:
    plan = offered_plan(session, subscription_terms(trial_days=0))
    contract = start_contract(session, plan=plan, buyer=buyer, now=utcnow() - timedelta(days=1))
    return session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id)).one()


def shared_path(html: str) -> str:
    match = re.search(
        r'value="https?://[^/"]+(/billing/invoices/\d+/shared/[^"]+)" data-payment-link', html
    )
    assert match, "no payment link on the invoice page"
    return match.group(1)


def test_a_forwarded_link_shows_the_invoice_and_bank_details_only(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    invoice = open_invoice(session, buyer)
    other = open_invoice(session, buyer)
    login(client, buyer.user)
    client.post(f"/billing/invoices/{invoice.id}/payment-links")
    path = shared_path(client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True))

    with app.test_client() as colleague:  # not signed in
        html = colleague.get(path).get_data(as_text=True)
        assert invoice.number in html and invoice.transfer_reference in html
        assert app.config["BANK_ACCOUNT_NUMBER"] in html
        assert other.number not in html
        assert "data-pay-by-card" not in html  # card payment needs a signed-in member
        # The token names its invoice: under another invoice's address it opens nothing.
        assert colleague.get(path.replace(f"/{invoice.id}/", f"/{other.id}/")).status_code == 404
        assert colleague.get(path[:-3] + "xyz").status_code == 404

    member = create_user(session)
    session.add(Membership(user=member, organization=buyer.organization, role=Role.MEMBER))
    session.flush()
    with app.test_client() as signed_in:
        login(signed_in, member)
        assert "data-pay-by-card" in signed_in.get(path).get_data(as_text=True)


def test_a_link_expires_and_can_be_revoked(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    buyer = buyer_actor(session)
    invoice = open_invoice(session, buyer)
    secret = app.config["SECRET_KEY"]
    now = utcnow()
    link, token = payment_links.create(session, invoice, actor=buyer, now=now, secret_key=secret)
    assert payment_links.resolve(session, invoice.id, token, now=now, secret_key=secret) is link
    later = now + payment_links.LIFETIME + timedelta(seconds=1)
    assert payment_links.resolve(session, invoice.id, token, now=later, secret_key=secret) is None
    assert payment_links.resolve(session, invoice.id, token, now=now, secret_key="other") is None

    login(client, buyer.user)
    path = f"/billing/invoices/{invoice.id}/shared/{token}"
    assert client.get(path).status_code == 200
    client.post(f"/billing/payment-links/{link.id}/revoke")
    session.refresh(link)
    assert link.revoked_at is not None
    assert client.get(path).status_code == 404

    stranger = buyer_actor(session)
    login(client, stranger.user)
    assert client.post(f"/billing/invoices/{invoice.id}/payment-links").status_code == 404
