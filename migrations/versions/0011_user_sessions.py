"""user sessions: one row per signed-in browser, so that signing out can be enforced

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('remember', sa.Boolean(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('ip_address', sa.String(length=45), nullable=False),
    sa.Column('revoked_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.Enum('signed_out', 'ended_remotely', 'everywhere', 'password_changed', name='session_end', native_enum=False, create_constraint=True), nullable=True),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_user_sessions_expires_after_creation')),
    sa.CheckConstraint('(revoked_at IS NULL) = (revoke_reason IS NULL)', name=op.f('ck_user_sessions_revoked_with_reason')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_user_sessions_token_hash'))
    )
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_sessions_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_sessions_user_id'))

    op.drop_table('user_sessions')
