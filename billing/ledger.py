"""The double-entry ledger: every movement of money is a balanced transaction.

Entries are append-only; a balance is the sum of an account's entries, never a stored
counter. Positive amounts are debits, negative are credits. Accounts:

    buyer_receivable      what a buyer owes (negative: the buyer has credit)
    vendor_payable        what the platform owes a vendor (credit balance)
    platform_commission   the platform's revenue (credit balance)
    stripe_clearing       card money held at Stripe
    bank_clearing         bank transfers received
    voucher_program_payable  what a voucher program owes (vouchers issue)
    customer_credit       the buyers' credit balances, owed to them as credit on their next
                          invoices (credit balance; billing/credits.py)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from billing.ledger_models import LedgerEntry, LedgerTransaction
from marketplace.db import copy_rows, insert_returning_ids
from marketplace.money import apply_basis_points

BUYER_RECEIVABLE = "buyer_receivable"
VENDOR_PAYABLE = "vendor_payable"
PLATFORM_COMMISSION = "platform_commission"
STRIPE_CLEARING = "stripe_clearing"
BANK_CLEARING = "bank_clearing"
VOUCHER_PROGRAM_PAYABLE = "voucher_program_payable"
CUSTOMER_CREDIT = "customer_credit"


class UnbalancedTransaction(ValueError):
    """The entries of a transaction do not sum to zero."""


@dataclass(frozen=True)
class Line:
    account: str
    amount_fen: int  # + debit, - credit
    organization_id: int | None = None


@dataclass(frozen=True)
class Booking:
    """A balanced transaction as plain values (checked when made)."""

    kind: str
    lines: tuple[Line, ...]
    memo: str = ""
    invoice_id: int | None = None
    payment_id: int | None = None
    refund_id: int | None = None


def booking(kind: str, lines: Iterable[Line], *, memo: str = "", **links: Any) -> Booking:
    """Zero lines are dropped; entries that do not sum to zero are refused."""
    entries = tuple(line for line in lines if line.amount_fen != 0)
    if sum(line.amount_fen for line in entries) != 0:
        raise UnbalancedTransaction(f"{kind}: entries sum to {sum(e.amount_fen for e in entries)}")
    return Booking(kind, entries, memo[:300], **links)


def post(session: Session, kind: str, lines: Iterable[Line], **links: Any) -> LedgerTransaction:
    """Record one balanced transaction now."""
    checked = booking(kind, lines, **links)
    transaction = LedgerTransaction(
        kind=checked.kind,
        memo=checked.memo,
        invoice_id=checked.invoice_id,
        payment_id=checked.payment_id,
        refund_id=checked.refund_id,
    )
    transaction.entries = [
        LedgerEntry(account=e.account, organization_id=e.organization_id, amount_fen=e.amount_fen)
        for e in checked.lines
    ]
    session.add(transaction)
    session.flush()
    return transaction


def insert_many(session: Session, bookings: list[Booking], *, now: datetime) -> None:
    """Store bookings with two multi-row inserts (for batch jobs)."""
    bookings = [b for b in bookings if b.lines]
    if not bookings:
        return
    ids = insert_returning_ids(
        session,
        LedgerTransaction.__table__,
        [
            {
                "kind": b.kind,
                "memo": b.memo,
                "invoice_id": b.invoice_id,
                "payment_id": b.payment_id,
                "refund_id": b.refund_id,
                "created_at": now,
            }
            for b in bookings
        ],
    )
    copy_rows(
        session,
        LedgerEntry.__table__,
        [
            {
                "transaction_id": transaction_id,
                "account": e.account,
                "organization_id": e.organization_id,
                "amount_fen": e.amount_fen,
            }
            for transaction_id, b in zip(ids, bookings, strict=True)
            for e in b.lines
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
    commission = apply_basis_points(amount_fen, commission_bp)
    return amount_fen - commission, commission
