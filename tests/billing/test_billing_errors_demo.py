"""The demo shows the operator an open billing error in the console."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.error_models import BillingError
from devtools.demo.platform import DEMO_PASSWORD
from tests.marketplace.test_cli import load_demo_into


def test_the_demo_operator_sees_a_billing_error(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    (error,) = session.scalars(sa.select(BillingError).where(BillingError.resolved_at.is_(None)))
    assert error.code == "quantity_too_large" and error.attempts == 3
    client.post("/login", data={"email": "operator@demo.local", "password": DEMO_PASSWORD})
    html = client.get("/billing/console/billing-errors").get_data(as_text=True)
    assert f'data-contract="{error.contract_id}"' in html and "quantity_too_large" in html
