"""Voucher programs, applications, vouchers, their budget movements, redemptions,
settlements with vendors, dishonesty flags and anomaly cases (DESIGN.md section 5).

Amounts are integer fen. A voucher's face value is always split three ways, which the
database holds: ``balance_fen + redeemed_fen + released_fen = face_fen``. A program's
figures (reserved, redeemed, released) are sums of its movements, never stored counters;
every change of a voucher's split appends one movement row.

Released money goes back to the government, not to the program: a program issues at most
its budget in total, so reserved + redeemed + released never exceeds the budget.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog.models import VoucherKind
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.models import Organization
from marketplace.states import Transitions

# --- programs -------------------------------------------------------------------------------


class ProgramStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")
    PUBLISHED = "published", _l("Published program")
    CLOSED = "closed", _l("Closed")


PROGRAM_TRANSITIONS = Transitions(
    ProgramStatus,
    {
        ProgramStatus.DRAFT: {ProgramStatus.PUBLISHED, ProgramStatus.CLOSED},
        ProgramStatus.PUBLISHED: {ProgramStatus.CLOSED},
        ProgramStatus.CLOSED: set(),
    },
    subject="voucher_program",
    stamps={ProgramStatus.PUBLISHED: "published_at", ProgramStatus.CLOSED: "closed_at"},
)


class Program(Base):
    __tablename__ = "voucher_programs"
    __table_args__ = (
        sa.CheckConstraint("budget_fen > 0", name="budget_positive"),
        sa.CheckConstraint("ratio_bp > 0 AND ratio_bp <= 10000", name="ratio_range"),
        sa.CheckConstraint("annual_cap_fen > 0", name="annual_cap_positive"),
        sa.CheckConstraint(
            "invoice_cap_fen IS NULL OR invoice_cap_fen > 0", name="invoice_cap_positive"
        ),
        sa.CheckConstraint("closes_at > opens_at", name="window_order"),
        sa.CheckConstraint("validity_days > 0", name="validity_positive"),
        sa.CheckConstraint("notice_days >= 0 AND notice_days <= 30", name="notice_days_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    kind: Mapped[VoucherKind] = mapped_column(enum_type(VoucherKind, "voucher_kind"))
    # An SME qualifies when its region code (GB/T 2260) starts with this: "31", "310115".
    region_prefix: Mapped[str] = mapped_column(sa.String(6))
    budget_fen: Mapped[int] = mapped_column(sa.BigInteger)
    ratio_bp: Mapped[int]  # share of the eligible amount the voucher pays
    annual_cap_fen: Mapped[int] = mapped_column(sa.BigInteger)  # per enterprise, calendar year
    invoice_cap_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    size_classes: Mapped[list[Any]]  # SizeClass values that qualify
    industries: Mapped[list[Any]]  # GB/T 4754 code prefixes; empty means every industry
    # Vendor organization ids (服务商资源池); empty means every verified vendor.
    vendor_whitelist: Mapped[list[Any]]
    opens_at: Mapped[datetime]  # application window
    closes_at: Mapped[datetime]
    validity_days: Mapped[int]  # a voucher expires this many days after issue
    # 公示: working days an approval is on public notice before issue; 0 issues at once.
    notice_days: Mapped[int] = mapped_column(default=0, server_default="0")
    status: Mapped[ProgramStatus] = mapped_column(
        enum_type(ProgramStatus, "program_status"), default=ProgramStatus.DRAFT, index=True
    )
    transitions = PROGRAM_TRANSITIONS
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    owner: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return f"<Program {self.id} {self.kind.value} {self.name!r} {self.status.value}>"

    def is_open_for_applications(self, now: datetime) -> bool:
        return self.status is ProgramStatus.PUBLISHED and self.opens_at <= now < self.closes_at

    def can_manage(self, org_id: int) -> bool:
        """Only the owning government organization manages a program."""
        return org_id == self.owner_org_id


class OrganizationFlag(Base):
    """A government's finding that an organization is dishonest (失信); while a flag is not
    cleared, the organization qualifies for no program."""

    __tablename__ = "voucher_org_flags"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    flagged_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    flagged_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.Text)
    flagged_at: Mapped[datetime] = mapped_column(default=utcnow)
    cleared_at: Mapped[datetime | None]
    cleared_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    clear_note: Mapped[str] = mapped_column(sa.Text, default="")

    def __repr__(self) -> str:
        state = "cleared" if self.cleared_at else "active"
        return f"<OrganizationFlag {self.id} org={self.organization_id} {state}>"


# --- applications ---------------------------------------------------------------------------


class ApplicationStatus(LabeledEnum):
    SUBMITTED = "submitted", _l("Awaiting review")
    APPROVED = "approved", _l("Approved")
    REJECTED = "rejected", _l("Rejected")
    WITHDRAWN = "withdrawn", _l("Withdrawn")


APPLICATION_TRANSITIONS = Transitions(
    ApplicationStatus,
    {
        ApplicationStatus.SUBMITTED: {
            ApplicationStatus.APPROVED,
            ApplicationStatus.REJECTED,
            ApplicationStatus.WITHDRAWN,
        },
        # an objection during the public notice of the approval was upheld
        ApplicationStatus.APPROVED: {ApplicationStatus.REJECTED},
        ApplicationStatus.REJECTED: set(),
        ApplicationStatus.WITHDRAWN: set(),
    },
    subject="voucher_application",
    stamps={
        ApplicationStatus.APPROVED: "decided_at",
        ApplicationStatus.REJECTED: "decided_at",
        ApplicationStatus.WITHDRAWN: "decided_at",
    },
)


class Application(Base):
    __tablename__ = "voucher_applications"
    __table_args__ = (
        sa.CheckConstraint("requested_fen > 0", name="requested_positive"),
        sa.CheckConstraint(
            "approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= requested_fen)",
            name="approved_range",
        ),
        sa.Index(None, "program_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"))
    applicant_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    applicant_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    requested_fen: Mapped[int] = mapped_column(sa.BigInteger)
    approved_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The vendor the enterprise means to buy from (shown in the 公示), if it named one.
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    status: Mapped[ApplicationStatus] = mapped_column(
        enum_type(ApplicationStatus, "application_status"), default=ApplicationStatus.SUBMITTED
    )
    transitions = APPLICATION_TRANSITIONS
    note: Mapped[str] = mapped_column(sa.Text, default="")  # the applicant's
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="")  # the officer's
    decided_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    program: Mapped[Program] = relationship()
    applicant: Mapped[Organization] = relationship(foreign_keys=[applicant_org_id])

    def __repr__(self) -> str:
        return (
            f"<Application {self.id} program={self.program_id} org={self.applicant_org_id} "
            f"{self.requested_fen} {self.status.value}>"
        )


# --- vouchers -------------------------------------------------------------------------------


class VoucherStatus(LabeledEnum):
    ACTIVE = "active", _l("Active")
    SPENT = "spent", _l("Spent")
    EXPIRED = "expired", _l("Expired")
    REVOKED = "revoked", _l("Revoked")


# Spent is not the end: a reversed redemption gives the balance back. Expired and revoked
# are (what comes back then goes to the budget).
VOUCHER_TRANSITIONS = Transitions(
    VoucherStatus,
    {
        VoucherStatus.ACTIVE: {VoucherStatus.SPENT, VoucherStatus.EXPIRED, VoucherStatus.REVOKED},
        VoucherStatus.SPENT: {VoucherStatus.ACTIVE, VoucherStatus.EXPIRED, VoucherStatus.REVOKED},
        VoucherStatus.EXPIRED: set(),
        VoucherStatus.REVOKED: set(),
    },
    subject="voucher",
)


class Voucher(Base):
    __tablename__ = "vouchers"
    __table_args__ = (
        sa.CheckConstraint("face_fen > 0", name="face_positive"),
        sa.CheckConstraint("balance_fen >= 0", name="balance_not_negative"),
        sa.CheckConstraint("redeemed_fen >= 0", name="redeemed_not_negative"),
        sa.CheckConstraint("released_fen >= 0", name="released_not_negative"),
        sa.CheckConstraint(
            "balance_fen + redeemed_fen + released_fen = face_fen", name="split_adds_up"
        ),
        sa.Index(None, "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    application_id: Mapped[int] = mapped_column(
        sa.ForeignKey("voucher_applications.id"), unique=True
    )
    holder_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    kind: Mapped[VoucherKind] = mapped_column(enum_type(VoucherKind, "voucher_kind"))
    face_fen: Mapped[int] = mapped_column(sa.BigInteger)
    balance_fen: Mapped[int] = mapped_column(sa.BigInteger)  # still reserved for the holder
    redeemed_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # net of reversals
    released_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # back to the budget
    status: Mapped[VoucherStatus] = mapped_column(
        enum_type(VoucherStatus, "voucher_status"), default=VoucherStatus.ACTIVE
    )
    transitions = VOUCHER_TRANSITIONS
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # When the voucher stopped being usable: spent to zero, expired or revoked.
    ended_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(sa.Text, default="")

    program: Mapped[Program] = relationship()
    holder: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return f"<Voucher {self.id} {self.code} {self.balance_fen}/{self.face_fen} {self.status.value}>"

    def is_usable(self, now: datetime) -> bool:
        return self.status is VoucherStatus.ACTIVE and now < self.expires_at

    @property
    def can_end(self) -> bool:
        """Not ended yet: it can still be revoked or expire (a spent one too, since a
        reversal may give its balance back)."""
        return self.status in (VoucherStatus.ACTIVE, VoucherStatus.SPENT)


class MovementKind(enum.StrEnum):
    ISSUED = "issued"  # budget -> reserved
    REDEEMED = "redeemed"  # reserved -> redeemed
    RESTORED = "restored"  # a reversal: redeemed -> reserved (the balance comes back)
    REVERSED_RELEASED = "reversed_released"  # a reversal on an ended voucher: redeemed -> released
    RELEASED = "released"  # expiry or revocation: reserved -> released


class Movement(Base):
    """One change of a voucher's split; a program's figures are sums of these (append-only)."""

    __tablename__ = "voucher_movements"
    __table_args__ = (
        # Issuing adds to the reserved figure; every other move shifts money between figures.
        sa.CheckConstraint(
            "(kind = 'issued' AND reserved_fen > 0 AND redeemed_fen = 0 AND released_fen = 0)"
            " OR (kind <> 'issued' AND reserved_fen + redeemed_fen + released_fen = 0)",
            name="moves_within_the_split",
        ),
        sa.Index(None, "program_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"))
    voucher_id: Mapped[int] = mapped_column(sa.ForeignKey("vouchers.id"), index=True)
    redemption_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voucher_redemptions.id"))
    kind: Mapped[MovementKind] = mapped_column(enum_type(MovementKind, "voucher_movement_kind"))
    # Signed changes of the three figures.
    reserved_fen: Mapped[int] = mapped_column(sa.BigInteger)
    redeemed_fen: Mapped[int] = mapped_column(sa.BigInteger)
    released_fen: Mapped[int] = mapped_column(sa.BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"<Movement {self.id} voucher={self.voucher_id} {self.kind.value} "
            f"{self.reserved_fen}/{self.redeemed_fen}/{self.released_fen}>"
        )


# --- redemptions and settlements ------------------------------------------------------------


class RedemptionStatus(LabeledEnum):
    ACTIVE = "active", _l("Redeemed")
    REVERSED = "reversed", _l("Reversed")


REDEMPTION_TRANSITIONS = Transitions(
    RedemptionStatus,
    {RedemptionStatus.ACTIVE: {RedemptionStatus.REVERSED}, RedemptionStatus.REVERSED: set()},
    subject="voucher_redemption",
    stamps={RedemptionStatus.REVERSED: "reversed_at"},
)


class Redemption(Base):
    """The part of one invoice that one voucher paid, for one vendor's lines."""

    __tablename__ = "voucher_redemptions"
    __table_args__ = (
        sa.CheckConstraint("amount_fen > 0", name="amount_positive"),
        sa.CheckConstraint("eligible_fen >= amount_fen", name="within_eligible"),
        sa.Index(None, "program_id", "vendor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(sa.ForeignKey("contracts.id"))
    voucher_id: Mapped[int] = mapped_column(sa.ForeignKey("vouchers.id"), index=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"))
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # what the voucher paid
    eligible_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the eligible lines' total
    # [{"line": key, "solution_id", "amount_fen" (eligible), "subsidy_fen"}]
    lines: Mapped[list[Any]]
    status: Mapped[RedemptionStatus] = mapped_column(
        enum_type(RedemptionStatus, "redemption_status"), default=RedemptionStatus.ACTIVE
    )
    transitions = REDEMPTION_TRANSITIONS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reversed_at: Mapped[datetime | None]
    reversal_reason: Mapped[str] = mapped_column(sa.String(30), default="")  # "void", "refund"
    settlement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("voucher_settlements.id"), index=True
    )
    # A reversal after the vendor was settled is taken back in a later settlement.
    clawback_settlement_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("voucher_settlements.id")
    )

    voucher: Mapped[Voucher] = relationship()
    program: Mapped[Program] = relationship()

    def __repr__(self) -> str:
        return (
            f"<Redemption {self.id} invoice={self.invoice_id} voucher={self.voucher_id} "
            f"{self.amount_fen} {self.status.value}>"
        )


class SettlementStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")
    APPROVED = "approved", _l("Approved, awaiting payment")
    PAID = "paid", _l("Paid")


SETTLEMENT_TRANSITIONS = Transitions(
    SettlementStatus,
    {
        SettlementStatus.DRAFT: {SettlementStatus.APPROVED},
        SettlementStatus.APPROVED: {SettlementStatus.PAID},
        SettlementStatus.PAID: set(),
    },
    subject="voucher_settlement",
    stamps={SettlementStatus.APPROVED: "approved_at", SettlementStatus.PAID: "paid_at"},
)


class Settlement(Base):
    """What a program pays one vendor for the redemptions of one period."""

    __tablename__ = "voucher_settlements"
    __table_args__ = (
        sa.CheckConstraint("total_fen > 0", name="total_positive"),
        sa.CheckConstraint("period_end > period_start", name="period_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    status: Mapped[SettlementStatus] = mapped_column(
        enum_type(SettlementStatus, "settlement_status"), default=SettlementStatus.DRAFT
    )
    transitions = SETTLEMENT_TRANSITIONS
    redeemed_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the redemptions in the batch
    clawback_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # settled, then reversed
    total_fen: Mapped[int] = mapped_column(sa.BigInteger)  # redeemed - clawback
    bank_reference: Mapped[str | None] = mapped_column(sa.String(100))
    created_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    approved_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_at: Mapped[datetime | None]
    paid_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    paid_at: Mapped[datetime | None]

    program: Mapped[Program] = relationship()
    vendor: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return (
            f"<Settlement {self.id} program={self.program_id} vendor={self.vendor_id} "
            f"{self.total_fen} {self.status.value}>"
        )

    @property
    def can_approve(self) -> bool:
        return self.status is SettlementStatus.DRAFT

    @property
    def can_record_payment(self) -> bool:
        """Approved and not paid yet."""
        return self.status is SettlementStatus.APPROVED


# --- anomalies ------------------------------------------------------------------------------


class AnomalyRule(LabeledEnum):
    RELATED_PARTY = "related_party", _l("Buyer and vendor may be related parties")
    # refund or void soon after redemption (cash-out)
    QUICK_REVERSAL = "quick_reversal", _l("Refund or void soon after a redemption")
    VENDOR_CONCENTRATION = (
        "vendor_concentration",
        _l("One vendor takes a large share of the program"),
    )
    # several invoices just under the per-invoice cap
    SPLIT_INVOICES = "split_invoices", _l("Invoices split just under the per-invoice cap")
    # redeemed on a contract with no recorded usage
    NO_USAGE = "no_usage", _l("Redeemed on a contract with no recorded usage")
    # subsidy above ratio x eligible, above the eligible amount, or that above the invoice
    SUBSIDY_OVER_RATIO = (
        "subsidy_over_ratio",
        _l("Subsidy above the program's ratio of the eligible amount"),
    )


class AnomalyStatus(LabeledEnum):
    OPEN = "open", _l("To review")
    CLEARED = "cleared", _l("Cleared")
    CONFIRMED = "confirmed", _l("Confirmed")


ANOMALY_TRANSITIONS = Transitions(
    AnomalyStatus,
    {
        AnomalyStatus.OPEN: {AnomalyStatus.CLEARED, AnomalyStatus.CONFIRMED},
        AnomalyStatus.CLEARED: set(),
        AnomalyStatus.CONFIRMED: set(),
    },
    subject="voucher_anomaly",
    stamps={AnomalyStatus.CLEARED: "reviewed_at", AnomalyStatus.CONFIRMED: "reviewed_at"},
)


class Anomaly(Base):
    """A case an anomaly rule found; each rule records each subject once."""

    __tablename__ = "voucher_anomalies"
    __table_args__ = (sa.UniqueConstraint("rule", "subject_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    rule: Mapped[AnomalyRule] = mapped_column(enum_type(AnomalyRule, "anomaly_rule"))
    # What the case is about, e.g. "redemption:12" or "program:3:vendor:7".
    subject_key: Mapped[str] = mapped_column(sa.String(120))
    redemption_id: Mapped[int | None] = mapped_column(sa.ForeignKey("voucher_redemptions.id"))
    buyer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    vendor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organizations.id"))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # the money concerned
    details: Mapped[dict[str, Any]]
    status: Mapped[AnomalyStatus] = mapped_column(
        enum_type(AnomalyStatus, "anomaly_status"), default=AnomalyStatus.OPEN, index=True
    )
    transitions = ANOMALY_TRANSITIONS
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    review_note: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_by_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<Anomaly {self.id} {self.rule.value} {self.subject_key} {self.status.value}>"
