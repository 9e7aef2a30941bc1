"""Payments and what belongs to them: a payment of an invoice (card or bank transfer), its
refunds, the buyer's Stripe customer and saved card, and the Stripe webhook events received.

Amounts are integer fen (BigInteger). A payment is corrected by a refund row, never changed.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.states import Transitions

if TYPE_CHECKING:
    from billing.models import Invoice


class PaymentMethodKind(enum.StrEnum):
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"


class PaymentStatus(LabeledEnum):
    PROCESSING = "processing", _l("Processing")
    # 3-D Secure: the buyer must confirm
    REQUIRES_ACTION = "requires_action", _l("Waiting for your confirmation")
    SUCCEEDED = "succeeded", _l("Succeeded")
    FAILED = "failed", _l("Failed")


# A payment's own row and the ledger are its record: its moves write no audit row (the
# invoice's do). Stripe may report a late success after a failure.
PAYMENT_TRANSITIONS = Transitions(
    PaymentStatus,
    {
        PaymentStatus.PROCESSING: {
            PaymentStatus.REQUIRES_ACTION,
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
        },
        PaymentStatus.REQUIRES_ACTION: {
            PaymentStatus.REQUIRES_ACTION,  # asked again for 3-D Secure
            PaymentStatus.SUCCEEDED,
            PaymentStatus.FAILED,
        },
        PaymentStatus.FAILED: {PaymentStatus.SUCCEEDED},
        PaymentStatus.SUCCEEDED: set(),
    },
    subject=None,
    stamps={PaymentStatus.SUCCEEDED: "succeeded_at"},
)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    method: Mapped[PaymentMethodKind] = mapped_column(
        enum_type(PaymentMethodKind, "payment_method")
    )
    status: Mapped[PaymentStatus] = mapped_column(enum_type(PaymentStatus, "payment_status"))
    transitions = PAYMENT_TRANSITIONS
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    bank_reference: Mapped[str | None] = mapped_column(sa.String(100))
    failure_code: Mapped[str | None] = mapped_column(sa.String(60))
    failure_message: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    succeeded_at: Mapped[datetime | None]

    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", order_by="Refund.id")

    def __repr__(self) -> str:
        return f"<Payment {self.id} {self.method.value} {self.status.value} {self.amount_fen}>"

    @property
    def refunded_fen(self) -> int:
        return sum(r.amount_fen for r in self.refunds if r.status == "succeeded")


class RefundStatus(enum.StrEnum):
    PENDING = "pending"  # asked of Stripe, not answered yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"


# Audited on the invoice the refunded payment paid (callers name the action).
REFUND_TRANSITIONS = Transitions(
    RefundStatus,
    {
        RefundStatus.PENDING: {RefundStatus.SUCCEEDED, RefundStatus.FAILED},
        RefundStatus.SUCCEEDED: set(),
        RefundStatus.FAILED: set(),
    },
    subject="invoice",
    audit_subject=lambda refund: refund.payment.invoice_id,
    system_org=lambda refund: refund.payment.buyer_id,
)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (sa.CheckConstraint("amount_fen > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(sa.ForeignKey("payments.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[str] = mapped_column(sa.String(20))  # "succeeded", "pending", "failed"
    transitions = REFUND_TRANSITIONS
    reason: Mapped[str] = mapped_column(sa.Text, default="")
    stripe_refund_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class StripeCustomer(Base):
    __tablename__ = "stripe_customers"

    organization_id: Mapped[int] = mapped_column(
        sa.ForeignKey("organizations.id"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    # The saved card: the PaymentMethod id and what we may show of it.
    payment_method_id: Mapped[str | None] = mapped_column(sa.String(100))
    card_brand: Mapped[str | None] = mapped_column(sa.String(20))
    card_last4: Mapped[str | None] = mapped_column(sa.String(4))
    card_exp: Mapped[str | None] = mapped_column(sa.String(7))  # "12/2030"
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """Each Stripe event id once: a replayed event changes nothing."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(100), unique=True)
    type: Mapped[str] = mapped_column(sa.String(80))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]]
