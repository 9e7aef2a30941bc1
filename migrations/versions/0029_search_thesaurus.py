"""search_thesaurus (reserved slot; filled by the work that needs it)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
