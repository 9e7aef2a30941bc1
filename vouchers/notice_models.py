"""公示: an approved application of a program with a notice period is listed publicly for
that many working days before its voucher is issued; anyone signed in may object, and an
officer upholds (the issue is cancelled) or dismisses the objection (vouchers/notice.py)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.models import Organization
from marketplace.states import Transitions
from vouchers.models import Application, Program


class NoticeStatus(LabeledEnum):
    IN_NOTICE = "in_notice", _l("In public notice")
    ISSUED = "issued", _l("Voucher issued")  # the period ended without an upheld objection
    CANCELLED = "cancelled", _l("Cancelled after an objection")  # an objection was upheld


NOTICE_TRANSITIONS = Transitions(
    NoticeStatus,
    {
        NoticeStatus.IN_NOTICE: {NoticeStatus.ISSUED, NoticeStatus.CANCELLED},
        NoticeStatus.ISSUED: set(),
        NoticeStatus.CANCELLED: set(),
    },
    subject="voucher_notice",
    stamps={NoticeStatus.ISSUED: "closed_at", NoticeStatus.CANCELLED: "closed_at"},
)


class Notice(Base):
    """One approved application on public notice."""

    __tablename__ = "voucher_notices"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("ends_at > starts_at", name="period_order"),
        sa.CheckConstraint(
            "(status = 'issued') = (voucher_id IS NOT NULL)", name="issued_has_voucher"
        ),
        sa.Index(None, "status", "ends_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("voucher_applications.id"), unique=True
    )
    applicant_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the approved amount
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]  # exclusive: the end of the last working day, China time
    status: Mapped[NoticeStatus] = mapped_column(
        enum_type(NoticeStatus, "voucher_notice_status"), default=NoticeStatus.IN_NOTICE
    )
    transitions = NOTICE_TRANSITIONS
    voucher_id: Mapped[int | None] = mapped_column(sa.ForeignKey("vouchers.id"))
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship()
    application: Mapped[Application] = relationship()
    applicant: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return (
            f"<Notice {self.id} application={self.application_id} {self.amount_fen} "
            f"{self.status.value} until {self.ends_at:%Y-%m-%d}>"
        )

    def can_object(self, now: datetime) -> bool:
        """Anyone may object while the notice runs."""
        return self.status is NoticeStatus.IN_NOTICE and now < self.ends_at


class ObjectionStatus(LabeledEnum):
    OPEN = "open", _l("To review")
    UPHELD = "upheld", _l("Upheld")
    DISMISSED = "dismissed", _l("Dismissed")


OBJECTION_TRANSITIONS = Transitions(
    ObjectionStatus,
    {
        ObjectionStatus.OPEN: {ObjectionStatus.UPHELD, ObjectionStatus.DISMISSED},
        ObjectionStatus.UPHELD: set(),
        ObjectionStatus.DISMISSED: set(),
    },
    subject="voucher_objection",
    stamps={ObjectionStatus.UPHELD: "decided_at", ObjectionStatus.DISMISSED: "decided_at"},
)


class Objection(Base):
    """Someone's objection to a notice; an open one holds the issue until it is decided."""

    __tablename__ = "voucher_objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_notices.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    contact: Mapped[str] = mapped_column(sa.String(200))  # a phone or e-mail for the officer
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[ObjectionStatus] = mapped_column(
        enum_type(ObjectionStatus, "voucher_objection_status"), default=ObjectionStatus.OPEN
    )
    transitions = OBJECTION_TRANSITIONS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str] = mapped_column(sa.Text, default="")

    notice: Mapped[Notice] = relationship()

    def __repr__(self) -> str:
        return f"<Objection {self.id} notice={self.notice_id} {self.status.value}>"
