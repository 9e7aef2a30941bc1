"""outcome billing: baseline proposals and outcome reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 07:34:45.271969
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('baseline_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by_org_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by_user_id', sa.Integer(), nullable=False),
    sa.Column('value', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'accepted', 'superseded', name='proposal_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_baseline_proposals_contract_id_contracts')),
    sa.ForeignKeyConstraint(['proposed_by_org_id'], ['organizations.id'], name=op.f('fk_baseline_proposals_proposed_by_org_id_organizations')),
    sa.ForeignKeyConstraint(['proposed_by_user_id'], ['users.id'], name=op.f('fk_baseline_proposals_proposed_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_baseline_proposals'))
    )
    with op.batch_alter_table('baseline_proposals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_baseline_proposals_contract_id'), ['contract_id'], unique=False)

    op.create_table('outcome_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('period_start', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('measured', sa.Numeric(precision=24, scale=6), nullable=False),
    sa.Column('evidence_url', sa.String(length=500), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('submitted', 'confirmed', 'disputed', 'rejected', name='report_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('submitted_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by_id', sa.Integer(), nullable=False),
    sa.Column('confirm_by', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_how', sa.String(length=20), nullable=True),
    sa.Column('confirmed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('dispute_reason', sa.Text(), nullable=False),
    sa.Column('resolution_note', sa.Text(), nullable=False),
    sa.Column('resolved_by_id', sa.Integer(), nullable=True),
    sa.Column('billable_measured', sa.Numeric(precision=24, scale=6), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('period_end > period_start', name=op.f('ck_outcome_reports_period_order')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_outcome_reports_contract_id_contracts')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_outcome_reports_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id'], name=op.f('fk_outcome_reports_resolved_by_id_users')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_outcome_reports_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outcome_reports'))
    )
    with op.batch_alter_table('outcome_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_outcome_reports_confirm_by'), ['confirm_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_reports_contract_id'), ['contract_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outcome_reports_status'), ['status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('outcome_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outcome_reports_status'))
        batch_op.drop_index(batch_op.f('ix_outcome_reports_contract_id'))
        batch_op.drop_index(batch_op.f('ix_outcome_reports_confirm_by'))

    op.drop_table('outcome_reports')
    with op.batch_alter_table('baseline_proposals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_baseline_proposals_contract_id'))

    op.drop_table('baseline_proposals')
