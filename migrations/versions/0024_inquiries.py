"""inquiries: 咨询服务商 threads between a buyer organization and a listing's vendor

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inquiries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=120), nullable=False),
    sa.Column('status', sa.Enum('open', 'answered', 'closed', name='inquiry_status', native_enum=False, create_constraint=True, length=8), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_message_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('unread_by_buyer', sa.Boolean(), nullable=False),
    sa.Column('unread_by_vendor', sa.Boolean(), nullable=False),
    sa.Column('closed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("(status = 'closed') = (closed_at IS NOT NULL)", name=op.f('ck_inquiries_closed_has_closed_at')),
    sa.CheckConstraint('buyer_id <> vendor_id', name=op.f('ck_inquiries_two_organizations')),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_inquiries_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_inquiries_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_inquiries_created_by_id_users')),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_inquiries_solution_id_solutions')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_inquiries_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiries'))
    )
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiries_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inquiries_solution_id'), ['solution_id'], unique=False)
        batch_op.create_index('ix_inquiries_vendor_status', ['vendor_id', 'status'], unique=False)

    op.create_table('inquiry_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('side', sa.Enum('buyer', 'vendor', name='inquiry_side', native_enum=False, create_constraint=True, length=6), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(body) > 0', name=op.f('ck_inquiry_messages_body_not_empty')),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_inquiry_messages_author_id_users')),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiries.id'], name=op.f('fk_inquiry_messages_inquiry_id_inquiries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry_messages'))
    )
    with op.batch_alter_table('inquiry_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inquiry_messages_inquiry_id'), ['inquiry_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('inquiry_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inquiry_messages_inquiry_id'))

    op.drop_table('inquiry_messages')
    with op.batch_alter_table('inquiries', schema=None) as batch_op:
        batch_op.drop_index('ix_inquiries_vendor_status')
        batch_op.drop_index(batch_op.f('ix_inquiries_solution_id'))
        batch_op.drop_index(batch_op.f('ix_inquiries_buyer_id'))

    op.drop_table('inquiries')
