"""咨询服务商: a buyer organization's question about a listing and the thread of messages
between its members and the vendor's (rules in catalog/inquiries.py)."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import Solution
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.models import Organization, User
from marketplace.states import Transitions

SUBJECT_MAX = 120
BODY_MAX = 4000


class InquiryStatus(LabeledEnum):
    # the buyer wrote last: waits for the vendor's answer; 待回复
    OPEN = "open", lazy_pgettext("inquiry status", "Waiting for an answer")
    # the vendor wrote last; 已回复
    ANSWERED = "answered", lazy_pgettext("inquiry status", "Answered")
    # no more messages; the buyer asks a new question instead; 已关闭
    CLOSED = "closed", lazy_pgettext("inquiry status", "Closed")


# Whoever wrote last decides between waiting and answered (a side may write twice); only
# closing is in the audit log, the messages are the record of the rest.
INQUIRY_TRANSITIONS = Transitions(
    InquiryStatus,
    {
        InquiryStatus.OPEN: {InquiryStatus.OPEN, InquiryStatus.ANSWERED, InquiryStatus.CLOSED},
        InquiryStatus.ANSWERED: {InquiryStatus.OPEN, InquiryStatus.ANSWERED, InquiryStatus.CLOSED},
        InquiryStatus.CLOSED: set(),
    },
    subject="inquiry",
    stamps={InquiryStatus.CLOSED: "closed_at"},
)


class Side(enum.StrEnum):
    BUYER = "buyer"
    VENDOR = "vendor"


class Inquiry(Base):
    """One question thread between a buyer organization and the vendor of a listing."""

    __tablename__ = "inquiries"
    __table_args__ = (
        sa.CheckConstraint(
            "(status = 'closed') = (closed_at IS NOT NULL)", name="closed_has_closed_at"
        ),
        sa.CheckConstraint("buyer_id <> vendor_id", name="two_organizations"),
        sa.Index("ix_inquiries_vendor_status", "vendor_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(sa.ForeignKey("solutions.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    subject: Mapped[str] = mapped_column(sa.String(SUBJECT_MAX), default="")  # "" for none
    status: Mapped[InquiryStatus] = mapped_column(
        enum_type(InquiryStatus, "inquiry_status"), default=InquiryStatus.OPEN
    )
    transitions = INQUIRY_TRANSITIONS
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A message from the other side that nobody of this side has opened the thread since.
    unread_by_buyer: Mapped[bool] = mapped_column(default=False)
    unread_by_vendor: Mapped[bool] = mapped_column(default=True)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    solution: Mapped[Solution] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id])
    vendor: Mapped[Organization] = relationship(foreign_keys=[vendor_id])
    messages: Mapped[list[InquiryMessage]] = relationship(
        back_populates="inquiry",
        order_by="InquiryMessage.id",
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"<Inquiry {self.id} solution={self.solution_id} {self.status.value}>"

    def side_of(self, organization_id: int) -> Side | None:
        """Which side the organization is on, or None when the thread is not its own."""
        if organization_id == self.buyer_id:
            return Side.BUYER
        if organization_id == self.vendor_id:
            return Side.VENDOR
        return None

    @property
    def can_reply(self) -> bool:
        return self.status is not InquiryStatus.CLOSED

    def title(self) -> str:
        """The subject, else the start of the first message."""
        if self.subject:
            return self.subject
        first = self.messages[0].body if self.messages else ""
        line = first.strip().splitlines()[0] if first.strip() else ""
        return line[:40] + ("…" if len(line) > 40 else "")


class InquiryMessage(Base):
    __tablename__ = "inquiry_messages"
    __table_args__ = (sa.CheckConstraint("length(body) > 0", name="body_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inquiry_id: Mapped[int] = mapped_column(
        sa.ForeignKey("inquiries.id", ondelete="CASCADE"), index=True
    )
    side: Mapped[Side] = mapped_column(enum_type(Side, "inquiry_side"))
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    inquiry: Mapped[Inquiry] = relationship(back_populates="messages")
    author: Mapped[User] = relationship()

    def __repr__(self) -> str:
        return f"<InquiryMessage {self.id} inquiry={self.inquiry_id} {self.side.value}>"
