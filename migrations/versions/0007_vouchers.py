"""vouchers: programs, dishonesty flags, applications, vouchers and their budget movements, redemptions, settlements, anomalies

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21 08:22:10.903051
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import marketplace.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('voucher_org_flags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('flagged_by_org_id', sa.Integer(), nullable=False),
    sa.Column('flagged_by_user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('flagged_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cleared_by_user_id', sa.Integer(), nullable=True),
    sa.Column('clear_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['cleared_by_user_id'], ['users.id'], name=op.f('fk_voucher_org_flags_cleared_by_user_id_users')),
    sa.ForeignKeyConstraint(['flagged_by_org_id'], ['organizations.id'], name=op.f('fk_voucher_org_flags_flagged_by_org_id_organizations')),
    sa.ForeignKeyConstraint(['flagged_by_user_id'], ['users.id'], name=op.f('fk_voucher_org_flags_flagged_by_user_id_users')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_voucher_org_flags_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_org_flags'))
    )
    with op.batch_alter_table('voucher_org_flags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_org_flags_organization_id'), ['organization_id'], unique=False)

    op.create_table('voucher_programs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_org_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('kind', sa.Enum('cloud', 'compute', name='voucher_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('region_prefix', sa.String(length=6), nullable=False),
    sa.Column('budget_fen', sa.BigInteger(), nullable=False),
    sa.Column('ratio_bp', sa.Integer(), nullable=False),
    sa.Column('annual_cap_fen', sa.BigInteger(), nullable=False),
    sa.Column('invoice_cap_fen', sa.BigInteger(), nullable=True),
    sa.Column('size_classes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('industries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('vendor_whitelist', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('opens_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'published', 'closed', name='program_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('annual_cap_fen > 0', name=op.f('ck_voucher_programs_annual_cap_positive')),
    sa.CheckConstraint('budget_fen > 0', name=op.f('ck_voucher_programs_budget_positive')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_voucher_programs_window_order')),
    sa.CheckConstraint('invoice_cap_fen IS NULL OR invoice_cap_fen > 0', name=op.f('ck_voucher_programs_invoice_cap_positive')),
    sa.CheckConstraint('ratio_bp > 0 AND ratio_bp <= 10000', name=op.f('ck_voucher_programs_ratio_range')),
    sa.CheckConstraint('validity_days > 0', name=op.f('ck_voucher_programs_validity_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_voucher_programs_created_by_id_users')),
    sa.ForeignKeyConstraint(['owner_org_id'], ['organizations.id'], name=op.f('fk_voucher_programs_owner_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_programs'))
    )
    with op.batch_alter_table('voucher_programs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_programs_owner_org_id'), ['owner_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_programs_status'), ['status'], unique=False)

    op.create_table('voucher_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('applicant_org_id', sa.Integer(), nullable=False),
    sa.Column('applicant_user_id', sa.Integer(), nullable=False),
    sa.Column('requested_fen', sa.BigInteger(), nullable=False),
    sa.Column('approved_fen', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Enum('submitted', 'approved', 'rejected', 'withdrawn', name='application_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('decision_reason', sa.Text(), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('approved_fen IS NULL OR (approved_fen > 0 AND approved_fen <= requested_fen)', name=op.f('ck_voucher_applications_approved_range')),
    sa.CheckConstraint('requested_fen > 0', name=op.f('ck_voucher_applications_requested_positive')),
    sa.ForeignKeyConstraint(['applicant_org_id'], ['organizations.id'], name=op.f('fk_voucher_applications_applicant_org_id_organizations')),
    sa.ForeignKeyConstraint(['applicant_user_id'], ['users.id'], name=op.f('fk_voucher_applications_applicant_user_id_users')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_voucher_applications_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_applications_program_id_voucher_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_applications'))
    )
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_applications_applicant_org_id'), ['applicant_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_applications_program_id'), ['program_id', 'status'], unique=False)

    op.create_table('voucher_settlements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('period_start', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_end', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('draft', 'approved', 'paid', name='settlement_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('redeemed_fen', sa.BigInteger(), nullable=False),
    sa.Column('clawback_fen', sa.BigInteger(), nullable=False),
    sa.Column('total_fen', sa.BigInteger(), nullable=False),
    sa.Column('bank_reference', sa.String(length=100), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_by_user_id', sa.Integer(), nullable=True),
    sa.Column('approved_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paid_by_user_id', sa.Integer(), nullable=True),
    sa.Column('paid_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('period_end > period_start', name=op.f('ck_voucher_settlements_period_order')),
    sa.CheckConstraint('total_fen > 0', name=op.f('ck_voucher_settlements_total_positive')),
    sa.ForeignKeyConstraint(['approved_by_user_id'], ['users.id'], name=op.f('fk_voucher_settlements_approved_by_user_id_users')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_voucher_settlements_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['paid_by_user_id'], ['users.id'], name=op.f('fk_voucher_settlements_paid_by_user_id_users')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_settlements_program_id_voucher_programs')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_voucher_settlements_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_settlements'))
    )
    with op.batch_alter_table('voucher_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_settlements_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_settlements_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('vouchers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('holder_org_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('cloud', 'compute', name='voucher_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('face_fen', sa.BigInteger(), nullable=False),
    sa.Column('balance_fen', sa.BigInteger(), nullable=False),
    sa.Column('redeemed_fen', sa.BigInteger(), nullable=False),
    sa.Column('released_fen', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.Enum('active', 'spent', 'expired', 'revoked', name='voucher_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('issued_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoke_reason', sa.Text(), nullable=False),
    sa.CheckConstraint('balance_fen + redeemed_fen + released_fen = face_fen', name=op.f('ck_vouchers_split_adds_up')),
    sa.CheckConstraint('balance_fen >= 0', name=op.f('ck_vouchers_balance_not_negative')),
    sa.CheckConstraint('face_fen > 0', name=op.f('ck_vouchers_face_positive')),
    sa.CheckConstraint('redeemed_fen >= 0', name=op.f('ck_vouchers_redeemed_not_negative')),
    sa.CheckConstraint('released_fen >= 0', name=op.f('ck_vouchers_released_not_negative')),
    sa.ForeignKeyConstraint(['application_id'], ['voucher_applications.id'], name=op.f('fk_vouchers_application_id_voucher_applications')),
    sa.ForeignKeyConstraint(['holder_org_id'], ['organizations.id'], name=op.f('fk_vouchers_holder_org_id_organizations')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_vouchers_program_id_voucher_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vouchers')),
    sa.UniqueConstraint('application_id', name=op.f('uq_vouchers_application_id')),
    sa.UniqueConstraint('code', name=op.f('uq_vouchers_code'))
    )
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_vouchers_holder_org_id'), ['holder_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_vouchers_status'), ['status', 'expires_at'], unique=False)

    op.create_table('voucher_redemptions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=True),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('buyer_id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('eligible_fen', sa.BigInteger(), nullable=False),
    sa.Column('lines', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('active', 'reversed', name='redemption_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reversed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reversal_reason', sa.String(length=30), nullable=False),
    sa.Column('settlement_id', sa.Integer(), nullable=True),
    sa.Column('clawback_settlement_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_voucher_redemptions_amount_positive')),
    sa.CheckConstraint('eligible_fen >= amount_fen', name=op.f('ck_voucher_redemptions_within_eligible')),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_voucher_redemptions_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['clawback_settlement_id'], ['voucher_settlements.id'], name=op.f('fk_voucher_redemptions_clawback_settlement_id_voucher_settlements')),
    sa.ForeignKeyConstraint(['contract_id'], ['contracts.id'], name=op.f('fk_voucher_redemptions_contract_id_contracts')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_voucher_redemptions_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_redemptions_program_id_voucher_programs')),
    sa.ForeignKeyConstraint(['settlement_id'], ['voucher_settlements.id'], name=op.f('fk_voucher_redemptions_settlement_id_voucher_settlements')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_voucher_redemptions_vendor_id_organizations')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_redemptions_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_redemptions'))
    )
    with op.batch_alter_table('voucher_redemptions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_buyer_id'), ['buyer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_program_id'), ['program_id', 'vendor_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_settlement_id'), ['settlement_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_vendor_id'), ['vendor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_redemptions_voucher_id'), ['voucher_id'], unique=False)

    op.create_table('voucher_anomalies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.Enum('related_party', 'quick_reversal', 'vendor_concentration', 'split_invoices', 'no_usage', name='anomaly_rule', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('subject_key', sa.String(length=120), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('buyer_id', sa.Integer(), nullable=True),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.Enum('open', 'cleared', 'confirmed', name='anomaly_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('detected_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('reviewed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['buyer_id'], ['organizations.id'], name=op.f('fk_voucher_anomalies_buyer_id_organizations')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_anomalies_program_id_voucher_programs')),
    sa.ForeignKeyConstraint(['redemption_id'], ['voucher_redemptions.id'], name=op.f('fk_voucher_anomalies_redemption_id_voucher_redemptions')),
    sa.ForeignKeyConstraint(['reviewed_by_user_id'], ['users.id'], name=op.f('fk_voucher_anomalies_reviewed_by_user_id_users')),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_voucher_anomalies_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_anomalies')),
    sa.UniqueConstraint('rule', 'subject_key', name=op.f('uq_voucher_anomalies_rule_subject_key'))
    )
    with op.batch_alter_table('voucher_anomalies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_anomalies_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_anomalies_status'), ['status'], unique=False)

    op.create_table('voucher_movements',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('issued', 'redeemed', 'restored', 'reversed_released', 'released', name='voucher_movement_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('reserved_fen', sa.BigInteger(), nullable=False),
    sa.Column('redeemed_fen', sa.BigInteger(), nullable=False),
    sa.Column('released_fen', sa.BigInteger(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'issued' AND reserved_fen > 0 AND redeemed_fen = 0 AND released_fen = 0) OR (kind <> 'issued' AND reserved_fen + redeemed_fen + released_fen = 0)", name=op.f('ck_voucher_movements_moves_within_the_split')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_movements_program_id_voucher_programs')),
    sa.ForeignKeyConstraint(['redemption_id'], ['voucher_redemptions.id'], name=op.f('fk_voucher_movements_redemption_id_voucher_redemptions')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_movements_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_movements'))
    )
    with op.batch_alter_table('voucher_movements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_movements_program_id'), ['program_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_movements_voucher_id'), ['voucher_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('voucher_movements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_movements_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_movements_program_id'))

    op.drop_table('voucher_movements')
    with op.batch_alter_table('voucher_anomalies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_anomalies_status'))
        batch_op.drop_index(batch_op.f('ix_voucher_anomalies_program_id'))

    op.drop_table('voucher_anomalies')
    with op.batch_alter_table('voucher_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_voucher_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_settlement_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_program_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_invoice_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_redemptions_buyer_id'))

    op.drop_table('voucher_redemptions')
    with op.batch_alter_table('vouchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_vouchers_status'))
        batch_op.drop_index(batch_op.f('ix_vouchers_program_id'))
        batch_op.drop_index(batch_op.f('ix_vouchers_holder_org_id'))

    op.drop_table('vouchers')
    with op.batch_alter_table('voucher_settlements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_settlements_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_settlements_program_id'))

    op.drop_table('voucher_settlements')
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_applications_program_id'))
        batch_op.drop_index(batch_op.f('ix_voucher_applications_applicant_org_id'))

    op.drop_table('voucher_applications')
    with op.batch_alter_table('voucher_programs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_programs_status'))
        batch_op.drop_index(batch_op.f('ix_voucher_programs_owner_org_id'))

    op.drop_table('voucher_programs')
    with op.batch_alter_table('voucher_org_flags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_org_flags_organization_id'))

    op.drop_table('voucher_org_flags')
