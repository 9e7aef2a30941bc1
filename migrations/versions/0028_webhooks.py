"""webhooks (placeholder: filled in by the work that needs it)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

import marketplace.db  # noqa: F401

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
