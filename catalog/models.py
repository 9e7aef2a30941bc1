"""Solutions, their reviewed revisions, plans (the price definitions), screenshots, ratings.

A solution is the listing buyers find under one slug. Its content lives in revisions: the
vendor edits a draft revision and submits it; the operator approves it, and only then does
it become the published revision. An edit to a published solution is a new revision, so
the published one stays visible while the edit is reviewed. Plans belong to a revision and
never change after approval (contracts point at them); an edit copies them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from marketplace.db import Base, enum_type, utcnow
from marketplace.enums import LabeledEnum
from marketplace.models import Organization
from marketplace.states import Transitions

FEN_PER_YUAN = 100
# A subscription priced per year counts a twelfth of it per month.
MONTHS_PER_YEAR = 12


class SolutionStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")  # never published, being written
    SUBMITTED = "submitted", _l("In review")  # never published, awaiting review
    PUBLISHED = "published", _l("Published")
    REJECTED = "rejected", _l("Rejected")  # never published, the last review said no
    DELISTED = "delisted", _l("Delisted")


class RevisionStatus(LabeledEnum):
    DRAFT = "draft", _l("Draft")
    SUBMITTED = "submitted", _l("In review")
    APPROVED = "approved", _l("Published")  # the published revision
    REJECTED = "rejected", _l("Rejected")
    # was published, replaced by a later approval
    SUPERSEDED = "superseded", _l("Replaced by a later version")


# A listing follows its first revision through review; once published it stays published
# while later revisions are reviewed, until it is delisted. Its audit rows name its slug.
SOLUTION_TRANSITIONS = Transitions(
    SolutionStatus,
    {
        SolutionStatus.DRAFT: {SolutionStatus.SUBMITTED},
        SolutionStatus.SUBMITTED: {
            SolutionStatus.DRAFT,  # withdrawn
            SolutionStatus.PUBLISHED,
            SolutionStatus.REJECTED,
        },
        SolutionStatus.REJECTED: {SolutionStatus.DRAFT, SolutionStatus.SUBMITTED},
        SolutionStatus.PUBLISHED: {SolutionStatus.DELISTED},
        SolutionStatus.DELISTED: {SolutionStatus.PUBLISHED},
    },
    subject="solution",
    audit_data=lambda solution: {"slug": solution.slug},
)

# A revision's moves are recorded on its solution (the trail a reader follows), with the
# revision's number.
REVISION_TRANSITIONS = Transitions(
    RevisionStatus,
    {
        RevisionStatus.DRAFT: {RevisionStatus.SUBMITTED},
        RevisionStatus.SUBMITTED: {
            RevisionStatus.DRAFT,  # withdrawn
            RevisionStatus.APPROVED,
            RevisionStatus.REJECTED,
        },
        # The vendor edits it again, or sends it back as it is (submit takes a rejected one).
        RevisionStatus.REJECTED: {RevisionStatus.DRAFT, RevisionStatus.SUBMITTED},
        RevisionStatus.APPROVED: {RevisionStatus.SUPERSEDED},
        RevisionStatus.SUPERSEDED: set(),
    },
    subject="solution",
    stamps={
        RevisionStatus.SUBMITTED: "submitted_at",
        RevisionStatus.APPROVED: "reviewed_at",
        RevisionStatus.REJECTED: "reviewed_at",
    },
    audit_subject=lambda revision: revision.solution_id,
    audit_data=lambda revision: {"slug": revision.solution.slug, "revision": revision.number},
)


class Delivery(LabeledEnum):
    SAAS = "saas", _l("SaaS")
    EDGE = "edge", _l("Edge device")
    MAAS = "maas", _l("Model as a service")
    AGENT = "agent", _l("AI agent")
    API = "api", _l("API")
    SERVICE = "service", _l("Professional service")

    @property
    def is_light(self) -> bool:
        """轻: nothing to install on site (DESIGN.md section 3)."""
        return self in (Delivery.SAAS, Delivery.MAAS, Delivery.AGENT, Delivery.API)


class VoucherKind(LabeledEnum):
    CLOUD = "cloud", _l("Cloud voucher")  # 上云券
    COMPUTE = "compute", _l("Compute voucher")  # 算力券


class BillingModel(LabeledEnum):
    SUBSCRIPTION = "subscription", _l("Subscription")
    USAGE = "usage", _l("Pay after use")  # 先用后付
    OUTCOME = "outcome", _l("Pay for results")  # 效果付费


class Interval(enum.StrEnum):
    MONTH = "month"
    YEAR = "year"


class TierMode(enum.StrEnum):
    GRADUATED = "graduated"  # each tier's units at that tier's price
    VOLUME = "volume"  # all units at the price of the tier the total reaches


class Direction(enum.StrEnum):
    INCREASE = "increase"
    DECREASE = "decrease"


class Solution(Base):
    __tablename__ = "solutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    status: Mapped[SolutionStatus] = mapped_column(
        enum_type(SolutionStatus, "solution_status"), default=SolutionStatus.DRAFT, index=True
    )
    transitions = SOLUTION_TRANSITIONS
    # What buyers see; None until the first approval.
    published_revision_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("solution_revisions.id", use_alter=True)
    )
    featured: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]  # first publication, for "newest"
    delisted_reason: Mapped[str] = mapped_column(sa.Text, default="")
    # Set when an index write failed after commit; `catalog reindex` clears it.
    needs_reindex: Mapped[bool] = mapped_column(default=False)
    # Where a buyer who started a plan is sent to sign up with the vendor (with a one-time
    # token, billing/fulfillment.py); checked by marketplace/urls.py. "" for none.
    fulfillment_url: Mapped[str] = mapped_column(sa.String(500), default="")
    # When what catalog sync shows of this solution last changed (published version, status);
    # what a sync's starting `updated_since` time is compared with. Kept by catalog/sync.py.
    changed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    vendor: Mapped[Organization] = relationship()
    revisions: Mapped[list[SolutionRevision]] = relationship(
        back_populates="solution",
        foreign_keys="SolutionRevision.solution_id",
        order_by="SolutionRevision.number",
        cascade="all, delete-orphan",
    )
    published: Mapped[SolutionRevision | None] = relationship(
        foreign_keys=[published_revision_id], post_update=True
    )

    def __repr__(self) -> str:
        return f"<Solution {self.id} {self.slug} {self.status.value}>"

    @hybrid_property
    def is_public(self) -> bool:
        return self.status == SolutionStatus.PUBLISHED

    @property
    def can_delist(self) -> bool:
        return self.status is SolutionStatus.PUBLISHED

    @property
    def can_relist(self) -> bool:
        """Delisted, with a published version to show again."""
        return self.status is SolutionStatus.DELISTED and self.published_revision_id is not None

    @is_public.inplace.expression
    @classmethod
    def _is_public_expression(cls) -> sa.ColumnElement[bool]:
        return cls.status == SolutionStatus.PUBLISHED

    @property
    def working_revision(self) -> SolutionRevision | None:
        """The newest revision that is not the published one: a draft, in review or rejected."""
        latest = self.revisions[-1] if self.revisions else None
        if latest is None or latest.id == self.published_revision_id:
            return None
        if latest.status in (
            RevisionStatus.DRAFT,
            RevisionStatus.SUBMITTED,
            RevisionStatus.REJECTED,
        ):
            return latest
        return None

    @property
    def current(self) -> SolutionRevision:
        """What the vendor works on: the working revision, else the published one."""
        revision = self.working_revision or self.published
        assert revision is not None, "a solution always has a revision"
        return revision


class SolutionRevision(Base):
    __tablename__ = "solution_revisions"
    __table_args__ = (
        sa.UniqueConstraint("solution_id", "number"),
        sa.CheckConstraint("deploy_days >= 0 AND deploy_days <= 365", name="deploy_days_range"),
        sa.CheckConstraint("agreement_version >= 1", name="agreement_version_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(sa.ForeignKey("solutions.id", ondelete="CASCADE"))
    number: Mapped[int]  # 1, 2, ... per solution
    status: Mapped[RevisionStatus] = mapped_column(
        enum_type(RevisionStatus, "revision_status"), default=RevisionStatus.DRAFT, index=True
    )
    transitions = REVISION_TRANSITIONS
    name: Mapped[str] = mapped_column(sa.String(60))
    name_en: Mapped[str] = mapped_column(sa.String(120), default="")
    summary: Mapped[str] = mapped_column(sa.String(200))
    summary_en: Mapped[str] = mapped_column(sa.String(400), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")  # Markdown, sanitized on display
    industries: Mapped[list[Any]]  # GB/T 4754 codes, at least one
    scenarios: Mapped[list[Any]]  # scenario codes, one to three
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery, "delivery"))
    deploy_days: Mapped[int]
    voucher_kinds: Mapped[list[Any]]  # "cloud", "compute"
    # [{"customer_industry", "customer", "problem", "result"}]
    case_studies: Mapped[list[Any]]
    # What lets a buyer trust the listing, reviewed with the rest (catalog/validation.py):
    # [{"question", "answer"}]; {"phone", "email", "wechat", "hours"};
    # {"availability_bp", "response_hours"}; ["step", ...] in order.
    faq: Mapped[list[Any]] = mapped_column(default=list, server_default=sa.text("'[]'"))
    support: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=sa.text("'{}'"))
    sla: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=sa.text("'{}'"))
    deploy_steps: Mapped[list[Any]] = mapped_column(default=list, server_default=sa.text("'[]'"))
    # The service agreement a buyer accepts when starting a plan ("" = the platform's
    # standard one, catalog/agreements.py); its version changes when the vendor edits the
    # text (catalog/services.py), and contracts record the version accepted.
    agreement: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    agreement_version: Mapped[int] = mapped_column(default=1, server_default="1")
    review_note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    solution: Mapped[Solution] = relationship(
        back_populates="revisions", foreign_keys=[solution_id]
    )
    plans: Mapped[list[Plan]] = relationship(
        back_populates="revision", order_by="Plan.position", cascade="all, delete-orphan"
    )
    screenshots: Mapped[list[Screenshot]] = relationship(
        back_populates="revision", order_by="Screenshot.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<SolutionRevision {self.solution_id}#{self.number} {self.status.value}>"

    @property
    def can_edit(self) -> bool:
        """Not while it is in review (the vendor withdraws it first)."""
        return self.status is not RevisionStatus.SUBMITTED

    @property
    def editable(self) -> bool:
        return self.status in (RevisionStatus.DRAFT, RevisionStatus.REJECTED)

    def lowest_monthly_fen(self) -> int | None:
        prices = [p.monthly_equivalent_fen for p in self.plans]
        known = [p for p in prices if p is not None]
        return min(known) if known else None

    def billing_models(self) -> list[str]:
        return sorted({p.billing_model.value for p in self.plans})

    def badges(self) -> dict[str, bool]:
        """小快轻准, computed from data, never claimed (DESIGN.md section 3)."""
        monthly = self.lowest_monthly_fen()
        return {
            "small": monthly is not None and monthly <= 2_000 * FEN_PER_YUAN,
            "fast": self.deploy_days <= 7,
            "light": self.delivery.is_light,
            "precise": 1 <= len(self.scenarios) <= 2,
        }


class Plan(Base):
    """One price definition. The columns a billing model needs are required by CHECKs."""

    __tablename__ = "plans"
    __table_args__ = (
        sa.CheckConstraint(
            "billing_model <> 'subscription' OR "
            "(price_fen IS NOT NULL AND price_fen >= 0 AND interval IS NOT NULL)",
            name="subscription_terms",
        ),
        sa.CheckConstraint(
            "billing_model <> 'usage' OR (meter IS NOT NULL AND tiers IS NOT NULL "
            "AND tier_mode IS NOT NULL)",
            name="usage_terms",
        ),
        sa.CheckConstraint(
            "billing_model <> 'outcome' OR (kpi_name IS NOT NULL AND direction IS NOT NULL "
            "AND (price_per_unit_fen IS NOT NULL OR "
            "(share_bp IS NOT NULL AND value_per_unit_fen IS NOT NULL)))",
            name="outcome_terms",
        ),
        sa.CheckConstraint("trial_days >= 0 AND trial_days <= 365", name="trial_days_range"),
        sa.CheckConstraint("free_units >= 0", name="free_units_not_negative"),
        sa.CheckConstraint("base_fee_fen >= 0", name="base_fee_not_negative"),
        sa.CheckConstraint("cap_fen IS NULL OR cap_fen > 0", name="cap_positive"),
        sa.CheckConstraint(
            "share_bp IS NULL OR (share_bp > 0 AND share_bp <= 10000)", name="share_range"
        ),
        sa.CheckConstraint("vat_rate_bp >= 0 AND vat_rate_bp <= 10000", name="vat_range"),
        sa.CheckConstraint(
            "verification_days >= 1 AND verification_days <= 90", name="window_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        sa.ForeignKey("solution_revisions.id", ondelete="CASCADE"), index=True
    )
    solution_id: Mapped[int] = mapped_column(sa.ForeignKey("solutions.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(60))
    name_en: Mapped[str] = mapped_column(sa.String(120), default="")
    billing_model: Mapped[BillingModel] = mapped_column(enum_type(BillingModel, "billing_model"))
    features: Mapped[list[Any]]  # short selling points, shown as a list
    vat_rate_bp: Mapped[int] = mapped_column(default=600)  # prices include VAT at this rate
    base_fee_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)  # usage and outcome
    # subscription
    price_fen: Mapped[int | None] = mapped_column(sa.BigInteger)
    interval: Mapped[Interval | None] = mapped_column(enum_type(Interval, "interval"))
    trial_days: Mapped[int] = mapped_column(default=0)
    # usage
    meter: Mapped[str | None] = mapped_column(sa.String(60))
    unit: Mapped[str | None] = mapped_column(sa.String(20))
    unit_en: Mapped[str | None] = mapped_column(sa.String(40))
    tier_mode: Mapped[TierMode | None] = mapped_column(enum_type(TierMode, "tier_mode"))
    tiers: Mapped[list[Any] | None]  # [{"up_to": int | None, "unit_fen": "1.5"}], last up_to None
    free_units: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # outcome
    kpi_name: Mapped[str | None] = mapped_column(sa.String(60))
    kpi_unit: Mapped[str | None] = mapped_column(sa.String(20))
    kpi_name_en: Mapped[str | None] = mapped_column(sa.String(120))  # shown in English
    kpi_unit_en: Mapped[str | None] = mapped_column(sa.String(40))
    direction: Mapped[Direction | None] = mapped_column(enum_type(Direction, "direction"))
    price_per_unit_fen: Mapped[Decimal | None] = mapped_column(sa.Numeric(20, 6))
    share_bp: Mapped[int | None]  # vendor's share of the value of the improvement
    value_per_unit_fen: Mapped[Decimal | None] = mapped_column(sa.Numeric(20, 6))
    cap_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # per period
    verification_days: Mapped[int] = mapped_column(default=7)

    revision: Mapped[SolutionRevision] = relationship(back_populates="plans")
    solution: Mapped[Solution] = relationship()

    def __repr__(self) -> str:
        return f"<Plan {self.id} {self.billing_model.value} {self.name!r}>"

    @property
    def monthly_equivalent_fen(self) -> int | None:
        """The least a buyer pays per month: the subscription price a month, or the base
        fee of a usage or outcome plan (0 when there is none: pay only for use)."""
        if self.billing_model is BillingModel.SUBSCRIPTION:
            assert self.price_fen is not None
            if self.interval is Interval.YEAR:
                return (self.price_fen + MONTHS_PER_YEAR // 2) // MONTHS_PER_YEAR
            return self.price_fen
        return self.base_fee_fen

    @property
    def is_offered(self) -> bool:
        """Buyers can start this plan: it belongs to the published revision of a public solution."""
        solution = self.solution
        return solution.is_public and solution.published_revision_id == self.revision_id


class Screenshot(Base):
    __tablename__ = "screenshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision_id: Mapped[int] = mapped_column(
        sa.ForeignKey("solution_revisions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    # Stored as instance/uploads/screenshots/<stored_name>; names are random, never user input.
    stored_name: Mapped[str] = mapped_column(sa.String(80))
    content_type: Mapped[str] = mapped_column(sa.String(40))
    size_bytes: Mapped[int]
    width: Mapped[int]
    height: Mapped[int]
    caption: Mapped[str] = mapped_column(sa.String(120), default="")

    revision: Mapped[SolutionRevision] = relationship(back_populates="screenshots")

    def __repr__(self) -> str:
        return f"<Screenshot {self.id} {self.stored_name}>"


class Rating(Base):
    """A buyer's rating; billing adds one only for a buyer with a paid invoice."""

    __tablename__ = "ratings"
    __table_args__ = (
        sa.UniqueConstraint("solution_id", "organization_id"),
        sa.CheckConstraint("stars >= 1 AND stars <= 5", name="stars_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    solution_id: Mapped[int] = mapped_column(sa.ForeignKey("solutions.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    stars: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()

    def __repr__(self) -> str:
        return f"<Rating {self.solution_id} by org {self.organization_id}: {self.stars}>"
