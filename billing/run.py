"""``marketplace billing run --as-of T``: close every period that ended by T.

Each contract is closed in its own transaction under a row lock (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite writers queue on its database lock) and re-checked inside
it, and invoices are unique per contract, period and reason: running twice, or on two
hosts at once, creates nothing twice, and a run killed midway resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from billing import contracts as contract_rules
from billing import invoices, notify
from billing.metering import period_quantity
from billing.models import Contract, ContractStatus, Invoice, InvoiceStatus
from billing.periods import period_bounds, period_index
from billing.rating import usage_period_lines
from catalog.models import BillingModel

# Card retries of an unpaid invoice: at issue, then 3 and 7 days later (3 tries over 7 days).
RETRY_OFFSETS = (timedelta(0), timedelta(days=3), timedelta(days=7))

LIVE = (ContractStatus.TRIALING, ContractStatus.ACTIVE, ContractStatus.PAST_DUE)


@dataclass
class RunReport:
    periods_closed: int = 0
    invoices: list[str] = field(default_factory=list)
    payment_attempts: int = 0
    payments_failed: int = 0
    suspended: int = 0


def _lock(session: Session, query: sa.Select) -> sa.Select:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def close_period(
    session: Session, contract: Contract, *, now: datetime, commission_bp: int
) -> list[Invoice]:
    """Close the contract's current period (it has ended) and open the next one."""
    plan = contract.plan
    interval = contract_rules.interval_of(plan)
    start, end = contract.current_period_start, contract.current_period_end
    issued: list[Invoice] = []
    if (
        plan.billing_model is BillingModel.USAGE
        and invoices.existing(session, contract.id, start, "usage") is None
    ):
        quantity = period_quantity(session, contract, start, end)
        lines = usage_period_lines(plan, quantity, start, end, spend_cap_fen=contract.spend_cap_fen)
        invoice = invoices.create(
            session,
            contract,
            reason="usage",
            period_start=start,
            period_end=end,
            lines=lines,
            commission_bp=commission_bp,
            now=now,
        )
        notify.invoice_issued(session, invoice)
        issued.append(invoice)
    if contract.cancel_at_period_end or contract.status is ContractStatus.CANCELED:
        contract.status = ContractStatus.ENDED
        contract.ended_at = end
        session.flush()
        return issued
    if contract.status is ContractStatus.TRIALING:
        contract.status = ContractStatus.ACTIVE
        next_start, next_end = period_bounds(contract.anchor_at, 0, interval)
    else:
        index = period_index(contract.anchor_at, start, interval) + 1
        next_start, next_end = period_bounds(contract.anchor_at, index, interval)
    contract.current_period_start, contract.current_period_end = next_start, next_end
    session.flush()
    if plan.billing_model is BillingModel.SUBSCRIPTION:
        invoice = contract_rules.bill_subscription_period(
            session, contract, now=now, commission_bp=commission_bp
        )
        if invoice is not None:
            issued.append(invoice)
    return issued


def run(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    commission_bp: int,
    charge: Callable[[Session, Invoice, datetime], bool] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RunReport:
    """Close due periods, then retry card payments that are due. ``charge`` pays an
    invoice with the buyer's saved card and says whether it succeeded."""
    report = RunReport()
    with sessions() as session:
        due = list(
            session.scalars(
                sa.select(Contract.id)
                .where(Contract.current_period_end <= as_of, Contract.status.in_(LIVE))
                .order_by(Contract.id)
            )
        )
    for done, contract_id in enumerate(due, start=1):
        with sessions() as session, session.begin():
            contract = session.scalar(
                _lock(
                    session,
                    sa.select(Contract).where(
                        Contract.id == contract_id,
                        Contract.current_period_end <= as_of,
                        Contract.status.in_(LIVE),
                    ),
                )
            )
            while (
                contract is not None
                and contract.status in LIVE
                and contract.current_period_end <= as_of
            ):
                issued = close_period(session, contract, now=as_of, commission_bp=commission_bp)
                report.periods_closed += 1
                report.invoices += [invoice.number for invoice in issued]
                for invoice in issued:
                    schedule_first_attempt(session, invoice, as_of)
        if progress:
            progress(done)
    if charge is not None:
        retry_payments(sessions, as_of=as_of, charge=charge, report=report)
    return report


def schedule_first_attempt(session: Session, invoice: Invoice, now: datetime) -> None:
    from billing.models import StripeCustomer

    if invoice.status is not InvoiceStatus.OPEN:
        return
    card = session.get(StripeCustomer, invoice.buyer_id)
    if card is not None and card.payment_method_id:
        invoice.next_attempt_at = now
        session.flush()


def retry_payments(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    charge: Callable[[Session, Invoice, datetime], bool],
    report: RunReport,
) -> None:
    with sessions() as session:
        due = list(
            session.scalars(
                sa.select(Invoice.id)
                .where(
                    Invoice.status == InvoiceStatus.OPEN,
                    Invoice.next_attempt_at.is_not(None),
                    Invoice.next_attempt_at <= as_of,
                )
                .order_by(Invoice.id)
            )
        )
    for invoice_id in due:
        with sessions() as session, session.begin():
            invoice = session.scalar(
                _lock(
                    session,
                    sa.select(Invoice).where(
                        Invoice.id == invoice_id,
                        Invoice.status == InvoiceStatus.OPEN,
                        Invoice.next_attempt_at <= as_of,
                    ),
                )
            )
            if invoice is None:
                continue
            report.payment_attempts += 1
            if charge(session, invoice, as_of):
                continue
            report.payments_failed += 1
            invoice.attempt_count += 1
            if invoice.attempt_count < len(RETRY_OFFSETS):
                invoice.next_attempt_at = invoice.issued_at + RETRY_OFFSETS[invoice.attempt_count]
                if invoice.next_attempt_at <= as_of:
                    invoice.next_attempt_at = as_of + timedelta(days=1)
            else:
                invoice.next_attempt_at = None
                contract = invoice.contract
                if contract.status in (ContractStatus.ACTIVE, ContractStatus.TRIALING):
                    contract.status = ContractStatus.PAST_DUE
                    report.suspended += 1
                    notify.send(
                        session,
                        contract.buyer_id,
                        "contract_suspended",
                        f"suspended:contract:{contract.id}:invoice:{invoice.id}",
                        link=f"/billing/invoices/{invoice.id}",
                        solution=contract.solution.published.name
                        if contract.solution.published
                        else "",
                        number=invoice.number,
                    )
            session.flush()
