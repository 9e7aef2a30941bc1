"""The customer credit balance of a buyer with a vendor (as Stripe's customer balance).

Append-only: a balance is the sum of its rows' signed amounts, never a stored counter.
billing/credits.py holds the rules.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Invoice
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum


class CreditKind(LabeledEnum):
    # + a downgrade's unused part, a credit note beyond what was owed
    GRANTED = "granted", _l("Credit added")
    # - taken off a new invoice of the same buyer and vendor
    APPLIED = "applied", _l("Credit applied")
    # + given back: the invoice it was applied to was voided or refunded
    RESTORED = "restored", _l("Credit given back")
    # - paid back as money: a refund of the invoice the credit came from
    PAID_OUT = "paid_out", _l("Credit refunded as money")


class CreditTransaction(Base):
    """One movement of a buyer's credit with one vendor."""

    __tablename__ = "customer_credit_transactions"
    __table_args__ = (
        sa.Index(None, "buyer_id", "vendor_id"),
        sa.CheckConstraint(
            "(kind IN ('applied', 'paid_out') AND amount_fen < 0)"
            " OR (kind NOT IN ('applied', 'paid_out') AND amount_fen > 0)",
            name="sign_matches_kind",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    kind: Mapped[CreditKind] = mapped_column(enum_type(CreditKind, "credit_kind"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # + adds to the balance, - uses it
    # The invoice the credit came from (granted), was applied to, given back from, or was
    # refunded on (paid out).
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    invoice: Mapped[Invoice] = relationship()

    def __repr__(self) -> str:
        return (
            f"<CreditTransaction {self.buyer_id}->{self.vendor_id} {self.kind.value} "
            f"{self.amount_fen} invoice={self.invoice_id}>"
        )
