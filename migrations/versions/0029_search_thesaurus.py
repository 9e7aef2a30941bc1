"""search_thesaurus: operators' edits of the search thesaurus and pain points, and the version every host compares

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 19:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_vocabulary_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_search_vocabulary_state_single_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_vocabulary_state'))
    )
    op.create_table('search_vocabulary_edits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('synonyms', 'pain_point', name='vocabulary_kind', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('text', sa.String(length=1000), nullable=False),
    sa.Column('scenario', sa.String(length=40), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(kind = 'pain_point') = (scenario IS NOT NULL)", name=op.f('ck_search_vocabulary_edits_scenario_iff_pain_point')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_search_vocabulary_edits_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_vocabulary_edits')),
    sa.UniqueConstraint('kind', 'key', name=op.f('uq_search_vocabulary_edits_kind_key'))
    )


def downgrade() -> None:
    op.drop_table('search_vocabulary_edits')
    op.drop_table('search_vocabulary_state')
