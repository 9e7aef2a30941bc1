"""stacking_cofunding: programs stacked on one invoice, co-funding in a ratio, settlement
conditions with the batches' holdbacks, and the buyer's acceptance of delivery

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import marketplace.db

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "voucher_stacking_rules",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("partner_program_ids", JSON, nullable=False),
        sa.Column("combined_cap_bp", sa.Integer(), nullable=False),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "combined_cap_bp > 0 AND combined_cap_bp <= 10000",
            name=op.f("ck_voucher_stacking_rules_combined_cap_range"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["voucher_programs.id"],
            name=op.f("fk_voucher_stacking_rules_program_id_voucher_programs"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_voucher_stacking_rules_updated_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_voucher_stacking_rules")),
    )
    op.create_table(
        "voucher_program_funders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "weight > 0 AND weight <= 1000", name=op.f("ck_voucher_program_funders_weight_range")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_voucher_program_funders_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["voucher_programs.id"],
            name=op.f("fk_voucher_program_funders_program_id_voucher_programs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_program_funders")),
        sa.UniqueConstraint(
            "program_id",
            "organization_id",
            name=op.f("uq_voucher_program_funders_program_id_organization_id"),
        ),
    )
    op.create_index(
        op.f("ix_voucher_program_funders_organization_id"),
        "voucher_program_funders",
        ["organization_id"],
    )
    op.create_index(
        op.f("ix_voucher_program_funders_program_id"), "voucher_program_funders", ["program_id"]
    )
    op.create_table(
        "voucher_funder_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "amount_fen >= 0", name=op.f("ck_voucher_funder_shares_amount_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_voucher_funder_shares_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["voucher_redemptions.id"],
            name=op.f("fk_voucher_funder_shares_redemption_id_voucher_redemptions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_funder_shares")),
        sa.UniqueConstraint(
            "redemption_id",
            "organization_id",
            name=op.f("uq_voucher_funder_shares_redemption_id_organization_id"),
        ),
    )
    op.create_index(
        op.f("ix_voucher_funder_shares_organization_id"),
        "voucher_funder_shares",
        ["organization_id"],
    )
    op.create_index(
        op.f("ix_voucher_funder_shares_redemption_id"), "voucher_funder_shares", ["redemption_id"]
    )
    op.create_table(
        "voucher_settlement_conditions",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("require_fapiao", sa.Boolean(), nullable=False),
        sa.Column("require_acceptance", sa.Boolean(), nullable=False),
        sa.Column("min_days_used", sa.Integer(), nullable=True),
        sa.Column("updated_by_user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "min_days_used IS NULL OR (min_days_used > 0 AND min_days_used <= 3650)",
            name=op.f("ck_voucher_settlement_conditions_min_days_range"),
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["voucher_programs.id"],
            name=op.f("fk_voucher_settlement_conditions_program_id_voucher_programs"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_user_id"],
            ["users.id"],
            name=op.f("fk_voucher_settlement_conditions_updated_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("program_id", name=op.f("pk_voucher_settlement_conditions")),
    )
    op.create_table(
        "voucher_settlement_holdbacks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("settlement_id", sa.Integer(), nullable=False),
        sa.Column("redemption_id", sa.Integer(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["redemption_id"],
            ["voucher_redemptions.id"],
            name=op.f("fk_voucher_settlement_holdbacks_redemption_id_voucher_redemptions"),
        ),
        sa.ForeignKeyConstraint(
            ["settlement_id"],
            ["voucher_settlements.id"],
            name=op.f("fk_voucher_settlement_holdbacks_settlement_id_voucher_settlements"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voucher_settlement_holdbacks")),
        sa.UniqueConstraint(
            "settlement_id",
            "redemption_id",
            name=op.f("uq_voucher_settlement_holdbacks_settlement_id_redemption_id"),
        ),
    )
    op.create_index(
        op.f("ix_voucher_settlement_holdbacks_redemption_id"),
        "voucher_settlement_holdbacks",
        ["redemption_id"],
    )
    op.create_index(
        op.f("ix_voucher_settlement_holdbacks_settlement_id"),
        "voucher_settlement_holdbacks",
        ["settlement_id"],
    )
    op.create_table(
        "contract_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("accepted_by_user_id", sa.Integer(), nullable=False),
        sa.Column("accepted_at", marketplace.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["accepted_by_user_id"],
            ["users.id"],
            name=op.f("fk_contract_acceptances_accepted_by_user_id_users"),
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["contracts.id"],
            name=op.f("fk_contract_acceptances_contract_id_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_acceptances")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_contract_acceptances_contract_id")),
    )


def downgrade() -> None:
    op.drop_table("contract_acceptances")
    op.drop_index(
        op.f("ix_voucher_settlement_holdbacks_settlement_id"),
        table_name="voucher_settlement_holdbacks",
    )
    op.drop_index(
        op.f("ix_voucher_settlement_holdbacks_redemption_id"),
        table_name="voucher_settlement_holdbacks",
    )
    op.drop_table("voucher_settlement_holdbacks")
    op.drop_table("voucher_settlement_conditions")
    op.drop_index(
        op.f("ix_voucher_funder_shares_redemption_id"), table_name="voucher_funder_shares"
    )
    op.drop_index(
        op.f("ix_voucher_funder_shares_organization_id"), table_name="voucher_funder_shares"
    )
    op.drop_table("voucher_funder_shares")
    op.drop_index(
        op.f("ix_voucher_program_funders_program_id"), table_name="voucher_program_funders"
    )
    op.drop_index(
        op.f("ix_voucher_program_funders_organization_id"), table_name="voucher_program_funders"
    )
    op.drop_table("voucher_program_funders")
    op.drop_table("voucher_stacking_rules")
