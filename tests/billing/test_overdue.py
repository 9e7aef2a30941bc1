"""Overdue invoices: 逾期 N 天 counted in China calendar days, in the API and on the pages,
and the reminders before, on and after the due day, each sent once (time travel through
an injected ``now``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from billing import overdue
from billing.models import Invoice, InvoiceStatus, Notification
from marketplace.dates import day_start
from marketplace.db import utcnow
from marketplace.outbox import OutboxJob
from tests.billing.factories import buyer_actor, offered_plan, start_contract, subscription_terms
from tests.factories import create_token, login
from tests.mail import SmtpSink


def open_invoice(session: Session, buyer=None) -> Invoice:
    """The first invoice of a subscription without trial: open, due in 15 days."""
    plan = offered_plan(session, subscription_terms(trial_days=0))
    contract = start_contract(
        session, plan=plan, buyer=buyer or buyer_actor(session), now=utcnow() - timedelta(days=1)
    )
    invoice = session.scalars(sa.select(Invoice).where(Invoice.contract_id == contract.id)).one()
    assert invoice.status is InvoiceStatus.OPEN
    return invoice


def test_overdue_days_count_china_calendar_days(session: Session) -> None:
    invoice = open_invoice(session)
    # Due at 23:00 in Beijing on 10 March 2027 (15:00 UTC).
    invoice.due_at = datetime(2027, 3, 10, 15, 0, tzinfo=UTC)
    assert overdue.overdue_days(invoice, datetime(2027, 3, 10, 15, 30, tzinfo=UTC)) is None
    # 00:00 in Beijing on the 11th is still the 10th in UTC: one day overdue already.
    assert overdue.overdue_days(invoice, datetime(2027, 3, 10, 16, 0, tzinfo=UTC)) == 1
    assert overdue.overdue_days(invoice, datetime(2027, 3, 17, 16, 0, tzinfo=UTC)) == 8
    invoice.status = InvoiceStatus.PAID
    assert overdue.overdue_days(invoice, datetime(2027, 3, 17, 16, 0, tzinfo=UTC)) is None


def test_the_three_reminders_go_out_once_each_with_their_emails(
    smtp: SmtpSink, app: Flask, session: Session
) -> None:
    invoice = open_invoice(session)
    due_day = datetime(2027, 3, 10).date()
    invoice.due_at = day_start(due_day) + timedelta(hours=10)
    session.flush()

    def run_on(days_from_due: int) -> int:
        # Noon in Beijing, ``days_from_due`` days from the due day; twice, as a worker may.
        now = day_start(due_day + timedelta(days=days_from_due)) + timedelta(hours=12)
        with app.app_context():  # e-mails are queued within the app (its SMTP settings)
            return overdue.send_due_reminders(session, now=now) + overdue.send_due_reminders(
                session, now=now
            )

    sent = {days: run_on(days) for days in (-5, -3, -2, 0, 1, 3, 4, 7, 9, 30)}
    assert sent == {-5: 0, -3: 1, -2: 0, 0: 1, 1: 0, 3: 1, 4: 0, 7: 1, 9: 0, 30: 0}

    notes = session.scalars(
        sa.select(Notification)
        .where(
            Notification.organization_id == invoice.buyer_id, Notification.kind != "invoice_issued"
        )
        .order_by(Notification.id)
    ).all()
    assert [n.kind for n in notes] == [
        "invoice_due_soon",
        "invoice_due_today",
        "invoice_overdue_3",
        "invoice_overdue_7",
    ]
    assert all(n.link == f"/billing/invoices/{invoice.id}" for n in notes)
    assert [n.params["days"] for n in notes] == [0, 0, 3, 7]
    mails = session.scalars(
        sa.select(OutboxJob).where(OutboxJob.dedupe_key.contains(f"notification:{notes[0].id}:"))
    ).all()
    assert len(mails) == 1 and invoice.number in mails[0].payload["body"]
    overdue_mail = session.scalars(
        sa.select(OutboxJob).where(OutboxJob.dedupe_key.contains(f"notification:{notes[3].id}:"))
    ).one()
    assert "7" in overdue_mail.payload["body"]


def test_a_paid_invoice_gets_no_reminder(session: Session) -> None:
    invoice = open_invoice(session)
    invoice.due_at = day_start(datetime(2027, 3, 10).date())
    invoice.status = InvoiceStatus.PAID
    session.flush()
    now = day_start(datetime(2027, 3, 17).date()) + timedelta(hours=12)
    assert overdue.send_due_reminders(session, now=now) == 0


def test_api_and_pages_show_overdue_days(client: FlaskClient, session: Session) -> None:
    buyer = buyer_actor(session)
    invoice = open_invoice(session, buyer)
    today = utcnow().astimezone(overdue.CHINA).date()
    invoice.due_at = day_start(today - timedelta(days=5)) + timedelta(hours=10)
    fresh = open_invoice(session, buyer)  # due in the future: not overdue
    session.flush()

    token = create_token(session, buyer.user, buyer.organization)
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get(f"/api/v1/invoices/{invoice.id}", headers=headers).get_json()
    assert body["overdue_days"] == 5
    assert datetime.fromisoformat(body["due_at"]) == invoice.due_at
    assert (
        client.get(f"/api/v1/invoices/{fresh.id}", headers=headers).get_json()["overdue_days"]
        is None
    )
    listed = client.get("/api/v1/invoices", headers=headers).get_json()["items"]
    assert {item["id"]: item["overdue_days"] for item in listed} == {invoice.id: 5, fresh.id: None}

    login(client, buyer.user)
    assert "逾期 5 天" in client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
    listing = client.get("/billing/invoices").get_data(as_text=True)
    assert listing.count("data-overdue-days=") == 1
    assert "逾期 5 天" in client.get(f"/billing/invoices/{invoice.id}/pay").get_data(as_text=True)
    with client.session_transaction() as browser:
        browser["lang"] = "en"
    assert "Overdue 5 days" in client.get(f"/billing/invoices/{invoice.id}").get_data(as_text=True)
