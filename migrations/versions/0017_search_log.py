"""search log: the ordered list of solutions whose public document changed, and its pruning horizon

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('op', sa.Enum('upsert', 'delete', name='search_op', native_enum=False, create_constraint=True, length=6), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_log')),
    sqlite_autoincrement=True,
    )
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_search_log_created_at'), ['created_at'], unique=False)

    op.create_table('search_log_horizon',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('pruned_through', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_search_log_horizon_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_log_horizon'))
    )


def downgrade() -> None:
    op.drop_table('search_log_horizon')
    with op.batch_alter_table('search_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_search_log_created_at'))

    op.drop_table('search_log')
