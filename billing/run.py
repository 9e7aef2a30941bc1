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
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload, sessionmaker

from billing import contracts as contract_rules
from billing import invoices, notify, outcomes
from billing.models import (
    Contract,
    ContractStatus,
    Invoice,
    InvoiceStatus,
    UsageEvent,
)
from billing.periods import period_bounds, period_index
from billing.rating import subscription_line, usage_period_lines
from catalog.models import BillingModel
from vouchers import wallet

# Contracts closed per transaction: large enough that a query serves many, small enough
# that a batch commits quickly and another host can take the next one.
BATCH_SIZE = 1000

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
    outcomes_confirmed: int = 0  # results confirmed by the buyer's silence
    vouchers_expired: int = 0  # their unspent balance went back to the program's budget


def _lock(session: Session, query: sa.Select) -> sa.Select:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def period_quantities(session: Session, contracts: list[Contract]) -> dict[int, Decimal]:
    """Each usage contract's metered total in its current period, in one query."""
    if not contracts:
        return {}
    rows = session.execute(
        sa.select(UsageEvent.contract_id, sa.func.sum(UsageEvent.quantity))
        .join(Contract, Contract.id == UsageEvent.contract_id)
        .where(
            UsageEvent.contract_id.in_([c.id for c in contracts]),
            UsageEvent.occurred_at >= Contract.current_period_start,
            UsageEvent.occurred_at < Contract.current_period_end,
        )
        .group_by(UsageEvent.contract_id)
    )
    return {contract_id: Decimal(total) for contract_id, total in rows}


def _issued_keys(session: Session, contracts: list[Contract]) -> set[tuple[int, datetime, str]]:
    rows = session.execute(
        sa.select(Invoice.contract_id, Invoice.period_start, Invoice.reason).where(
            Invoice.contract_id.in_([c.id for c in contracts]),
            Invoice.period_start >= min(c.current_period_start for c in contracts),
            Invoice.reason.in_(["usage", "renewal"]),
        )
    )
    return {(contract_id, start, reason) for contract_id, start, reason in rows}


def close_periods(
    session: Session, contracts: list[Contract], *, now: datetime, commission_bp: int
) -> list[Invoice]:
    """Close the current period of each contract (each has ended by ``now``) and open the
    next: usage is invoiced in arrears, subscriptions renew in advance, trials end,
    contracts canceled at period end end. One set of queries for the whole batch."""
    if not contracts:
        return []
    usage = [c for c in contracts if c.plan.billing_model is BillingModel.USAGE]
    quantities = period_quantities(session, usage)
    issued = _issued_keys(session, contracts)
    drafts: list[invoices.InvoiceDraft] = []
    for contract in contracts:
        plan = contract.plan
        interval = contract_rules.interval_of(plan)
        start, end = contract.current_period_start, contract.current_period_end
        if plan.billing_model is BillingModel.USAGE and (contract.id, start, "usage") not in issued:
            lines = usage_period_lines(
                plan,
                quantities.get(contract.id, Decimal(0)),
                start,
                end,
                spend_cap_fen=contract.spend_cap_fen,
            )
            drafts.append(invoices.InvoiceDraft(contract, "usage", start, end, lines))
        if contract.cancel_at_period_end or contract.status is ContractStatus.CANCELED:
            contract.status = ContractStatus.ENDED
            contract.ended_at = end
            continue
        if contract.status is ContractStatus.TRIALING:
            contract.status = ContractStatus.ACTIVE
            next_start, next_end = period_bounds(contract.anchor_at, 0, interval)
        else:
            index = period_index(contract.anchor_at, start, interval) + 1
            next_start, next_end = period_bounds(contract.anchor_at, index, interval)
        contract.current_period_start, contract.current_period_end = next_start, next_end
        if (
            plan.billing_model is BillingModel.SUBSCRIPTION
            and (contract.id, next_start, "renewal") not in issued
        ):
            lines = [subscription_line(plan, next_start, next_end)]
            drafts.append(invoices.InvoiceDraft(contract, "renewal", next_start, next_end, lines))
    created = invoices.create_many(session, drafts, commission_bp=commission_bp, now=now)
    notify.invoices_issued(session, created)
    invoices.schedule_first_attempts(session, created, now)
    return created


def close_period(
    session: Session, contract: Contract, *, now: datetime, commission_bp: int
) -> list[Invoice]:
    """Close one contract's current period (see :func:`close_periods`)."""
    return close_periods(session, [contract], now=now, commission_bp=commission_bp)


def run(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    commission_bp: int,
    charge: Callable[[Session, Invoice, datetime], bool] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> RunReport:
    """Close due periods batch by batch, then retry card payments that are due. ``charge``
    pays an invoice with the buyer's saved card and says whether it succeeded."""
    report = RunReport()
    while True:
        with sessions() as session, session.begin():
            batch = list(
                session.scalars(
                    _lock(
                        session,
                        sa.select(Contract)
                        .where(Contract.current_period_end <= as_of, Contract.status.in_(LIVE))
                        .order_by(Contract.id)
                        .limit(batch_size),
                    ).options(selectinload(Contract.plan))
                )
            )
            if not batch:
                break
            created = close_periods(session, batch, now=as_of, commission_bp=commission_bp)
            report.periods_closed += len(batch)
            report.invoices += [invoice.number for invoice in created]
        if progress:
            progress(len(batch))
    with sessions() as session, session.begin():
        report.outcomes_confirmed = outcomes.auto_confirm(session, now=as_of)
        created = outcomes.invoice_confirmed(session, now=as_of, commission_bp=commission_bp)
        report.invoices += [invoice.number for invoice in created]
    with sessions() as session, session.begin():
        report.vouchers_expired = wallet.expire_due(session, as_of)
    if charge is not None:
        retry_payments(sessions, as_of=as_of, charge=charge, report=report)
    return report


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
