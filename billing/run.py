"""``marketplace billing run --as-of T``: close every period that ended by T.

Contracts are closed in batches, each in its own transaction under row locks (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL; SQLite writers queue on its database lock) and re-checked
inside it, and invoices are unique per contract, period and reason: running twice, or on
two hosts at once, creates nothing twice, and a run killed midway resumes where it stopped.

One contract cannot stop billing for everyone: when a batch fails, its contracts are
closed one by one, each in its own transaction, and a contract that fails alone is
recorded as a billing error (billing/run_errors.py) while the run goes on; the run's report
lists it, and the CLI exits non-zero naming it. Contracts with an open billing error are
retried alone at the end of every run, so they never hold up a batch again.

A contract canceled "now" is closed like any other: its last period ends at the
cancellation (billing/contracts.py ``cancel``), its usage is invoiced in arrears, and it
ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload, sessionmaker

from billing import run_errors
from billing.card_retries import RETRY_OFFSETS, retry_payments
from billing.error_models import CLOSE, BillingError
from billing.models import Contract, ContractStatus, Invoice
from billing.outcomes import invoicing, verification
from billing.outcomes.models import OutcomeReport, ReportStatus
from billing.period_close import close_period, close_periods, skip_locked
from marketplace.db import utcnow
from vouchers import wallet

# What the run's callers and tests name as ``run.<name>``.
__all__ = ["RETRY_OFFSETS", "close_period", "close_periods", "retry_payments", "run"]

log = logging.getLogger(__name__)

# Contracts closed per transaction: large enough that a query serves many, small enough
# that a batch commits quickly and another host can take the next one.
BATCH_SIZE = 1000

LIVE = (ContractStatus.TRIALING, ContractStatus.ACTIVE, ContractStatus.PAST_DUE)
# Whose periods the run closes: live contracts, and those canceled now (their last period
# ends at the cancellation and is closed like any other).
CLOSABLE = (*LIVE, ContractStatus.CANCELED)


@dataclass(frozen=True)
class CloseFailure:
    """A contract whose period could not be closed (recorded as a billing error)."""

    contract_id: int
    period_start: datetime
    code: str
    message: str


@dataclass
class RunReport:
    periods_closed: int = 0
    failures: list[CloseFailure] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)
    payment_attempts: int = 0
    payments_failed: int = 0
    suspended: int = 0
    outcomes_confirmed: int = 0  # results confirmed by the buyer's silence
    vouchers_expired: int = 0  # their unspent balance went back to the program's budget
    attempts_reconciled: int = 0  # card attempts left in flight, settled from Stripe


def _due(as_of: datetime) -> sa.Select[Contract]:
    return (
        sa.select(Contract)
        .where(Contract.current_period_end <= as_of, Contract.status.in_(CLOSABLE))
        .order_by(Contract.id)
    )


def run(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    commission_bp: int,
    charge: Callable[[Session, Invoice, datetime], bool | None] | None = None,
    progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH_SIZE,
    reconcile: Callable[[sessionmaker[Session]], int] | None = None,
) -> RunReport:
    """Close due periods batch by batch, then retry card payments that are due. ``charge``
    pays an invoice with the buyer's saved card and says whether it succeeded."""
    report = RunReport()
    failed: set[int] = set()  # failed in this run: not tried again until the next one
    # Keyset: a batch starts after the previous batch's last id, so it reads only contracts
    # not seen yet (restarting from the first due id made each batch skip all the closed
    # ones: a quadratic run). When the end is reached, one more pass from the start takes
    # what another run held, and the next period of contracts more than one period behind.
    after = 0
    while True:
        batch_ids: list[int] = []
        try:
            with sessions() as session, session.begin():
                batch = list(
                    session.scalars(
                        skip_locked(
                            session,
                            _due(as_of)
                            .where(
                                Contract.id > after,
                                ~run_errors.has_open_error(),
                                Contract.id.not_in(failed),
                            )
                            .limit(batch_size),
                        ).options(selectinload(Contract.plan))
                    )
                )
                if batch:
                    after = batch[-1].id
                batch_ids = [contract.id for contract in batch]
                if not batch_ids:
                    if after == 0:
                        break
                    after = 0
                    continue
                created = [
                    invoice.number
                    for invoice in close_periods(
                        session, batch, now=as_of, commission_bp=commission_bp
                    )
                ]
        except Exception:
            if not batch_ids:
                raise
            log.warning("billing run: a batch of %d failed; closing one by one", len(batch_ids))
            for contract_id in batch_ids:
                if not _close_alone(sessions, contract_id, as_of, commission_bp, report):
                    failed.add(contract_id)
        else:
            report.periods_closed += len(batch_ids)
            report.invoices += created
        if progress:
            progress(len(batch_ids))
    _retry_failed(sessions, as_of=as_of, commission_bp=commission_bp, report=report, skip=failed)
    with sessions() as session, session.begin():
        report.outcomes_confirmed = verification.auto_confirm(session, now=as_of)
    _invoice_results(sessions, as_of=as_of, commission_bp=commission_bp, report=report)
    with sessions() as session, session.begin():
        report.vouchers_expired = wallet.expire_due(session, as_of)
    if reconcile is not None:
        # Before the retries: a charge whose request died is booked, not made again.
        report.attempts_reconciled = reconcile(sessions)
    if charge is not None:
        retry_payments(sessions, as_of=as_of, charge=charge, report=report)
    return report


