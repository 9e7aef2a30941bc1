"""Fapiao (发票): the buyer organization's 开票信息 and the fapiao asked for and issued per
invoice (DESIGN.md section 5). Our invoices are statements of account; fapiao are the
vendor's tax documents, tracked here."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Invoice
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.states import Transitions


class FapiaoType(LabeledEnum):
    NORMAL = "normal", _l("Ordinary VAT fapiao")  # 普通发票
    SPECIAL = "special", _l("Special VAT fapiao")  # 增值税专用发票: needs complete 开票信息


class FapiaoStatus(LabeledEnum):
    REQUESTED = "requested", _l("Fapiao requested")
    ISSUED = "issued", _l("Fapiao issued")
    # a red-letter (红字) fapiao cancelled it after a refund
    REVERSED = "reversed", _l("Fapiao reversed (red-letter)")


# Audited on its invoice as "fapiao.issued" / "fapiao.reversed", naming the fapiao.
FAPIAO_TRANSITIONS = Transitions(
    FapiaoStatus,
    {
        FapiaoStatus.REQUESTED: {FapiaoStatus.ISSUED},
        FapiaoStatus.ISSUED: {FapiaoStatus.REVERSED},  # after a refund
        FapiaoStatus.REVERSED: set(),
    },
    subject="invoice",
    prefix="fapiao",
    stamps={FapiaoStatus.ISSUED: "issued_at", FapiaoStatus.REVERSED: "reversed_at"},
    audit_subject=lambda fapiao: fapiao.invoice_id,
    audit_data=lambda fapiao: {"fapiao_id": fapiao.id},
)


class BillingProfile(Base):
    """开票信息 of an organization; its changes are in the audit log."""

    __tablename__ = "billing_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))  # 名称
    tax_id: Mapped[str] = mapped_column(sa.String(18))  # 纳税人识别号 (the USCC)
    address_phone: Mapped[str] = mapped_column(sa.String(300), default="")  # 地址电话
    bank_account: Mapped[str] = mapped_column(sa.String(300), default="")  # 开户行及账号
    email: Mapped[str] = mapped_column(sa.String(254), default="")  # where fapiao are sent
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<BillingProfile org={self.organization_id} {self.tax_id}>"

    @property
    def is_complete(self) -> bool:
        """A special VAT fapiao needs every field."""
        return all((self.title, self.tax_id, self.address_phone, self.bank_account, self.email))


class Fapiao(Base):
    """One fapiao per invoice: asked for by the buyer, issued (and possibly reversed by a
    red-letter fapiao) by the vendor."""

    __tablename__ = "fapiao"
    __table_args__ = (
        sa.CheckConstraint("amount_fen IS NULL OR amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint(
            "status = 'requested' OR (number IS NOT NULL AND file IS NOT NULL)",
            name="issued_has_number_and_file",
        ),
        sa.CheckConstraint(
            "status <> 'reversed' OR (red_number IS NOT NULL AND red_file IS NOT NULL)",
            name="reversed_has_red_letter",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), unique=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    type: Mapped[FapiaoType] = mapped_column(enum_type(FapiaoType, "fapiao_type"))
    status: Mapped[FapiaoStatus] = mapped_column(
        enum_type(FapiaoStatus, "fapiao_status"), index=True
    )
    transitions = FAPIAO_TRANSITIONS
    # The buyer's 开票信息 as it was when asked (a later edit does not change the request).
    buyer_title: Mapped[str] = mapped_column(sa.String(200))
    buyer_tax_id: Mapped[str] = mapped_column(sa.String(18))
    buyer_address_phone: Mapped[str] = mapped_column(sa.String(300), default="")
    buyer_bank_account: Mapped[str] = mapped_column(sa.String(300), default="")
    buyer_email: Mapped[str] = mapped_column(sa.String(254), default="")
    requested_at: Mapped[datetime]
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    number: Mapped[str | None] = mapped_column(sa.String(20), unique=True)  # 数电发票号码
    issued_on: Mapped[date | None]
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # the invoice total
    file: Mapped[str | None] = mapped_column(sa.String(100))  # stored name under fapiao/
    file_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    file_name: Mapped[str | None] = mapped_column(sa.String(200))
    issued_at: Mapped[datetime | None]
    red_number: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    red_issued_on: Mapped[date | None]
    red_file: Mapped[str | None] = mapped_column(sa.String(100))
    red_file_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    red_file_name: Mapped[str | None] = mapped_column(sa.String(200))
    reversed_at: Mapped[datetime | None]

    invoice: Mapped[Invoice] = relationship()

    def __repr__(self) -> str:
        return f"<Fapiao {self.id} invoice={self.invoice_id} {self.type.value} {self.status.value}>"
