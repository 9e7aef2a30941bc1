"""outcome report evidence files

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21 07:48:57.036406
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op



revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outcome_reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_file', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('evidence_content_type', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('evidence_filename', sa.String(length=200), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outcome_reports', schema=None) as batch_op:
        batch_op.drop_column('evidence_filename')
        batch_op.drop_column('evidence_content_type')
        batch_op.drop_column('evidence_file')

