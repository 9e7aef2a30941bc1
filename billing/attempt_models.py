"""Card payment attempts: one row per time we ask Stripe to charge an invoice, committed
before Stripe is called, so a charge made by a request that died is still found (by the
PaymentIntent's id, or by the attempt id in its metadata) and booked exactly once.

At most one attempt per invoice is in flight; the database holds that rule (a partial
unique index), so two clicks, two hosts or a billing run racing the buyer cannot start a
second PaymentIntent while the first may still charge the card.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Invoice
from billing.payment_models import Payment
from marketplace.db import Base, enum_type, utcnow
from marketplace.states import Transitions, transition


class AttemptStatus(enum.StrEnum):
    STARTED = "started"  # committed; its PaymentIntent is not recorded yet
    CONFIRMING = "confirming"  # PaymentIntent recorded, confirmation sent: may charge
    REQUIRES_ACTION = "requires_action"  # 3-D Secure: waits for the buyer
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # declined, or Stripe refused or could not be reached before charging
    CANCELED = "canceled"  # abandoned before it was confirmed; its PaymentIntent canceled

    @property
    def in_flight(self) -> bool:
        return self in IN_FLIGHT


IN_FLIGHT = (AttemptStatus.STARTED, AttemptStatus.CONFIRMING, AttemptStatus.REQUIRES_ACTION)

# Where each status may go; anything else is a bug (AttemptStatus.SUCCEEDED is final: money
# taken is given back by a refund, never by rewriting the attempt). Every move touches
# updated_at; an attempt that ends records when. Audited on its invoice by
# billing/card_attempts.py when it ends.
TRANSITIONS = Transitions(
    AttemptStatus,
    {
        AttemptStatus.STARTED: {
            AttemptStatus.CONFIRMING,
            AttemptStatus.FAILED,
            AttemptStatus.CANCELED,
            AttemptStatus.SUCCEEDED,  # found succeeded by its metadata (reconciliation)
        },
        AttemptStatus.CONFIRMING: {
            AttemptStatus.REQUIRES_ACTION,
            AttemptStatus.SUCCEEDED,
            AttemptStatus.FAILED,
            AttemptStatus.CANCELED,
        },
        AttemptStatus.REQUIRES_ACTION: {
            AttemptStatus.SUCCEEDED,
            AttemptStatus.FAILED,
            AttemptStatus.CANCELED,
        },
        AttemptStatus.SUCCEEDED: set(),
        AttemptStatus.FAILED: set(),
        AttemptStatus.CANCELED: set(),
    },
    subject="invoice",
    touch="updated_at",
    stamps={
        AttemptStatus.SUCCEEDED: "finished_at",
        AttemptStatus.FAILED: "finished_at",
        AttemptStatus.CANCELED: "finished_at",
    },
    audit_subject=lambda attempt: attempt.invoice_id,
    system_org=lambda attempt: attempt.buyer_id,
)


_IN_FLIGHT_SQL = sa.text("status IN ('started', 'confirming', 'requires_action')")


class PaymentAttempt(Base):
    __tablename__ = "payment_attempts"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.Index(
            "uq_payment_attempts_invoice_in_flight",
            "invoice_id",
            unique=True,
            sqlite_where=_IN_FLIGHT_SQL,
            postgresql_where=_IN_FLIGHT_SQL,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    status: Mapped[AttemptStatus] = mapped_column(
        enum_type(AttemptStatus, "payment_attempt_status"), default=AttemptStatus.STARTED
    )
    transitions = TRANSITIONS
    # Sent as Stripe's Idempotency-Key: a retried create returns the same PaymentIntent.
    idempotency_key: Mapped[str] = mapped_column(
        sa.String(64), unique=True, default=lambda: f"attempt-{uuid.uuid4().hex}"
    )
    customer_id: Mapped[str] = mapped_column(sa.String(100))  # Stripe customer charged
    stripe_payment_intent_id: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    # The payment row booked from it, once its PaymentIntent exists.
    payment_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payments.id"), unique=True)
    off_session: Mapped[bool] = mapped_column(default=True)  # False: the buyer is on the page
    failure_code: Mapped[str | None] = mapped_column(sa.String(60))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    finished_at: Mapped[datetime | None]

    invoice: Mapped[Invoice] = relationship()
    payment: Mapped[Payment | None] = relationship()

    def __repr__(self) -> str:
        return (
            f"<PaymentAttempt {self.id} invoice={self.invoice_id} {self.status.value} "
            f"{self.amount_fen}>"
        )

    def move(self, to: AttemptStatus, *, now: datetime, failure_code: str | None = None) -> None:
        """Change status through the transition table (nothing when it is there already);
        raises marketplace.states.IllegalTransition on an illegal move."""
        if to is self.status:
            return
        transition(self, to, None, now=now, audit_row=False)
        if failure_code is not None:
            self.failure_code = failure_code[:60]
