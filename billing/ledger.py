"""The double-entry ledger: every movement of money is a balanced transaction.

Entries are append-only; a balance is the sum of an account's entries, never a stored
counter. Positive amounts are debits, negative are credits. Accounts:

    buyer_receivable      what a buyer owes (negative: the buyer has credit)
    vendor_payable        what the platform owes a vendor (credit balance)
    platform_commission   the platform's revenue (credit balance)
    stripe_clearing       card money held at Stripe
    bank_clearing         bank transfers received
    voucher_program_payable  what a voucher program owes (vouchers issue)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.models import LedgerEntry, LedgerTransaction

BUYER_RECEIVABLE = "buyer_receivable"
VENDOR_PAYABLE = "vendor_payable"
PLATFORM_COMMISSION = "platform_commission"
STRIPE_CLEARING = "stripe_clearing"
BANK_CLEARING = "bank_clearing"
VOUCHER_PROGRAM_PAYABLE = "voucher_program_payable"


class UnbalancedTransaction(ValueError):
    """The entries of a transaction do not sum to zero."""


@dataclass(frozen=True)
class Line:
    account: str
    amount_fen: int  # + debit, - credit
    organization_id: int | None = None


def build(
    kind: str,
    lines: Iterable[Line],
    *,
    memo: str = "",
    invoice_id: int | None = None,
    payment_id: int | None = None,
    refund_id: int | None = None,
) -> LedgerTransaction:
    """A balanced transaction, not yet added to a session; zero lines are dropped, an
    imbalance refused."""
    entries = [line for line in lines if line.amount_fen != 0]
    if sum(line.amount_fen for line in entries) != 0:
        raise UnbalancedTransaction(f"{kind}: entries sum to {sum(e.amount_fen for e in entries)}")
    transaction = LedgerTransaction(
        kind=kind,
        memo=memo[:300],
        invoice_id=invoice_id,
        payment_id=payment_id,
        refund_id=refund_id,
    )
    transaction.entries = [
        LedgerEntry(
            account=line.account, organization_id=line.organization_id, amount_fen=line.amount_fen
        )
        for line in entries
    ]
    return transaction


def post(session: Session, kind: str, lines: Iterable[Line], **links: Any) -> LedgerTransaction:
    """Record one balanced transaction now."""
    transaction = build(kind, lines, **links)
    session.add(transaction)
    session.flush()
    return transaction


def insert_many(session: Session, transactions: list[LedgerTransaction], *, now: datetime) -> None:
    """Store built transactions with two multi-row inserts (for batch jobs)."""
    if not transactions:
        return
    table = LedgerTransaction.__table__
    ids = session.scalars(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [
            {
                "kind": t.kind,
                "memo": t.memo,
                "invoice_id": t.invoice_id,
                "payment_id": t.payment_id,
                "refund_id": t.refund_id,
                "created_at": now,
            }
            for t in transactions
        ],
    ).all()
    session.execute(
        sa.insert(LedgerEntry.__table__),
        [
            {
                "transaction_id": transaction_id,
                "account": e.account,
                "organization_id": e.organization_id,
                "amount_fen": e.amount_fen,
            }
            for transaction_id, t in zip(ids, transactions, strict=True)
            for e in t.entries
        ],
    )


def balance(session: Session, account: str, organization_id: int | None = None) -> int:
    """The debit balance of an account (credit balances come out negative)."""
    query = sa.select(sa.func.coalesce(sa.func.sum(LedgerEntry.amount_fen), 0)).where(
        LedgerEntry.account == account
    )
    if organization_id is not None:
        query = query.where(LedgerEntry.organization_id == organization_id)
    return int(session.scalar(query) or 0)


def unbalanced_transactions(session: Session) -> list[int]:
    """Ids of transactions whose entries do not sum to zero (there must be none)."""
    rows = session.execute(
        sa.select(LedgerEntry.transaction_id)
        .group_by(LedgerEntry.transaction_id)
        .having(sa.func.sum(LedgerEntry.amount_fen) != 0)
    )
    return [row[0] for row in rows]


def split_commission(amount_fen: int, commission_bp: int) -> tuple[int, int]:
    """(vendor share, platform commission) of an amount; the parts add up exactly."""
    from marketplace.money import apply_basis_points

    commission = apply_basis_points(amount_fen, commission_bp)
    return amount_fen - commission, commission
