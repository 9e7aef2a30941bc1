"""Overdue invoices and the reminders about them.

An invoice is overdue when it is still owed (open or uncollectible) and the calendar day in
China (Asia/Shanghai) is after the day its ``due_at`` falls on; it is then "逾期 N 天",
N being the number of China calendar days since the due day (1 on the day after). Days are
counted in China whatever the server's or reader's time zone, so an invoice due at 23:00
in Beijing is overdue one day at 00:00 the next Beijing morning.

Reminders: the buyer is told three days before the due day, on it, and three and seven
days after it, each once (an in-app notification and its e-mail, deduplicated by invoice
and reminder kind). A run finds the latest stage reached and sends only that one: a worker
that was down for a week sends the seven-day reminder, not four at once.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from billing import invoices as invoice_rules
from billing import notify
from billing.models import Invoice, InvoiceKind, InvoiceStatus
from marketplace.dates import CHINA, day_start, first_day
from marketplace.db import utcnow
from marketplace.money import format_fen

OWED = (InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE)
DUE_SOON_DAYS = 3  # the reminder before the due day
OVERDUE_REMINDER_DAYS = (3, 7)  # the reminders after it
# Reminder kinds in the order they are reached; the number is days relative to the due day.
REMINDER_STAGES: tuple[tuple[str, int], ...] = (
    ("invoice_due_soon", -DUE_SOON_DAYS),
    ("invoice_due_today", 0),
    *((f"invoice_overdue_{days}", days) for days in OVERDUE_REMINDER_DAYS),
)


def china_today(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def due_day(invoice: Invoice) -> date | None:
    return first_day(invoice.due_at) if invoice.due_at else None


def is_owed(invoice: Invoice) -> bool:
    return invoice.kind is InvoiceKind.INVOICE and invoice.status in OWED


def overdue_days(invoice: Invoice, now: datetime | None = None) -> int | None:
    """China calendar days since the due day of a still-owed invoice; None when not overdue."""
    day = due_day(invoice)
    if day is None or not is_owed(invoice):
        return None
    late = (china_today(now or utcnow()) - day).days
    return late if late > 0 else None


def reminder_stage(invoice: Invoice, now: datetime) -> str | None:
    """The latest reminder an owed invoice has reached today, or None (not yet, or paid)."""
    day = due_day(invoice)
    if day is None or not is_owed(invoice):
        return None
    relative = (china_today(now) - day).days
    reached = [kind for kind, offset in REMINDER_STAGES if relative >= offset]
    if not reached or relative < -DUE_SOON_DAYS:
        return None
    return reached[-1]


def send_due_reminders(session: Session, *, now: datetime | None = None) -> int:
    """Remind buyers of invoices coming due or overdue; each reminder goes once per invoice
    and kind (safe to run every few minutes, on several hosts). Returns how many went."""
    now = now or utcnow()
    # Invoices due within DUE_SOON_DAYS or earlier, still owed; the paid ones drop out.
    horizon = day_start(china_today(now) + timedelta(days=DUE_SOON_DAYS + 1))
    invoices = session.scalars(
        sa.select(Invoice)
        .where(
            Invoice.kind == InvoiceKind.INVOICE,
            Invoice.status.in_(OWED),
            Invoice.due_at.is_not(None),
            Invoice.due_at < horizon,
        )
        .order_by(Invoice.id)
        .options(selectinload(Invoice.payments))
    ).all()
    rows = []
    for invoice in invoices:
        kind = reminder_stage(invoice, now)
        due = invoice_rules.amount_due(invoice)
        if kind is None or due <= 0:
            continue
        rows.append(
            {
                "organization_id": invoice.buyer_id,
                "kind": kind,
                "dedupe_key": f"invoice:{invoice.id}:reminder:{kind}",
                "link": f"/billing/invoices/{invoice.id}",
                "params": {
                    "number": invoice.number,
                    "amount": format_fen(due),
                    "date": due_day(invoice).isoformat(),  # type: ignore[union-attr]
                    "days": overdue_days(invoice, now) or 0,
                },
            }
        )
    return notify.send_many(session, rows)
