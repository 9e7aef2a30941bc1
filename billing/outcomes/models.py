"""Outcome-based billing (效果付费): agreed baselines and reported results."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.models import Contract
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.states import Transitions


class ProposalStatus(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    SUPERSEDED = "superseded"  # a counter-proposal replaced it


# Recorded on the contract ("baseline.proposed", "baseline.agreed"), not on the proposal.
PROPOSAL_TRANSITIONS = Transitions(
    ProposalStatus,
    {
        ProposalStatus.OPEN: {ProposalStatus.ACCEPTED, ProposalStatus.SUPERSEDED},
        ProposalStatus.ACCEPTED: set(),
        ProposalStatus.SUPERSEDED: set(),
    },
    subject=None,
    stamps={ProposalStatus.ACCEPTED: "decided_at"},
)


class BaselineProposal(Base):
    """A baseline one side proposes; it binds the contract only when the other accepts."""

    __tablename__ = "baseline_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    proposed_by_org_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    proposed_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    value: Mapped[Decimal] = mapped_column(sa.Numeric(24, 6))
    note: Mapped[str] = mapped_column(sa.Text, default="")  # how it was measured
    status: Mapped[ProposalStatus] = mapped_column(
        enum_type(ProposalStatus, "proposal_status"), default=ProposalStatus.OPEN
    )
    transitions = PROPOSAL_TRANSITIONS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]

    contract: Mapped[Contract] = relationship()

    def __repr__(self) -> str:
        return f"<BaselineProposal {self.id} contract={self.contract_id} {self.value} {self.status.value}>"


class ReportStatus(LabeledEnum):
    # waiting for the buyer, within the verification window
    SUBMITTED = "submitted", _l("Awaiting confirmation")
    # by the buyer, by silence, or by the operator's resolution
    CONFIRMED = "confirmed", _l("Confirmed")
    DISPUTED = "disputed", _l("Disputed")
    REJECTED = "rejected", _l("Rejected")  # by the operator


# Audited as "outcome.<state>" unless the caller names the action (a resolution, silence).
REPORT_TRANSITIONS = Transitions(
    ReportStatus,
    {
        ReportStatus.SUBMITTED: {ReportStatus.CONFIRMED, ReportStatus.DISPUTED},
        ReportStatus.DISPUTED: {ReportStatus.CONFIRMED, ReportStatus.REJECTED},  # resolved
        ReportStatus.CONFIRMED: set(),
        ReportStatus.REJECTED: set(),
    },
    subject="outcome_report",
    prefix="outcome",
    stamps={ReportStatus.CONFIRMED: "confirmed_at"},
)


class OutcomeReport(Base):
    """The vendor's measured value of the KPI for one billing period of the contract, with
    evidence."""

    __tablename__ = "outcome_reports"
    __table_args__ = (
        sa.CheckConstraint("period_end > period_start", name="period_order"),
        # One report that counts per billing period: the cap is per period. A rejected
        # report's period may be reported again.
        sa.Index(
            "uq_outcome_reports_contract_id_period_start",
            "contract_id",
            "period_start",
            unique=True,
            sqlite_where=sa.text("status <> 'rejected'"),
            postgresql_where=sa.text("status <> 'rejected'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    measured: Mapped[Decimal] = mapped_column(sa.Numeric(24, 6))  # as reported
    evidence_url: Mapped[str] = mapped_column(sa.String(500), default="")
    # An uploaded evidence file: <upload folder>/evidence/<stored name>, served to the
    # contract's two parties and the operator only.
    evidence_file: Mapped[str | None] = mapped_column(sa.String(80))
    evidence_content_type: Mapped[str | None] = mapped_column(sa.String(80))
    evidence_filename: Mapped[str | None] = mapped_column(sa.String(200))  # as uploaded
    note: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ReportStatus] = mapped_column(
        enum_type(ReportStatus, "report_status"), default=ReportStatus.SUBMITTED, index=True
    )
    transitions = REPORT_TRANSITIONS
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    confirm_by: Mapped[datetime] = mapped_column(index=True)  # end of the verification window
    # "buyer", "silence" or "operator": how the result came to count.
    confirmed_how: Mapped[str | None] = mapped_column(sa.String(20))
    confirmed_at: Mapped[datetime | None]
    dispute_reason: Mapped[str] = mapped_column(sa.Text, default="")
    resolution_note: Mapped[str] = mapped_column(sa.Text, default="")
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    # The value that is billed: the measured one, or the operator's adjustment.
    billable_measured: Mapped[Decimal | None] = mapped_column(sa.Numeric(24, 6))
    invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))

    contract: Mapped[Contract] = relationship()

    def __repr__(self) -> str:
        return f"<OutcomeReport {self.id} contract={self.contract_id} {self.measured} {self.status.value}>"

    def can_verify(self, now: datetime) -> bool:
        """The buyer may still confirm or dispute it: submitted, and the verification
        window is open (at its end silence confirms it)."""
        return self.status is ReportStatus.SUBMITTED and now <= self.confirm_by
