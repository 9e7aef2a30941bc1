"""customer credit: the buyer's credit balance with a vendor, and the credit on invoices

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credit_applied_fen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('credit_granted_fen', sa.BigInteger(), nullable=False, server_default='0'))
        batch_op.create_check_constraint(
            op.f('ck_invoices_credit_applied_within_total'),
            'credit_applied_fen >= 0 AND (credit_applied_fen = 0 OR credit_applied_fen <= total_fen)',
        )
        batch_op.create_check_constraint(op.f('ck_invoices_credit_granted_not_negative'), 'credit_granted_fen >= 0')

    op.create_table('customer_credit_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('granted', 'applied', 'restored', 'paid_out', name='credit_kind', native_enum=False, create_constraint=True, length=8), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind IN ('applied', 'paid_out') AND amount_fen < 0) OR (kind NOT IN ('applied', 'paid_out') AND amount_fen > 0)", name=op.f('ck_customer_credit_transactions_sign_matches_kind')),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_customer_credit_transactions_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_customer_credit_transactions_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_customer_credit_transactions_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_credit_transactions'))
    )
    with op.batch_alter_table('customer_credit_transactions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_credit_transactions_buyer_id'), ['buyer_id', 'vendor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_customer_credit_transactions_invoice_id'), ['invoice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_credit_transactions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_credit_transactions_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_customer_credit_transactions_buyer_id'))

    op.drop_table('customer_credit_transactions')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_credit_granted_not_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_credit_applied_within_total'), type_='check')
        batch_op.drop_column('credit_granted_fen')
        batch_op.drop_column('credit_applied_fen')
