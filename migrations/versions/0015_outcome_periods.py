"""outcome periods: one report that counts per contract and billing period

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db  # noqa: F401

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.create_index(
            "uq_outcome_reports_contract_id_period_start",
            ["contract_id", "period_start"],
            unique=True,
            sqlite_where=sa.text("status <> 'rejected'"),
            postgresql_where=sa.text("status <> 'rejected'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outcome_reports", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_outcome_reports_contract_id_period_start",
            sqlite_where=sa.text("status <> 'rejected'"),
            postgresql_where=sa.text("status <> 'rejected'"),
        )
