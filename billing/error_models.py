"""Billing errors: a contract whose period the billing run could not close.

The run records one row per contract and period and goes on with the other contracts
(billing/run.py); each later attempt that fails again counts on the same row, and the
first successful close resolves it. The operator sees the open ones in the console and
through GET /api/v1/billing-errors.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Contract
from marketplace.db import Base, utcnow

CLOSE = "close"
RESULTS = "results"


class BillingError(Base):
    __tablename__ = "billing_errors"
    __table_args__ = (
        # One row per contract, period and step: a rerun that fails again counts an attempt.
        sa.UniqueConstraint("contract_id", "period_start", "step"),
        sa.CheckConstraint("step IN ('close', 'results')", name="step_known"),
        sa.CheckConstraint("attempts >= 1", name="attempts_positive"),
        sa.CheckConstraint("last_seen_at >= first_seen_at", name="seen_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    # What failed: "close" (closing the period: usage, renewal, status) or "results"
    # (invoicing the outcome result reported for the period).
    step: Mapped[str] = mapped_column(sa.String(20), default=CLOSE)
    # Machine-readable cause: "quantity_too_large", "amount_too_large", "database_error", ...
    code: Mapped[str] = mapped_column(sa.String(60))
    message: Mapped[str] = mapped_column(sa.Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=1)  # failed closes of this period so far
    resolved_at: Mapped[datetime | None] = mapped_column(index=True)  # closed at last

    contract: Mapped[Contract] = relationship()

    def __repr__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return (
            f"<BillingError contract={self.contract_id} {self.step} {self.code}"
            f" x{self.attempts} {state}>"
        )
