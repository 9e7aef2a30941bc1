"""Reading the ledger: balances per account (and per organization) and the trial balance.

Balances are sums of the append-only entries, never stored counters (DESIGN.md section 4).
Entries are positive for a debit and negative for a credit, so in a sound ledger the trial
balance's debits equal its credits and every transaction sums to zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing import ledger
from billing.ledger_models import LedgerEntry


@dataclass(frozen=True)
class AccountBalance:
    account: str
    organization_id: int | None
    balance_fen: int
    entries: int


@dataclass(frozen=True)
class TrialBalanceRow:
    account: str
    debit_fen: int
    credit_fen: int  # a positive number

    @property
    def balance_fen(self) -> int:
        return self.debit_fen - self.credit_fen


def balances(
    session: Session, *, account: str | None = None, organization_id: int | None = None
) -> list[AccountBalance]:
    """One row per account and organization, optionally narrowed to one of each."""
    query = sa.select(
        LedgerEntry.account,
        LedgerEntry.organization_id,
        sa.func.sum(LedgerEntry.amount_fen),
        sa.func.count(),
    ).group_by(LedgerEntry.account, LedgerEntry.organization_id)
    if account is not None:
        query = query.where(LedgerEntry.account == account)
    if organization_id is not None:
        query = query.where(LedgerEntry.organization_id == organization_id)
    rows = session.execute(query.order_by(LedgerEntry.account, LedgerEntry.organization_id))
    return [AccountBalance(a, org, int(total or 0), int(n)) for a, org, total, n in rows]


def trial_balance(session: Session) -> tuple[list[TrialBalanceRow], list[int]]:
    """Debits and credits per account, and the ids of transactions that do not balance."""
    debit = sa.func.sum(sa.case((LedgerEntry.amount_fen > 0, LedgerEntry.amount_fen), else_=0))
    credit = sa.func.sum(sa.case((LedgerEntry.amount_fen < 0, -LedgerEntry.amount_fen), else_=0))
    rows = session.execute(
        sa.select(LedgerEntry.account, debit, credit)
        .group_by(LedgerEntry.account)
        .order_by(LedgerEntry.account)
    )
    return (
        [TrialBalanceRow(a, int(d or 0), int(c or 0)) for a, d, c in rows],
        ledger.unbalanced_transactions(session),
    )
