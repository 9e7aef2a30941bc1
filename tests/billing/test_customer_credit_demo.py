"""The demo shows a customer credit balance used on a renewal."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import credits, invoices
from billing.credit_models import CreditKind, CreditTransaction
from billing.models import Invoice, InvoiceKind
from devtools.demo.platform import DEMO_PASSWORD
from tests.marketplace.test_cli import load_demo_into


def test_the_demo_buyer_has_credit_used_on_a_renewal(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    moves = list(session.scalars(sa.select(CreditTransaction).order_by(CreditTransaction.id)))
    granted = [m for m in moves if m.kind is CreditKind.GRANTED]
    applied = [m for m in moves if m.kind is CreditKind.APPLIED]
    assert granted and applied
    note = session.get(Invoice, granted[0].invoice_id)
    assert note is not None and note.kind is InvoiceKind.CREDIT_NOTE
    renewal = session.get(Invoice, applied[0].invoice_id)
    assert renewal is not None and renewal.reason == "renewal"
    assert renewal.contract_id == note.contract_id
    assert renewal.credit_applied_fen == note.credit_granted_fen > 0
    assert invoices.amount_due(renewal) == renewal.total_fen - renewal.credit_applied_fen
    assert credits.balance(session, renewal.buyer_id, renewal.vendor_id) == 0

    buyer_email = renewal.buyer.memberships[0].user.email
    client.post("/login", data={"email": buyer_email, "password": DEMO_PASSWORD})
    page = client.get(f"/billing/invoices/{renewal.id}").get_data(as_text=True)
    assert "data-credit-applied" in page
    assert f'data-credit-balance="{renewal.vendor_id}"' in client.get("/billing/invoices").get_data(
        as_text=True
    )
