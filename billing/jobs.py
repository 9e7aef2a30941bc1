"""Billing's scheduled jobs: the billing run (closing periods, outcome auto-confirmation,
voucher expiry, payment reconciliation, dunning), as ``marketplace billing run`` does it;
due reminders; and the reconciliation of refunds left pending by a request that died.
Each is safe on several hosts at once; the worker's slot key also runs it once per slot."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask

from billing import overdue, reconciliation
from billing import run as billing_run
from billing.metering import partitions
from billing.payments import gateway, refunds
from marketplace import worker
from marketplace.db import db, utcnow

RUN_EVERY = timedelta(minutes=15)
REMINDERS_EVERY = timedelta(hours=1)
REFUNDS_EVERY = timedelta(minutes=5)
PARTITIONS_EVERY = timedelta(days=1)


def billing_run_job(app: Flask, _slot: datetime) -> str:
    report = billing_run.run(
        db.sessions,
        as_of=utcnow(),
        commission_bp=app.config["PLATFORM_COMMISSION_BP"],
        charge=app.extensions.get("billing.charge"),
        reconcile=reconciliation.for_billing_run(app),
    )
    result = (
        f"{report.periods_closed} period(s) closed, {len(report.invoices)} invoice(s), "
        f"{report.payment_attempts} card attempt(s), {report.suspended} suspended, "
        f"{report.outcomes_confirmed} result(s) confirmed, "
        f"{report.vouchers_expired} voucher(s) expired, "
        f"{report.attempts_reconciled} attempt(s) reconciled"
    )
    if report.failures:
        names = ", ".join(str(failure.contract_id) for failure in report.failures)
        raise RuntimeError(f"{result}; not closed: {names} (see billing errors)")
    return result


def due_reminders_job(_app: Flask, _slot: datetime) -> str:
    """Reminders before, on and after invoices' due days (each once; see billing/overdue)."""
    sent = overdue.send_due_reminders(db.session)
    db.session.commit()
    return f"{sent} reminder(s) sent"


def refund_reconciliation_job(app: Flask, _slot: datetime) -> str:
    """Card refunds still pending after any request could be working on them: booked or
    failed from what Stripe says (billing/payments/refunds.py)."""
    client = gateway.stripe_client(app)
    if client is None:
        return "card payments are not configured"
    report = refunds.reconcile(db.sessions, client)
    outcomes = ", ".join(f"{n} {status}" for status, n in sorted(report.outcomes.items()))
    result = f"{report.checked} pending refund(s) checked" + (f": {outcomes}" if outcomes else "")
    if report.errors:
        raise RuntimeError(f"{result}; Stripe could not be asked about {report.errors}")
    return result


def usage_partitions_job(_app: Flask, _slot: datetime) -> str:
    """The usage_events partitions of this month and the next ones (PostgreSQL), daily."""
    with db.sessions() as session, session.begin():
        created = partitions.ensure_ahead(session.connection(), utcnow())
    return f"{len(created)} partition(s) created" + (f": {', '.join(created)}" if created else "")


def install(app: Flask) -> None:
    worker.every(app, "billing_run", RUN_EVERY, billing_run_job)
    worker.every(app, "invoice_reminders", REMINDERS_EVERY, due_reminders_job)
    worker.every(app, "refund_reconciliation", REFUNDS_EVERY, refund_reconciliation_job)
    worker.every(app, "usage_partitions", PARTITIONS_EVERY, usage_partitions_job)
