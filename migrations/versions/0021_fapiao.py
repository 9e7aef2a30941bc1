"""fapiao: the organizations' 开票信息 and the fapiao asked for and issued per invoice

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_profiles',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('tax_id', sa.String(length=18), nullable=False),
    sa.Column('address_phone', sa.String(length=300), nullable=False),
    sa.Column('bank_account', sa.String(length=300), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('updated_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_billing_profiles_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_profiles')),
    sa.UniqueConstraint('organization_id', name=op.f('uq_billing_profiles_organization_id'))
    )
    op.create_table('fapiao',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('normal', 'special', name='fapiao_type', native_enum=False, create_constraint=True, length=7), nullable=False),
    sa.Column('status', sa.Enum('requested', 'issued', 'reversed', name='fapiao_status', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('buyer_title', sa.String(length=200), nullable=False),
    sa.Column('buyer_tax_id', sa.String(length=18), nullable=False),
    sa.Column('buyer_address_phone', sa.String(length=300), nullable=False),
    sa.Column('buyer_bank_account', sa.String(length=300), nullable=False),
    sa.Column('buyer_email', sa.String(length=254), nullable=False),
    sa.Column('requested_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('issued_on', sa.Date(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=True),
    sa.Column('file', sa.String(length=100), nullable=True),
    sa.Column('file_content_type', sa.String(length=100), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('issued_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('red_number', sa.String(length=20), nullable=True),
    sa.Column('red_issued_on', sa.Date(), nullable=True),
    sa.Column('red_file', sa.String(length=100), nullable=True),
    sa.Column('red_file_content_type', sa.String(length=100), nullable=True),
    sa.Column('red_file_name', sa.String(length=200), nullable=True),
    sa.Column('reversed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_fen IS NULL OR amount_fen > 0', name=op.f('ck_fapiao_amount_positive')),
    sa.CheckConstraint("status = 'requested' OR (number IS NOT NULL AND file IS NOT NULL)", name=op.f('ck_fapiao_issued_has_number_and_file')),
    sa.CheckConstraint("status <> 'reversed' OR (red_number IS NOT NULL AND red_file IS NOT NULL)", name=op.f('ck_fapiao_reversed_has_red_letter')),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_fapiao_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_fapiao_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_fapiao_requested_by_id_users')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_fapiao_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fapiao')),
    sa.UniqueConstraint('invoice_id', name=op.f('uq_fapiao_invoice_id')),
    sa.UniqueConstraint('number', name=op.f('uq_fapiao_number')),
    sa.UniqueConstraint('red_number', name=op.f('uq_fapiao_red_number'))
    )
    with op.batch_alter_table('fapiao', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fapiao_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fapiao_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_fapiao_vendor_id'), ['vendor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('fapiao', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fapiao_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_fapiao_status'))
        batch_op.drop_index(batch_op.f('ix_fapiao_buyer_id'))

    op.drop_table('fapiao')
    op.drop_table('billing_profiles')
