"""The buyer's acceptance of delivery (验收) on a contract: once per contract, by a
member of the buyer organization (billing/delivery.py). Voucher programs may require it
before a redemption is settled."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, utcnow


class DeliveryAcceptance(Base):
    __tablename__ = "contract_acceptances"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), unique=True)
    accepted_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    accepted_at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(sa.Text, default="")  # the buyer's words, optional

    def __repr__(self) -> str:
        return f"<DeliveryAcceptance contract={self.contract_id} at={self.accepted_at:%Y-%m-%d}>"
