"""``marketplace billing run --as-of T``."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext

from billing import reconciliation
from billing import run as billing_run
from billing.payments import gateway
from marketplace.db import db


def parse_moment(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use ISO 8601, e.g. 2026-12-01T00:00:00+08:00") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@click.group("billing", help="Billing periods, invoices and payment retries.")
def billing_group() -> None:
    pass


@billing_group.command("run")
@click.option("--as-of", "as_of", help="Close periods ended by this moment (default: now)")
@with_appcontext
def run_command(as_of: str | None) -> None:
    """Close every period ended by --as-of: usage in arrears, renewals in advance, trial
    ends, card retries. Safe to run twice or on several hosts at once. A contract whose
    period cannot be closed is recorded as a billing error and named here; the others are
    closed, and the command then exits with status 1."""
    moment = parse_moment(as_of)
    charge = current_app.extensions.get("billing.charge")
    with click.progressbar(length=0, label="closing periods", file=sys.stderr) as bar:
        report = billing_run.run(
            db.sessions,
            as_of=moment,
            commission_bp=current_app.config["PLATFORM_COMMISSION_BP"],
            charge=charge,
            progress=lambda done: bar.update(1),
            reconcile=reconciliation.for_billing_run(current_app),
        )
    click.echo(
        f"as of {moment.isoformat()}: {report.periods_closed} period(s) closed, "
        f"{len(report.invoices)} invoice(s) issued, {report.payment_attempts} card attempt(s), "
        f"{report.payments_failed} failed, {report.suspended} contract(s) suspended, "
        f"{report.outcomes_confirmed} result(s) confirmed by silence, "
        f"{report.vouchers_expired} voucher(s) expired, "
        f"{report.attempts_reconciled} card attempt(s) reconciled"
    )
    if report.failures:
        for failure in report.failures:
            click.echo(
                f"contract {failure.contract_id}: the period from "
                f"{failure.period_start.isoformat()} was not closed: "
                f"{failure.code}: {failure.message}",
                err=True,
            )
        names = ", ".join(str(failure.contract_id) for failure in report.failures)
        raise click.ClickException(
            f"{len(report.failures)} contract(s) not closed: {names} "
            "(recorded as billing errors: see the operator console)"
        )


@billing_group.command("reconcile-payments")
@with_appcontext
def reconcile_payments_command() -> None:
    """Ask Stripe about card payments left in flight by requests that died, and book,
    fail or cancel them (the billing run does this too)."""
    client = gateway.stripe_client()
    if client is None:
        raise click.ClickException("card payments are not configured (STRIPE_SECRET_KEY)")
    report = reconciliation.reconcile(db.sessions, client)
    found = ", ".join(f"{n} {status}" for status, n in sorted(report.outcomes.items()))
    click.echo(
        f"{report.checked} attempt(s) checked: {found or 'none settled'}; "
        f"{report.errors} could not be checked"
    )
    if report.errors:
        sys.exit(1)
