"""Contracts, metered usage, invoices, notifications (payments and refunds are in
billing/payment_models.py, the double-entry ledger in billing/ledger_models.py).

Amounts are integer fen (BigInteger). Rows that record money are append-only: a payment
is corrected by a refund row, an invoice by voiding it or by a credit note, and the ledger
by a reversing transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from billing.payment_models import PaymentStatus
from billing.periods import Proration, proration
from catalog.models import Plan, Solution, SolutionRevision
from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.models import Organization, User
from marketplace.states import Transitions

if TYPE_CHECKING:
    from billing.payment_models import Payment

Quantity = sa.Numeric(24, 6)  # metered quantities may be fractional (GPU hours)


class ContractStatus(LabeledEnum):
    # outcome contract awaiting the agreed baseline
    PENDING = "pending", _l("Awaiting baseline agreement")
    TRIALING = "trialing", _l("Free trial")
    ACTIVE = "active", _l("Active")
    # payment retries exhausted: the service is suspended
    PAST_DUE = "past_due", _l("Suspended: payment overdue")
    CANCELED = "canceled", _l("Canceled")
    ENDED = "ended", _l("Ended")

    @property
    def is_live(self) -> bool:
        return self in (ContractStatus.TRIALING, ContractStatus.ACTIVE, ContractStatus.PAST_DUE)


# Canceled "now" a contract keeps its current period until the run closes it, then ends;
# canceled at the very start of a period it ends at once. With no person acting (the
# billing run) its audit rows name the buyer's organization.
CONTRACT_TRANSITIONS = Transitions(
    ContractStatus,
    {
        ContractStatus.PENDING: {
            ContractStatus.ACTIVE,  # the baseline is agreed
            ContractStatus.CANCELED,
            ContractStatus.ENDED,
        },
        ContractStatus.TRIALING: {
            ContractStatus.ACTIVE,
            ContractStatus.PAST_DUE,
            ContractStatus.CANCELED,
            ContractStatus.ENDED,
        },
        ContractStatus.ACTIVE: {
            ContractStatus.PAST_DUE,
            ContractStatus.CANCELED,
            ContractStatus.ENDED,
        },
        ContractStatus.PAST_DUE: {
            ContractStatus.ACTIVE,  # the overdue invoices are paid
            ContractStatus.CANCELED,
            ContractStatus.ENDED,
        },
        ContractStatus.CANCELED: {ContractStatus.ENDED},  # the run closes its last period
        ContractStatus.ENDED: set(),
    },
    subject="contract",
    stamps={ContractStatus.CANCELED: "canceled_at", ContractStatus.ENDED: "ended_at"},
    system_org=lambda contract: contract.buyer_id,
)


class Contract(Base):
    __tablename__ = "contracts"
    __table_args__ = (
        sa.CheckConstraint("spend_cap_fen IS NULL OR spend_cap_fen > 0", name="cap_positive"),
        sa.CheckConstraint("current_period_end > current_period_start", name="period_order"),
        sa.CheckConstraint(
            "agreement_version IS NULL OR (agreement_revision_id IS NOT NULL "
            "AND agreement_accepted_at IS NOT NULL AND agreement_accepted_by_id IS NOT NULL)",
            name="agreement_acceptance_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    solution_id: Mapped[int] = mapped_column(sa.ForeignKey("solutions.id"), index=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("plans.id"))
    status: Mapped[ContractStatus] = mapped_column(
        enum_type(ContractStatus, "contract_status"), index=True
    )
    transitions = CONTRACT_TRANSITIONS
    # Periods repeat monthly (or yearly for yearly subscriptions) from the anchor.
    anchor_at: Mapped[datetime]
    current_period_start: Mapped[datetime]
    current_period_end: Mapped[datetime] = mapped_column(index=True)
    trial_end: Mapped[datetime | None]
    cancel_at_period_end: Mapped[bool] = mapped_column(default=False)
    canceled_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    spend_cap_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # usage contracts
    # Outcome contracts (DESIGN.md section 4): the agreed baseline and how it was measured.
    baseline: Mapped[Decimal | None] = mapped_column(sa.Numeric(24, 6))
    baseline_note: Mapped[str] = mapped_column(sa.Text, default="")
    baseline_agreed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # The service agreement the buyer accepted when starting (null on contracts started
    # before listings had one): its version, the listing revision whose text it was, when
    # and by whom.
    agreement_version: Mapped[int | None]
    agreement_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("solution_revisions.id")
    )
    agreement_accepted_at: Mapped[datetime | None]
    agreement_accepted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id])
    vendor: Mapped[Organization] = relationship(foreign_keys=[vendor_id])
    solution: Mapped[Solution] = relationship()
    plan: Mapped[Plan] = relationship()
    agreement_revision: Mapped[SolutionRevision | None] = relationship()
    agreement_accepted_by: Mapped[User | None] = relationship(
        foreign_keys=[agreement_accepted_by_id]
    )

    def __repr__(self) -> str:
        return f"<Contract {self.id} buyer={self.buyer_id} plan={self.plan_id} {self.status.value}>"

    def can_view(self, org_id: int) -> bool:
        return org_id in (self.buyer_id, self.vendor_id)

    @property
    def can_cancel(self) -> bool:
        """Live, or still waiting for its baseline: not ended or canceled already."""
        return self.status.is_live or self.status is ContractStatus.PENDING

    @property
    def can_change_plan(self) -> bool:
        return self.status in (ContractStatus.ACTIVE, ContractStatus.TRIALING)

    def proration(self, new_plan: Plan, now: datetime) -> Proration:
        """What switching to ``new_plan`` now invoices (billing/contracts.change_plan)."""
        return proration(
            self.plan.price_fen or 0,
            new_plan.price_fen or 0,
            self.current_period_start,
            self.current_period_end,
            now,
            trial=self.status is ContractStatus.TRIALING,
        )


class UsageEvent(Base):
    """One metered event as the vendor reported it; ``event_id`` is unique per vendor forever
    (held by :class:`UsageEventKey`).

    On PostgreSQL the table is partitioned by month of ``occurred_at`` (migration 0030;
    billing/metering/partitions.py creates the months ahead), so a month's events are one
    table of their own and history never slows the current month down. Its primary key
    there is (id, occurred_at), as a partitioned table's keys must hold the partition key;
    ``id`` alone comes from one sequence and is unique all the same."""

    __tablename__ = "usage_events"
    __table_args__ = (
        sa.Index(None, "contract_id", "occurred_at"),
        sa.CheckConstraint("quantity >= 0", name="quantity_not_negative"),
    )

    id: Mapped[int] = mapped_column(
        sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True
    )
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    event_id: Mapped[str] = mapped_column(sa.String(100))
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"))
    meter: Mapped[str] = mapped_column(sa.String(60))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # SHA-256 of the canonical payload, to tell a retry (same) from a conflict (different).
    payload_hash: Mapped[str] = mapped_column(sa.String(64))

    def __repr__(self) -> str:
        return f"<UsageEvent {self.vendor_id}:{self.event_id} {self.quantity} {self.meter}>"


class UsageEventKey(Base):
    """An event id a vendor has used, forever: what makes a retry a duplicate and another
    payload under the same id a conflict, across all the months of usage_events (a unique
    index on a partitioned table can only hold ids per month)."""

    __tablename__ = "usage_event_keys"

    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    # SHA-256 of the canonical payload, to tell a retry (same) from a conflict (different).
    payload_hash: Mapped[str] = mapped_column(sa.String(64))

    def __repr__(self) -> str:
        return f"<UsageEventKey {self.vendor_id}:{self.event_id}>"


class InvoiceStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")
    OPEN = "open", lazy_pgettext("invoice status", "Open")  # 待支付, not "open it"
    PAID = "paid", _l("Paid")
    VOID = "void", _l("Void")
    UNCOLLECTIBLE = "uncollectible", _l("Uncollectible")


# The only moves an invoice may make; anything else raises marketplace.states'
# IllegalTransition. Its audit rows name the invoice's number (callers add "from" and
# "note"); with no person acting, the buyer's organization.
INVOICE_TRANSITIONS = Transitions(
    InvoiceStatus,
    {
        InvoiceStatus.DRAFT: {InvoiceStatus.OPEN, InvoiceStatus.VOID},
        InvoiceStatus.OPEN: {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE},
        InvoiceStatus.UNCOLLECTIBLE: {InvoiceStatus.PAID, InvoiceStatus.VOID},
        InvoiceStatus.PAID: set(),
        InvoiceStatus.VOID: set(),
    },
    subject="invoice",
    stamps={InvoiceStatus.PAID: "paid_at", InvoiceStatus.VOID: "voided_at"},
    audit_data=lambda invoice: {"number": invoice.number},
    system_org=lambda invoice: invoice.buyer_id,
)


class InvoiceKind(enum.StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"  # corrects an earlier invoice; its lines are negative


class RefundState(LabeledEnum):
    """Shown beside a paid invoice whose payments went back (derived, not a status)."""

    PARTIALLY_REFUNDED = "partially_refunded", _l("Partially refunded")
    REFUNDED = "refunded", _l("Refunded")


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        # One invoice per contract, period and reason: closing a period twice creates nothing.
        sa.UniqueConstraint("contract_id", "period_start", "reason"),
        sa.CheckConstraint("total_fen = subtotal_fen + tax_fen", name="total_is_net_plus_tax"),
        sa.CheckConstraint("voucher_fen >= 0", name="voucher_not_negative"),
        # Customer credit (billing/credits.py) pays at most the invoice's total.
        sa.CheckConstraint(
            "credit_applied_fen >= 0 AND (credit_applied_fen = 0 OR credit_applied_fen <= total_fen)",
            name="credit_applied_within_total",
        ),
        sa.CheckConstraint("credit_granted_fen >= 0", name="credit_granted_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(sa.String(30), unique=True)
    kind: Mapped[InvoiceKind] = mapped_column(
        enum_type(InvoiceKind, "invoice_kind"), default=InvoiceKind.INVOICE
    )
    # Why it was issued: "renewal", "usage", "proration", "outcome", "correction", ...
    reason: Mapped[str] = mapped_column(sa.String(30))
    contract_id: Mapped[int] = mapped_column(sa.ForeignKey("contracts.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    corrects_invoice_id: Mapped[int | None] = mapped_column(sa.ForeignKey("invoices.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    status: Mapped[InvoiceStatus] = mapped_column(
        enum_type(InvoiceStatus, "invoice_status"), index=True
    )
    transitions = INVOICE_TRANSITIONS
    subtotal_fen: Mapped[int] = mapped_column(sa.BigInteger)  # net of VAT
    tax_fen: Mapped[int] = mapped_column(sa.BigInteger)  # the VAT contained in the prices
    total_fen: Mapped[int] = mapped_column(sa.BigInteger)  # tax-inclusive
    voucher_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # Taken from the buyer's credit balance with the vendor when the invoice was issued.
    credit_applied_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # What of a negative total (or of a credit note) went to the buyer's credit balance.
    credit_granted_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    commission_bp: Mapped[int]  # the platform's rate when the invoice was issued
    issued_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    voided_at: Mapped[datetime | None]
    # Card retries (dunning): how many attempts failed, and when the next is due.
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    contract: Mapped[Contract] = relationship()
    buyer: Mapped[Organization] = relationship(foreign_keys=[buyer_id])
    vendor: Mapped[Organization] = relationship(foreign_keys=[vendor_id])
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", order_by="Payment.id")
    # Credit notes (and correction invoices) issued against this invoice; it never changes.
    corrections: Mapped[list[Invoice]] = relationship(
        foreign_keys=[corrects_invoice_id], order_by="Invoice.id", viewonly=True
    )

    def __repr__(self) -> str:
        return f"<Invoice {self.number} {self.status.value} {self.total_fen}>"

    def can_view(self, org_id: int) -> bool:
        return org_id in (self.buyer_id, self.vendor_id)

    @property
    def refund_state(self) -> RefundState | None:
        """Of a paid invoice: refunded when every fen received was given back, partially
        when some was (an open or void invoice keeps showing its status)."""
        if self.status is not InvoiceStatus.PAID:
            return None
        received = [p for p in self.payments if p.status is PaymentStatus.SUCCEEDED]
        paid = sum(p.amount_fen for p in received)
        refunded = sum(p.refunded_fen for p in received)
        if not refunded:
            return None
        return RefundState.REFUNDED if refunded >= paid else RefundState.PARTIALLY_REFUNDED

    @property
    def display_status(self) -> str:
        """The status as people read it: a paid invoice whose payments went back says so."""
        state = self.refund_state
        return state.value if state else self.status.value

    @property
    def display_label(self) -> str:
        state = self.refund_state
        return state.label if state else self.status.label

    @property
    def transfer_reference(self) -> str:
        """What the buyer writes in the bank transfer's remark (对公转账附言)."""
        return f"MKT{self.number.replace('-', '')}"


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    # "subscription", "usage", "base_fee", "proration_credit", "proration_charge", "outcome"
    kind: Mapped[str] = mapped_column(sa.String(30))
    description: Mapped[str] = mapped_column(sa.String(300))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_fen: Mapped[Decimal] = mapped_column(sa.Numeric(24, 6))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)  # tax-inclusive, rounded once
    vat_rate_bp: Mapped[int]
    tax_fen: Mapped[int] = mapped_column(sa.BigInteger)
    plan_id: Mapped[int | None] = mapped_column(sa.ForeignKey("plans.id"))
    period_start: Mapped[datetime]
    period_end: Mapped[datetime]
    details: Mapped[dict[str, Any]]  # e.g. tier index, baseline/measured for outcome lines

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    def __repr__(self) -> str:
        return f"<InvoiceLine {self.invoice_id}#{self.position} {self.kind} {self.amount_fen}>"


class InvoiceEvent(Base):
    """Append-only history of an invoice's status."""

    __tablename__ = "invoice_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(sa.ForeignKey("invoices.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(sa.String(20))
    to_status: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InvoiceCounter(Base):
    """The next invoice number per year; incremented under a row lock."""

    __tablename__ = "invoice_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("organization_id", "dedupe_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))  # "spend_cap_80", "invoice_issued", ...
    params: Mapped[dict[str, Any]]  # values for the message in the reader's language
    link: Mapped[str] = mapped_column(sa.String(300), default="")
    # Same key, same organization: notified once (e.g. "cap80:contract:12:2026-11").
    dedupe_key: Mapped[str] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None]
