"""The demo shows the daily work of issue 15: a fapiao issued (its file downloadable by the
buyer) and one requested (in the vendor's to-do list), an overdue invoice of the demo buyer
flagged 逾期 N 天, and a filled to-do list on each role's dashboard."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import overdue
from billing.fapiao_models import Fapiao, FapiaoStatus
from billing.models import Invoice
from devtools.demo.platform import DEMO_PASSWORD
from marketplace.db import utcnow
from marketplace.models import Organization, User
from tests.marketplace.test_cli import load_demo_into


def sign_in(client: FlaskClient, email: str) -> None:
    client.post("/logout")
    client.post("/login", data={"email": email, "password": DEMO_PASSWORD})


def test_the_demo_shows_fapiao_overdue_and_every_roles_to_do_list(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    load_demo_into(app, session)
    buyer = session.scalar(sa.select(User).where(User.email == "buyer@demo.local"))
    buyer_org = session.scalar(
        sa.select(Organization).where(Organization.id == buyer.memberships[0].organization_id)
    )
    fapiao = {
        f.status: f
        for f in session.scalars(sa.select(Fapiao).where(Fapiao.buyer_id == buyer_org.id))
    }
    assert set(fapiao) == {FapiaoStatus.REQUESTED, FapiaoStatus.ISSUED}
    issued = fapiao[FapiaoStatus.ISSUED]
    assert issued.number and issued.file and issued.amount_fen == issued.invoice.total_fen

    now = utcnow()
    owed = session.scalars(sa.select(Invoice).where(Invoice.buyer_id == buyer_org.id))
    late = [i for i in owed if (overdue.overdue_days(i, now) or 0) > 0]
    assert late, "the demo buyer has no overdue invoice"

    sign_in(client, "buyer@demo.local")
    html = client.get(f"/billing/invoices/{issued.invoice_id}").get_data(as_text=True)
    assert issued.number in html
    invoices = client.get("/billing/invoices").get_data(as_text=True)
    assert "逾期" in invoices

    expected = {
        "buyer@demo.local": "invoices_overdue",
        "vendor@demo.local": "fapiao_requests",
        "officer@demo.local": None,
        "operator@demo.local": None,
    }
    for email, key in expected.items():
        sign_in(client, email)
        dashboard = client.get("/dashboard").get_data(as_text=True)
        items = re.findall(r'data-todo-item="([^"]+)"', dashboard)
        assert items, f"{email} has an empty to-do list"
        if key:
            assert key in items, (email, items)
