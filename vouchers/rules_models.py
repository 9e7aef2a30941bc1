"""A program's rules beyond its terms (DESIGN.md section 5): which other programs it may
stack with on one invoice and the combined cap; the government organizations that co-fund
it and in what ratio, with each redemption's split between them; and the conditions a
redemption must meet before it is settled, with what each settlement batch held back.

The rules live in vouchers/stacking.py, vouchers/cofunding.py and
vouchers/settlement_conditions.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from marketplace.db import Base, utcnow


class StackingRule(Base):
    """A program that has this row stacks only with the programs it lists, and never lets
    the subsidies of all programs on one invoice pass ``combined_cap_bp`` of the eligible
    amount. A program without one stacks with any program and has no combined cap."""

    __tablename__ = "voucher_stacking_rules"
    __table_args__ = (
        sa.CheckConstraint(
            "combined_cap_bp > 0 AND combined_cap_bp <= 10000", name="combined_cap_range"
        ),
    )

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), primary_key=True)
    partner_program_ids: Mapped[list[Any]]  # the programs it may share an invoice with
    combined_cap_bp: Mapped[int]  # all programs' subsidies together, of the eligible amount
    updated_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"<StackingRule program={self.program_id} with={self.partner_program_ids} "
            f"cap={self.combined_cap_bp}bp>"
        )

    def allows(self, other_program_id: int) -> bool:
        return other_program_id in self.partner_program_ids


class ProgramFunder(Base):
    """One government organization paying part of a program, by weight (市:区 = 1:1 is
    two rows of weight 1). A program without rows is paid by its owner alone."""

    __tablename__ = "voucher_program_funders"
    __table_args__ = (
        sa.UniqueConstraint("program_id", "organization_id"),
        sa.CheckConstraint("weight > 0 AND weight <= 1000", name="weight_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    weight: Mapped[int]

    def __repr__(self) -> str:
        return (
            f"<ProgramFunder program={self.program_id} org={self.organization_id} w={self.weight}>"
        )


class FunderShare(Base):
    """What one funder pays of one redemption of a co-funded program, fixed when redeemed
    (the shares of a redemption sum to its amount; the ledger and settlements use them)."""

    __tablename__ = "voucher_funder_shares"
    __table_args__ = (
        sa.UniqueConstraint("redemption_id", "organization_id"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    redemption_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_redemptions.id"), index=True)
    organization_id: Mapped[int] = mapped_column(sa.ForeignKey("organizations.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)

    def __repr__(self) -> str:
        return (
            f"<FunderShare redemption={self.redemption_id} org={self.organization_id} "
            f"{self.amount_fen}>"
        )


class SettlementCondition(Base):
    """What a redemption of the program must show before it is settled: the invoice's
    fapiao issued, and/or delivery: the buyer accepted it (验收) or, when
    ``min_days_used`` is set, used the solution that many days (either one suffices when
    both are set)."""

    __tablename__ = "voucher_settlement_conditions"
    __table_args__ = (
        sa.CheckConstraint(
            "min_days_used IS NULL OR (min_days_used > 0 AND min_days_used <= 3650)",
            name="min_days_range",
        ),
    )

    program_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_programs.id"), primary_key=True)
    require_fapiao: Mapped[bool] = mapped_column(default=False)
    require_acceptance: Mapped[bool] = mapped_column(default=False)
    min_days_used: Mapped[int | None]
    updated_by_user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return (
            f"<SettlementCondition program={self.program_id} fapiao={self.require_fapiao} "
            f"acceptance={self.require_acceptance} days={self.min_days_used}>"
        )

    @property
    def requires_delivery(self) -> bool:
        return self.require_acceptance or self.min_days_used is not None

    @property
    def is_empty(self) -> bool:
        return not self.require_fapiao and not self.requires_delivery


class SettlementHoldback(Base):
    """A redemption a settlement batch left out because it did not yet meet the program's
    conditions, and why (codes of settlement_conditions.REASONS)."""

    __tablename__ = "voucher_settlement_holdbacks"
    __table_args__ = (sa.UniqueConstraint("settlement_id", "redemption_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    settlement_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_settlements.id"), index=True)
    redemption_id: Mapped[int] = mapped_column(sa.ForeignKey("voucher_redemptions.id"), index=True)
    reasons: Mapped[list[Any]]

    def __repr__(self) -> str:
        return (
            f"<SettlementHoldback settlement={self.settlement_id} "
            f"redemption={self.redemption_id} {self.reasons}>"
        )
