"""voucher_evidence_notice: documents a program requires and the files applicants upload;
公示 (a notice period in working days) with its notices and objections; the vendor an
application names

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('voucher_programs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notice_days', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_voucher_programs_notice_days_range'), 'notice_days >= 0 AND notice_days <= 30')
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('vendor_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_voucher_applications_vendor_id_organizations'), 'organizations', ['vendor_id'], ['id'])
    op.create_table('voucher_required_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('accepts', sa.Enum('pdf', 'image', 'pdf_or_image', name='voucher_document_accepts', native_enum=False, create_constraint=True, length=12), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_required_documents_program_id_voucher_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_required_documents')),
    sa.UniqueConstraint('program_id', 'position', name=op.f('uq_voucher_required_documents_program_id_position'))
    )
    with op.batch_alter_table('voucher_required_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_required_documents_program_id'), ['program_id'], unique=False)
    op.create_table('voucher_application_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('required_document_id', sa.Integer(), nullable=False),
    sa.Column('stored_file', sa.String(length=100), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('checked_by_user_id', sa.Integer(), nullable=True),
    sa.Column('checked_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['application_id'], ['voucher_applications.id'], name=op.f('fk_voucher_application_documents_application_id_voucher_applications')),
    sa.ForeignKeyConstraint(['checked_by_user_id'], ['users.id'], name=op.f('fk_voucher_application_documents_checked_by_user_id_users')),
    sa.ForeignKeyConstraint(['required_document_id'], ['voucher_required_documents.id'], name=op.f('fk_voucher_application_documents_required_document_id_voucher_required_documents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_application_documents')),
    sa.UniqueConstraint('application_id', 'required_document_id', name=op.f('uq_voucher_application_documents_application_id_required_document_id'))
    )
    with op.batch_alter_table('voucher_application_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_application_documents_application_id'), ['application_id'], unique=False)
    op.create_table('voucher_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('application_id', sa.Integer(), nullable=False),
    sa.Column('applicant_org_id', sa.Integer(), nullable=False),
    sa.Column('amount_fen', sa.BigInteger(), nullable=False),
    sa.Column('starts_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('in_notice', 'issued', 'cancelled', name='voucher_notice_status', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('voucher_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount_fen > 0', name=op.f('ck_voucher_notices_amount_positive')),
    sa.CheckConstraint('ends_at > starts_at', name=op.f('ck_voucher_notices_period_order')),
    sa.CheckConstraint("(status = 'issued') = (voucher_id IS NOT NULL)", name=op.f('ck_voucher_notices_issued_has_voucher')),
    sa.ForeignKeyConstraint(['applicant_org_id'], ['organizations.id'], name=op.f('fk_voucher_notices_applicant_org_id_organizations')),
    sa.ForeignKeyConstraint(['application_id'], ['voucher_applications.id'], name=op.f('fk_voucher_notices_application_id_voucher_applications')),
    sa.ForeignKeyConstraint(['program_id'], ['voucher_programs.id'], name=op.f('fk_voucher_notices_program_id_voucher_programs')),
    sa.ForeignKeyConstraint(['voucher_id'], ['vouchers.id'], name=op.f('fk_voucher_notices_voucher_id_vouchers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_notices')),
    sa.UniqueConstraint('application_id', name=op.f('uq_voucher_notices_application_id'))
    )
    with op.batch_alter_table('voucher_notices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_notices_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_voucher_notices_status'), ['status', 'ends_at'], unique=False)
    op.create_table('voucher_objections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('open', 'upheld', 'dismissed', name='voucher_objection_status', native_enum=False, create_constraint=True, length=9), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_voucher_objections_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['notice_id'], ['voucher_notices.id'], name=op.f('fk_voucher_objections_notice_id_voucher_notices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_voucher_objections_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_voucher_objections'))
    )
    with op.batch_alter_table('voucher_objections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_voucher_objections_notice_id'), ['notice_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('voucher_objections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_objections_notice_id'))
    op.drop_table('voucher_objections')
    with op.batch_alter_table('voucher_notices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_notices_status'))
        batch_op.drop_index(batch_op.f('ix_voucher_notices_program_id'))
    op.drop_table('voucher_notices')
    with op.batch_alter_table('voucher_application_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_application_documents_application_id'))
    op.drop_table('voucher_application_documents')
    with op.batch_alter_table('voucher_required_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_voucher_required_documents_program_id'))
    op.drop_table('voucher_required_documents')
    with op.batch_alter_table('voucher_applications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_voucher_applications_vendor_id_organizations'), type_='foreignkey')
        batch_op.drop_column('vendor_id')
    with op.batch_alter_table('voucher_programs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_voucher_programs_notice_days_range'), type_='check')
        batch_op.drop_column('notice_days')