def _close_alone(
    sessions: sessionmaker[Session],
    contract_id: int,
    as_of: datetime,
    commission_bp: int,
    report: RunReport,
) -> bool:
    """Close one due period of one contract in a transaction of its own. A failure is
    recorded as the contract's billing error; a success resolves its open errors. Whether
    a period was closed."""
    failure: CloseFailure | None = None
    with sessions() as session, session.begin():
        contract = session.scalar(
            skip_locked(session, _due(as_of).where(Contract.id == contract_id)).options(
                selectinload(Contract.plan)
            )
        )
        if contract is None:
            return False  # closed meanwhile (another host), or no longer due
        try:
            with session.begin_nested():
                created = close_periods(session, [contract], now=as_of, commission_bp=commission_bp)
        except Exception as exc:
            session.expire_all()  # back to the rows as they were before the attempt
            error = run_errors.record(session, contract, exc, now=utcnow())
            failure = CloseFailure(contract_id, error.period_start, error.code, error.message)
        else:
            numbers = [invoice.number for invoice in created]
            run_errors.resolve(session, [contract_id], now=utcnow())
    if failure is not None:
        report.failures.append(failure)
        return False
    report.periods_closed += 1
    report.invoices += numbers
    return True


def _invoice_results(
    sessions: sessionmaker[Session], *, as_of: datetime, commission_bp: int, report: RunReport
) -> None:
    """Invoice confirmed outcome results, all in one transaction; when that fails, one
    result at a time, so a broken one is recorded as its contract's billing error (for
    the result's period) and the others are invoiced."""
    try:
        with sessions() as session, session.begin():
            created = invoicing.invoice_confirmed(session, now=as_of, commission_bp=commission_bp)
            numbers = [invoice.number for invoice in created]
            run_errors.resolve_results(
                session, [(i.contract_id, i.period_start) for i in created], now=utcnow()
            )
    except Exception:
        log.warning("billing run: invoicing results failed; invoicing them one by one")
    else:
        report.invoices += numbers
        return
    with sessions() as session:
        pending = list(
            session.scalars(
                sa.select(OutcomeReport.id)
                .where(
                    OutcomeReport.status == ReportStatus.CONFIRMED,
                    OutcomeReport.invoice_id.is_(None),
                )
                .order_by(OutcomeReport.id)
            )
        )
    for report_id in pending:
        failure: CloseFailure | None = None
        with sessions() as session, session.begin():
            try:
                with session.begin_nested():
                    created = invoicing.invoice_confirmed(
                        session, now=as_of, commission_bp=commission_bp, report_ids=[report_id]
                    )
            except Exception as exc:
                session.expire_all()
                result = session.get(OutcomeReport, report_id)
                assert result is not None
                error = run_errors.record(
                    session,
                    result.contract,
                    exc,
                    now=utcnow(),
                    period=(result.period_start, result.period_end),
                )
                failure = CloseFailure(
                    result.contract_id, error.period_start, error.code, error.message
                )
            else:
                numbers = [invoice.number for invoice in created]
                run_errors.resolve_results(
                    session, [(i.contract_id, i.period_start) for i in created], now=utcnow()
                )
        if failure is not None:
            report.failures.append(failure)
        else:
            report.invoices += numbers


def _retry_failed(
    sessions: sessionmaker[Session],
    *,
    as_of: datetime,
    commission_bp: int,
    report: RunReport,
    skip: set[int],
) -> None:
    """Try again, one by one, the due contracts with an open billing error; each is closed
    period after period until it is up to date or fails again."""
    with sessions() as session, session.begin():
        # Errors of periods that closed some other way (the contract moved on) are over.
        session.execute(
            sa.update(BillingError)
            .where(
                BillingError.resolved_at.is_(None),
                BillingError.step == CLOSE,
                BillingError.period_start
                < sa.select(Contract.current_period_start)
                .where(Contract.id == BillingError.contract_id)
                .scalar_subquery(),
            )
            .values(resolved_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        retry = list(
            session.scalars(
                _due(as_of)
                .where(run_errors.has_open_error(), Contract.id.not_in(skip))
                .with_only_columns(Contract.id)
            )
        )
    for contract_id in retry:
        while _close_alone(sessions, contract_id, as_of, commission_bp, report):
            pass
