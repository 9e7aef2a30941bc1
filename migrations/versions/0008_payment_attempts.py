"""payment attempts: a card charge committed before Stripe is called, at most one in flight per invoice

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

IN_FLIGHT = sa.text("status IN ('started', 'confirming', 'requires_action')")


def upgrade() -> None:
    op.create_table('payment_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('started', 'confirming', 'requires_action', 'succeeded', 'failed', 'canceled', name='payment_attempt_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('customer_id', sa.String(length=100), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=100), nullable=True),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('off_session', sa.Boolean(), nullable=False),
    sa.Column('failure_code', sa.String(length=60), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_payment_attempts_amount_positive')),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_payment_attempts_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payment_attempts_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.id'], name=op.f('fk_payment_attempts_payment_id_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_attempts')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_payment_attempts_idempotency_key')),
    sa.UniqueConstraint('payment_id', name=op.f('uq_payment_attempts_payment_id')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_payment_attempts_stripe_payment_intent_id'))
    )
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_attempts_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_attempts_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_attempts_updated_at'), ['updated_at'], unique=False)
        # At most one attempt per invoice may still charge the card (SQLite and PostgreSQL
        # both have partial indexes).
        batch_op.create_index('uq_payment_attempts_invoice_in_flight', ['invoice_id'], unique=True, sqlite_where=IN_FLIGHT, postgresql_where=IN_FLIGHT)


def downgrade() -> None:
    with op.batch_alter_table('payment_attempts', schema=None) as batch_op:
        batch_op.drop_index('uq_payment_attempts_invoice_in_flight')
        batch_op.drop_index(batch_op.f('ix_payment_attempts_updated_at'))
        batch_op.drop_index(batch_op.f('ix_payment_attempts_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_payment_attempts_buyer_id'))

    op.drop_table('payment_attempts')
