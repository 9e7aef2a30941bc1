"""Closing billing periods: what the run does to a batch of due contracts.

Usage is invoiced in arrears, subscriptions renew in advance, trials end, contracts
canceled (now, or at period end) end. An invoice is unique per contract, period and reason,
so a period already invoiced (by an earlier run that died after its commit, or by a
cancellation) is not invoiced again. The whole batch costs a fixed set of statements, each
bounded to the batch's own rows: the cost of a batch does not grow with the history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from billing import contracts as contract_rules
from billing import invoices, notify, webhook_events
from billing.charges import subscription_line, usage_period_lines
from billing.metering.events import in_ids, period_quantities
from billing.models import Contract, ContractStatus, Invoice
from billing.periods import period_bounds, period_index
from catalog.models import BillingModel
from marketplace.states import transition

T = TypeVar("T")


def skip_locked(session: Session, query: sa.Select[T]) -> sa.Select[T]:
    """Lock the rows read, skipping those another run holds (PostgreSQL); SQLite writers
    queue on its database lock instead."""
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


_MOVE = sa.text(
    """
    UPDATE contracts SET current_period_start = m.start, current_period_end = m.end
    FROM unnest(CAST(:ids AS integer[]), CAST(:starts AS timestamptz[]),
                CAST(:ends AS timestamptz[])) AS m(id, start, "end")
    WHERE contracts.id = m.id
    """
)


def _move_periods(session: Session, moves: list[tuple[Contract, datetime, datetime]]) -> None:
    """Move the contracts to their next period with one UPDATE (PostgreSQL): the ORM's
    flush of a thousand changed contracts costs about as much as all the rest of a batch.
    The loaded contracts are told their new values, as if they had been flushed."""
    if session.get_bind().dialect.name != "postgresql" or len(moves) < 2:
        for contract, start, end in moves:
            contract.current_period_start, contract.current_period_end = start, end
        return
    session.execute(
        _MOVE,
        {
            "ids": [contract.id for contract, _start, _end in moves],
            "starts": [start for _contract, start, _end in moves],
            "ends": [end for _contract, _start, end in moves],
        },
    )
    for contract, start, end in moves:
        set_committed_value(contract, "current_period_start", start)
        set_committed_value(contract, "current_period_end", end)


def _issued_keys(session: Session, contracts: list[Contract]) -> set[tuple[int, datetime, str]]:
    """(contract, period start, reason) of the batch's invoices from its current periods on.
    The range of contract ids keeps the lookup on the unique index's first column, whatever
    the planner believes of the table's size (a batch is a range of ids, in id order)."""
    ids = [c.id for c in contracts]
    rows = session.execute(
        sa.select(Invoice.contract_id, Invoice.period_start, Invoice.reason).where(
            Invoice.contract_id.between(min(ids), max(ids)),
            in_ids(session, Invoice.contract_id, ids),
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
    contracts canceled (now, or at period end) end. One set of queries for the whole
    batch."""
    if not contracts:
        return []
    usage = [c for c in contracts if c.plan.billing_model is BillingModel.USAGE]
    quantities = period_quantities(session, usage)
    issued = _issued_keys(session, contracts)
    drafts: list[invoices.InvoiceDraft] = []
    moves: list[tuple[Contract, datetime, datetime]] = []  # to their next period
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
        canceled_at = contract.canceled_at
        if contract.status is ContractStatus.CANCELED and canceled_at and canceled_at > end:
            # Canceled after this period ended but before the run closed it: one more
            # period, cut at the cancellation, is left to bill.
            index = period_index(contract.anchor_at, start, interval) + 1
            next_start, next_end = period_bounds(contract.anchor_at, index, interval)
            contract.current_period_start = max(next_start, end)
            contract.current_period_end = min(next_end, canceled_at)
            continue
        if contract.cancel_at_period_end or contract.status is ContractStatus.CANCELED:
            # Stamps ended_at; the run's record of it is the contract's webhook event.
            transition(contract, ContractStatus.ENDED, None, now=end, audit_row=False)
            continue
        if contract.status is ContractStatus.TRIALING:
            transition(contract, ContractStatus.ACTIVE, None, audit_row=False)
            next_start, next_end = period_bounds(contract.anchor_at, 0, interval)
            webhook_events.contract_event(
                session, contract, "contract.activated", now=now, key="activated"
            )
        else:
            index = period_index(contract.anchor_at, start, interval) + 1
            next_start, next_end = period_bounds(contract.anchor_at, index, interval)
        moves.append((contract, next_start, next_end))
        if (
            plan.billing_model is BillingModel.SUBSCRIPTION
            and (contract.id, next_start, "renewal") not in issued
        ):
            lines = [subscription_line(plan, next_start, next_end)]
            drafts.append(invoices.InvoiceDraft(contract, "renewal", next_start, next_end, lines))
    _move_periods(session, moves)
    created = invoices.create_many(session, drafts, commission_bp=commission_bp, now=now)
    notify.invoices_issued(session, created)
    invoices.schedule_first_attempts(session, created, now)
    return created


def close_period(
    session: Session, contract: Contract, *, now: datetime, commission_bp: int
) -> list[Invoice]:
    """Close one contract's current period (see :func:`close_periods`)."""
    return close_periods(session, [contract], now=now, commission_bp=commission_bp)
