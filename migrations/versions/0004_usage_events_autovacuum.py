"""usage_events: analyze and vacuum sooner (PostgreSQL)

The table only grows, fast: with the default thresholds the planner's statistics lag far
behind it, and the duplicate check of an ingestion batch can fall back to scanning a large
vendor's events instead of probing the unique index.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE usage_events SET (autovacuum_analyze_scale_factor = 0.01, "
            "autovacuum_vacuum_scale_factor = 0.05)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE usage_events RESET (autovacuum_analyze_scale_factor, "
            "autovacuum_vacuum_scale_factor)"
        )
