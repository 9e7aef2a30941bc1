"""Payment links: an invoice shared with someone outside the platform (the buyer's finance
colleague). The link carries a signed token naming this row and its invoice; the row holds
the expiry and the revocation, so the buyer can take a link back. billing/payment_links.py
holds the rules."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Invoice
from marketplace.db import Base, utcnow


class PaymentLink(Base):
    __tablename__ = "payment_links"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    invoice: Mapped[Invoice] = relationship()

    def __repr__(self) -> str:
        state = "revoked" if self.revoked_at else "live"
        return f"<PaymentLink {self.id} invoice={self.invoice_id} {state}>"

    def is_live(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at
