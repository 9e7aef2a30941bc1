"""The demo has a bank statement the operator imported: a credit booked on the demo
buyer's open invoice, and one without a reference waiting in the queue; and the vendor
awaiting verification has uploaded its business licence, shown on the operator's page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing.bank_statement_models import BankStatementLine, LineStatus
from devtools.demo.platform import DEMO_PASSWORD
from marketplace.licences import BusinessLicence
from marketplace.models import Organization, OrgKind, Verification
from tests.marketplace.test_cli import load_demo_into


def test_the_demo_operator_sees_a_matched_statement_and_a_line_to_match(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    lines = session.scalars(sa.select(BankStatementLine)).all()
    statuses = sorted(line.status.value for line in lines)
    assert statuses == ["ignored", "matched", "unmatched"]
    (matched,) = [line for line in lines if line.status is LineStatus.MATCHED]
    assert matched.invoice.buyer.name in matched.counterparty_name
    client.post("/login", data={"email": "operator@demo.local", "password": DEMO_PASSWORD})
    html = client.get(f"/billing/console/bank-statements/{matched.statement_id}").get_data(
        as_text=True
    )
    assert 'data-matched="1"' in html and 'data-unmatched="1"' in html
    queue = client.get("/billing/console/bank-queue").get_data(as_text=True)
    (waiting,) = [line for line in lines if line.status is LineStatus.UNMATCHED]
    assert f'data-queue-line="{waiting.id}"' in queue

    pending = session.scalars(
        sa.select(Organization).where(
            Organization.kind == OrgKind.VENDOR,
            Organization.verification == Verification.PENDING,
        )
    ).first()
    assert pending is not None
    assert session.scalar(
        sa.select(BusinessLicence).where(BusinessLicence.organization_id == pending.id)
    )
    verification = client.get(f"/console/organizations/{pending.id}").get_data(as_text=True)
    assert "data-licence-image" in verification and pending.uscc in verification
    licence = client.get(f"/organizations/{pending.id}/licence")
    assert licence.status_code == 200 and licence.data.startswith(b"\x89PNG")
    licence.close()
