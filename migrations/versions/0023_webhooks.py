"""webhooks: vendor webhook endpoints, the events recorded for vendors, deliveries and their attempts

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import marketplace.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('vendor_webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('event_types', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('enabled', 'disabled', name='webhook_endpoint_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('disabled_reason', sa.String(length=20), nullable=False),
    sa.Column('disabled_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('failing_since', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_vendor_webhook_endpoints_created_by_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_vendor_webhook_endpoints_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_webhook_endpoints'))
    )
    with op.batch_alter_table('vendor_webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_webhook_endpoints_organization_id'), ['organization_id'], unique=False)

    op.create_table('vendor_webhook_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sa.String(length=40), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_vendor_webhook_events_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_webhook_events')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_vendor_webhook_events_dedupe_key')),
    sa.UniqueConstraint('public_id', name=op.f('uq_vendor_webhook_events_public_id'))
    )
    with op.batch_alter_table('vendor_webhook_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_webhook_events_organization_id'), ['organization_id'], unique=False)

    op.create_table('vendor_webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('pending', 'succeeded', 'failed', name='webhook_delivery_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('redeliveries', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['endpoint_id'], ['vendor_webhook_endpoints.id'], name=op.f('fk_vendor_webhook_deliveries_endpoint_id_vendor_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['vendor_webhook_events.id'], name=op.f('fk_vendor_webhook_deliveries_event_id_vendor_webhook_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_webhook_deliveries')),
    sa.UniqueConstraint('event_id', 'endpoint_id', name=op.f('uq_vendor_webhook_deliveries_event_id_endpoint_id'))
    )
    with op.batch_alter_table('vendor_webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_webhook_deliveries_endpoint_id'), ['endpoint_id'], unique=False)

    op.create_table('vendor_webhook_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('started_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.CheckConstraint('duration_ms >= 0', name=op.f('ck_vendor_webhook_attempts_duration_not_negative')),
    sa.ForeignKeyConstraint(['delivery_id'], ['vendor_webhook_deliveries.id'], name=op.f('fk_vendor_webhook_attempts_delivery_id_vendor_webhook_deliveries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendor_webhook_attempts'))
    )
    with op.batch_alter_table('vendor_webhook_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vendor_webhook_attempts_delivery_id'), ['delivery_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('vendor_webhook_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_webhook_attempts_delivery_id'))

    op.drop_table('vendor_webhook_attempts')
    with op.batch_alter_table('vendor_webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_webhook_deliveries_endpoint_id'))

    op.drop_table('vendor_webhook_deliveries')
    with op.batch_alter_table('vendor_webhook_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_webhook_events_organization_id'))

    op.drop_table('vendor_webhook_events')
    with op.batch_alter_table('vendor_webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vendor_webhook_endpoints_organization_id'))

    op.drop_table('vendor_webhook_endpoints')
