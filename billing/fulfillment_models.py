"""Sign-up handoff tokens: the one-time proof a buyer carries to the vendor's fulfillment URL.

Only the SHA-256 of the token is stored; billing/fulfillment.py holds the rules.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Contract
from marketplace.db import Base, utcnow


class FulfillmentToken(Base):
    __tablename__ = "fulfillment_tokens"
    __table_args__ = (sa.CheckConstraint("expires_at > created_at", name="expires_after_created"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]  # set by the one exchange the token allows

    contract: Mapped[Contract] = relationship()

    def __repr__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"<FulfillmentToken {self.id} contract={self.contract_id} {state}>"
