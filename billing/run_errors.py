"""What the billing run does with a contract whose period it cannot close.

A broken contract (a plan row changed behind the application's back, a figure beyond the
documented maxima, a database refusal) must not stop billing for everyone: the run closes
it alone, and when that fails too records the failure here as a ``BillingError`` of the
contract and period, then goes on. A rerun that fails again counts another attempt on the
same row; the first close that succeeds resolves it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, selectinload

from billing.error_models import CLOSE, RESULTS, BillingError
from billing.models import Contract
from catalog.limits import LimitExceeded

log = logging.getLogger(__name__)

MAX_MESSAGE = 2000


def describe(exc: BaseException) -> tuple[str, str]:
    """A short code and a message for the operator."""
    if isinstance(exc, LimitExceeded):
        return exc.code, exc.message
    if isinstance(exc, DBAPIError):
        return "database_error", str(exc.orig or exc).strip()[:MAX_MESSAGE]
    return "internal_error", f"{type(exc).__name__}: {exc}"[:MAX_MESSAGE]


def record(
    session: Session,
    contract: Contract,
    exc: BaseException,
    *,
    now: datetime,
    period: tuple[datetime, datetime] | None = None,
) -> BillingError:
    """Record (or count again) the failure to close ``contract``'s current period, or to
    invoice its outcome result of ``period``."""
    code, message = describe(exc)
    step = CLOSE if period is None else RESULTS
    start, end = period or (contract.current_period_start, contract.current_period_end)
    log.error(
        "billing run: contract %s, period from %s, not closed: %s: %s",
        contract.id,
        start.isoformat(),
        code,
        message,
        exc_info=exc,
    )
    error = session.scalar(
        sa.select(BillingError).where(
            BillingError.contract_id == contract.id,
            BillingError.period_start == start,
            BillingError.step == step,
        )
    )
    if error is None:
        error = BillingError(
            contract_id=contract.id,
            period_start=start,
            period_end=end,
            step=step,
            code=code,
            message=message,
            first_seen_at=now,
            last_seen_at=now,
            attempts=1,
        )
        session.add(error)
    else:
        error.code, error.message = code, message
        error.period_end = end
        error.last_seen_at = max(now, error.first_seen_at)
        error.attempts += 1
        error.resolved_at = None
    session.flush()
    return error


def resolve(session: Session, contract_ids: Iterable[int], *, now: datetime) -> None:
    """The contracts' periods closed: their open errors of closing are resolved."""
    ids = list(contract_ids)
    if not ids:
        return
    session.execute(
        sa.update(BillingError)
        .where(
            BillingError.contract_id.in_(ids),
            BillingError.step == CLOSE,
            BillingError.resolved_at.is_(None),
        )
        .values(resolved_at=now)
        .execution_options(synchronize_session=False)
    )


def resolve_results(
    session: Session, periods: Iterable[tuple[int, datetime]], *, now: datetime
) -> None:
    """These (contract, period start) results were invoiced: their open errors are over."""
    keys = set(periods)
    if not keys or not session.scalar(
        sa.select(BillingError.id)
        .where(BillingError.step == RESULTS, BillingError.resolved_at.is_(None))
        .limit(1)
    ):
        return
    for contract_id, start in keys:
        session.execute(
            sa.update(BillingError)
            .where(
                BillingError.contract_id == contract_id,
                BillingError.period_start == start,
                BillingError.step == RESULTS,
                BillingError.resolved_at.is_(None),
            )
            .values(resolved_at=now)
            .execution_options(synchronize_session=False)
        )


def has_open_error() -> sa.ColumnElement[bool]:
    """For queries of contracts: the contract has an open error of closing its period."""
    return (
        sa.select(BillingError.id)
        .where(
            BillingError.contract_id == Contract.id,
            BillingError.step == CLOSE,
            BillingError.resolved_at.is_(None),
        )
        .exists()
    )


def open_errors(session: Session, *, limit: int = 500) -> list[BillingError]:
    """The open billing errors, most recently seen first."""
    return list(
        session.scalars(
            sa.select(BillingError)
            .where(BillingError.resolved_at.is_(None))
            .options(
                selectinload(BillingError.contract).selectinload(Contract.buyer),
                selectinload(BillingError.contract).selectinload(Contract.vendor),
                selectinload(BillingError.contract).selectinload(Contract.plan),
            )
            .order_by(BillingError.last_seen_at.desc(), BillingError.id.desc())
            .limit(limit)
        )
    )
