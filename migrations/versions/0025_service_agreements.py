"""service agreements: a listing revision's agreement text and version; the version a
contract's buyer accepted, whose text it was, when and by whom; English KPI name and unit of
pay-for-results plans

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kpi_name_en", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("kpi_unit_en", sa.String(length=40), nullable=True))
    with op.batch_alter_table("solution_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("agreement_version", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.create_check_constraint("agreement_version_positive", "agreement_version >= 1")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agreement_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("agreement_revision_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "agreement_accepted_at", marketplace.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("agreement_accepted_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_contracts_agreement_revision_id_solution_revisions"),
            "solution_revisions",
            ["agreement_revision_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_contracts_agreement_accepted_by_id_users"),
            "users",
            ["agreement_accepted_by_id"],
            ["id"],
        )
        batch_op.create_check_constraint(
            "agreement_acceptance_complete",
            "agreement_version IS NULL OR (agreement_revision_id IS NOT NULL "
            "AND agreement_accepted_at IS NOT NULL AND agreement_accepted_by_id IS NOT NULL)",
        )


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_contracts_agreement_acceptance_complete"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_contracts_agreement_accepted_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_contracts_agreement_revision_id_solution_revisions"), type_="foreignkey"
        )
        batch_op.drop_column("agreement_accepted_by_id")
        batch_op.drop_column("agreement_accepted_at")
        batch_op.drop_column("agreement_revision_id")
        batch_op.drop_column("agreement_version")
    with op.batch_alter_table("solution_revisions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_solution_revisions_agreement_version_positive"), type_="check"
        )
        batch_op.drop_column("agreement_version")
        batch_op.drop_column("agreement")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("kpi_unit_en")
        batch_op.drop_column("kpi_name_en")
