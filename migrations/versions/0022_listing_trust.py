"""listing trust: FAQ, support channels and hours, SLA and deployment steps of a listing revision

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import marketplace.db  # noqa: F401

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("solution_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("faq", JSON, server_default=sa.text("'[]'"), nullable=False))
        batch_op.add_column(
            sa.Column("support", JSON, server_default=sa.text("'{}'"), nullable=False)
        )
        batch_op.add_column(sa.Column("sla", JSON, server_default=sa.text("'{}'"), nullable=False))
        batch_op.add_column(
            sa.Column("deploy_steps", JSON, server_default=sa.text("'[]'"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("solution_revisions", schema=None) as batch_op:
        batch_op.drop_column("deploy_steps")
        batch_op.drop_column("sla")
        batch_op.drop_column("support")
        batch_op.drop_column("faq")
