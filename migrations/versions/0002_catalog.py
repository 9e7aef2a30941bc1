"""catalog: solutions, revisions, plans, screenshots, ratings; vendor profile

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 05:47:32.564271
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import marketplace.db

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('solutions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('slug', sa.String(length=80), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'published', 'rejected', 'delisted', name='solution_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('published_revision_id', sa.Integer(), nullable=True),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delisted_reason', sa.Text(), nullable=False),
    sa.Column('needs_reindex', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['vendor_id'], ['organizations.id'], name=op.f('fk_solutions_vendor_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solutions')),
    sa.UniqueConstraint('slug', name=op.f('uq_solutions_slug'))
    )
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solutions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_solutions_vendor_id'), ['vendor_id'], unique=False)

    op.create_table('ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('stars', sa.Integer(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('stars >= 1 AND stars <= 5', name=op.f('ck_ratings_stars_range')),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_ratings_organization_id_organizations')),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_ratings_solution_id_solutions')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_ratings_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ratings')),
    sa.UniqueConstraint('solution_id', 'organization_id', name=op.f('uq_ratings_solution_id_organization_id'))
    )
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ratings_solution_id'), ['solution_id'], unique=False)

    op.create_table('solution_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'superseded', name='revision_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('summary', sa.String(length=200), nullable=False),
    sa.Column('summary_en', sa.String(length=400), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('industries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('scenarios', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('delivery', sa.Enum('saas', 'edge', 'maas', 'agent', 'api', 'service', name='delivery', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('deploy_days', sa.Integer(), nullable=False),
    sa.Column('voucher_kinds', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('case_studies', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('review_note', sa.Text(), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_at', marketplace.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('deploy_days >= 0 AND deploy_days <= 365', name=op.f('ck_solution_revisions_deploy_days_range')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_solution_revisions_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_solution_revisions_solution_id_solutions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_solution_revisions')),
    sa.UniqueConstraint('solution_id', 'number', name=op.f('uq_solution_revisions_solution_id_number'))
    )
    with op.batch_alter_table('solution_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_solution_revisions_status'), ['status'], unique=False)

    op.create_table('plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('solution_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('billing_model', sa.Enum('subscription', 'usage', 'outcome', name='billing_model', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('features', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('base_fee_fen', sa.BigInteger(), nullable=False),
    sa.Column('price_fen', sa.BigInteger(), nullable=True),
    sa.Column('interval', sa.Enum('month', 'year', name='interval', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('trial_days', sa.Integer(), nullable=False),
    sa.Column('meter', sa.String(length=60), nullable=True),
    sa.Column('unit', sa.String(length=20), nullable=True),
    sa.Column('unit_en', sa.String(length=40), nullable=True),
    sa.Column('tier_mode', sa.Enum('graduated', 'volume', name='tier_mode', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('tiers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('free_units', sa.BigInteger(), nullable=False),
    sa.Column('kpi_name', sa.String(length=60), nullable=True),
    sa.Column('kpi_unit', sa.String(length=20), nullable=True),
    sa.Column('direction', sa.Enum('increase', 'decrease', name='direction', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('price_per_unit_fen', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('share_bp', sa.Integer(), nullable=True),
    sa.Column('value_per_unit_fen', sa.Numeric(precision=20, scale=6), nullable=True),
    sa.Column('cap_fen', sa.BigInteger(), nullable=True),
    sa.Column('verification_days', sa.Integer(), nullable=False),
    sa.CheckConstraint("billing_model <> 'outcome' OR (kpi_name IS NOT NULL AND direction IS NOT NULL AND (price_per_unit_fen IS NOT NULL OR (share_bp IS NOT NULL AND value_per_unit_fen IS NOT NULL)))", name=op.f('ck_plans_outcome_terms')),
    sa.CheckConstraint("billing_model <> 'subscription' OR (price_fen IS NOT NULL AND price_fen >= 0 AND interval IS NOT NULL)", name=op.f('ck_plans_subscription_terms')),
    sa.CheckConstraint("billing_model <> 'usage' OR (meter IS NOT NULL AND tiers IS NOT NULL AND tier_mode IS NOT NULL)", name=op.f('ck_plans_usage_terms')),
    sa.CheckConstraint('base_fee_fen >= 0', name=op.f('ck_plans_base_fee_not_negative')),
    sa.CheckConstraint('cap_fen IS NULL OR cap_fen > 0', name=op.f('ck_plans_cap_positive')),
    sa.CheckConstraint('free_units >= 0', name=op.f('ck_plans_free_units_not_negative')),
    sa.CheckConstraint('share_bp IS NULL OR (share_bp > 0 AND share_bp <= 10000)', name=op.f('ck_plans_share_range')),
    sa.CheckConstraint('trial_days >= 0 AND trial_days <= 365', name=op.f('ck_plans_trial_days_range')),
    sa.CheckConstraint('vat_rate_bp >= 0 AND vat_rate_bp <= 10000', name=op.f('ck_plans_vat_range')),
    sa.CheckConstraint('verification_days >= 1 AND verification_days <= 90', name=op.f('ck_plans_window_range')),
    sa.ForeignKeyConstraint(['revision_id'], ['solution_revisions.id'], name=op.f('fk_plans_revision_id_solution_revisions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['solution_id'], ['solutions.id'], name=op.f('fk_plans_solution_id_solutions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plans'))
    )
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_plans_revision_id'), ['revision_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_plans_solution_id'), ['solution_id'], unique=False)

    op.create_table('screenshots',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('revision_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('stored_name', sa.String(length=80), nullable=False),
    sa.Column('content_type', sa.String(length=40), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('caption', sa.String(length=120), nullable=False),
    sa.ForeignKeyConstraint(['revision_id'], ['solution_revisions.id'], name=op.f('fk_screenshots_revision_id_solution_revisions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_screenshots'))
    )
    with op.batch_alter_table('screenshots', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screenshots_revision_id'), ['revision_id'], unique=False)

    # solutions <-> solution_revisions refer to each other: this key comes last.
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f('fk_solutions_published_revision_id_solution_revisions'),
            'solution_revisions', ['published_revision_id'], ['id'],
        )

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('about', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('about_en', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('website', sa.String(length=200), nullable=False, server_default=''))



def downgrade() -> None:
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('website')
        batch_op.drop_column('about_en')
        batch_op.drop_column('about')

    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_solutions_published_revision_id_solution_revisions'), type_='foreignkey'
        )
    with op.batch_alter_table('screenshots', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screenshots_revision_id'))

    op.drop_table('screenshots')
    with op.batch_alter_table('plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_plans_solution_id'))
        batch_op.drop_index(batch_op.f('ix_plans_revision_id'))

    op.drop_table('plans')
    with op.batch_alter_table('solution_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solution_revisions_status'))

    op.drop_table('solution_revisions')
    with op.batch_alter_table('ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ratings_solution_id'))

    op.drop_table('ratings')
    with op.batch_alter_table('solutions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_solutions_vendor_id'))
        batch_op.drop_index(batch_op.f('ix_solutions_status'))

    op.drop_table('solutions')
