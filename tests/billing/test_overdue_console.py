"""The operator's overdue invoices: each still owed after its due day with 逾期 N 天, the
longest overdue or the largest first, one vendor at a time; paid and not-yet-due invoices
are not listed."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import overdue
from billing.models import Invoice
from billing.payments import bank_transfers
from marketplace.dates import day_start
from marketplace.db import utcnow
from tests.catalog.factories import operator_actor
from tests.factories import login
from tests.vouchers.factories import contract_between, invoice_for, sme_actor, vendor_actor


def due_days_ago(invoice: Invoice, days: int) -> None:
    """Due at 10:00 in China, ``days`` China calendar days before today."""
    today = overdue.china_today(utcnow())
    invoice.due_at = day_start(today - timedelta(days=days)) + timedelta(hours=10)


def listed(html: str) -> list[str]:
    return re.findall(r'data-overdue-row="([^"]+)"', html)


def test_overdue_invoices_with_days_sorted_and_filtered_by_vendor(
    client: FlaskClient, session: Session
) -> None:
    buyer = sme_actor(session)
    first_vendor, second_vendor = vendor_actor(session), vendor_actor(session)
    operator = operator_actor(session)
    old_small = invoice_for(session, contract_between(session, buyer, first_vendor), 10_000)
    new_large = invoice_for(session, contract_between(session, buyer, second_vendor), 90_000)
    not_yet = invoice_for(session, contract_between(session, buyer, first_vendor), 50_000)
    paid = invoice_for(session, contract_between(session, buyer, first_vendor), 20_000)
    due_days_ago(old_small, 12)
    due_days_ago(new_large, 2)
    due_days_ago(paid, 30)
    not_yet.due_at = utcnow() + timedelta(days=3)
    bank_transfers.record_bank_transfer(
        session, paid, amount_fen=20_000, reference="OD-1", actor=operator, now=utcnow()
    )
    # A part paid: the rest is still overdue.
    bank_transfers.record_bank_transfer(
        session, new_large, amount_fen=30_000, reference="OD-2", actor=operator, now=utcnow()
    )
    session.flush()
    login(client, operator.user)

    html = client.get("/billing/console/overdue").get_data(as_text=True)
    assert listed(html) == [old_small.number, new_large.number]  # longest overdue first
    assert 'data-overdue-days="12"' in html and 'data-overdue-days="2"' in html
    assert 'data-overdue-total="70000"' in html  # 100.00 + (900.00 - 300.00)

    by_amount = client.get("/billing/console/overdue?sort=amount").get_data(as_text=True)
    assert listed(by_amount) == [new_large.number, old_small.number]

    one_vendor = client.get(
        f"/billing/console/overdue?vendor={second_vendor.organization.id}"
    ).get_data(as_text=True)
    assert listed(one_vendor) == [new_large.number]
    assert client.get("/billing/console/overdue?sort=x&vendor=abc").status_code == 200
