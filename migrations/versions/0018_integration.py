"""integration: a listing's fulfillment URL, the sync position of solutions, sign-up handoff tokens

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fulfillment_url', sa.String(length=500), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('changed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True))
    # Existing solutions enter the sync order where they were last published or created.
    op.execute('UPDATE solutions SET changed_at = COALESCE(published_at, created_at)')
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.alter_column('changed_at', existing_type=marketplace.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_index(batch_op.f('ix_solutions_changed_at'), ['changed_at'], unique=False)

    op.create_table('fulfillment_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_fulfillment_tokens_expires_after_created')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_fulfillment_tokens_contract_id_contracts')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_fulfillment_tokens_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fulfillment_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_fulfillment_tokens_token_hash'))
    )
    with op.batch_alter_table('fulfillment_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fulfillment_tokens_contract_id'), ['contract_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fulfillment_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fulfillment_tokens_contract_id'))

    op.drop_table('fulfillment_tokens')
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solutions_changed_at'))
        batch_op.drop_column('changed_at')
        batch_op.drop_column('fulfillment_url')
