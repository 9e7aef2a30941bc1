"""The double-entry ledger: every money movement is a transaction whose entries sum to zero
(billing/ledger.py writes them, billing/ledger_reports.py reads them)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, utcnow


class LedgerTransaction(Base):
    """A balanced set of entries: the entries of one transaction sum to zero."""

    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(sa.String(40), index=True)  # "invoice.issued", ...
    memo: Mapped[str] = mapped_column(sa.String(300), default="")
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"))
    refund_id: Mapped[int | None] = mapped_column(sa.ForeignKey("refunds.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    entries: Mapped[list[LedgerEntry]] = relationship(
        back_populates="transaction", order_by="LedgerEntry.id"
    )


class LedgerEntry(Base):
    """One side of a transaction: positive is a debit, negative a credit."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        sa.CheckConstraint("amount_fen <> 0", name="amount_not_zero"),
        sa.Index(None, "account", "organization_id"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    transaction_id: Mapped[int] = mapped_column(sa.ForeignKey("ledger_transactions.id"), index=True)
    # buyer_receivable, vendor_payable, platform_commission, stripe_clearing, bank_clearing,
    # voucher_program_payable; organization_id says whose (buyer, vendor, program owner).
    account: Mapped[str] = mapped_column(sa.String(40))
    organization_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")

    def __repr__(self) -> str:
        return f"<LedgerEntry {self.account}:{self.organization_id} {self.amount_fen}>"
