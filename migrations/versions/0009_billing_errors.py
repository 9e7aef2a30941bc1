"""billing errors: contracts whose period the billing run could not close

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('period_start', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('step', sa.String(length=20), nullable=False),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('first_seen_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('resolved_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('attempts >= 1', name=op.f('ck_billing_errors_attempts_positive')),
    sa.CheckConstraint('last_seen_at >= first_seen_at', name=op.f('ck_billing_errors_seen_order')),
    sa.CheckConstraint("step IN ('close', 'results')", name=op.f('ck_billing_errors_step_known')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_billing_errors_contract_id_contracts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_errors')),
    sa.UniqueConstraint('contract_id', 'period_start', 'step', name=op.f('uq_billing_errors_contract_id_period_start_step'))
    )
    with op.batch_alter_table('billing_errors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_billing_errors_resolved_at'), ['resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('billing_errors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_billing_errors_resolved_at'))

    op.drop_table('billing_errors')
