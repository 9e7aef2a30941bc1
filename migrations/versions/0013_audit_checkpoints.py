"""audit checkpoints: signed heads of the audit chain, append-only like the chain itself

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import marketplace.db

# A checkpoint, once signed, never changes: the database refuses to change or delete one.
SQLITE_TRIGGERS = (
    """CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END""",
    """CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
       BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END""",
)
POSTGRES_TRIGGERS = (
    """CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'audit_checkpoints is append-only'; END $$""",
    """CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
       ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only()""",
)

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_checkpoints',
    sa.Column('sequence', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('row_count', sa.BigInteger(), nullable=False),
    sa.Column('head_id', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', marketplace.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.CheckConstraint('row_count > 0', name=op.f('ck_audit_checkpoints_row_count_positive')),
    sa.CheckConstraint('sequence > 0', name=op.f('ck_audit_checkpoints_sequence_positive')),
    sa.PrimaryKeyConstraint('sequence', name=op.f('pk_audit_checkpoints'))
    )
    triggers = SQLITE_TRIGGERS if op.get_bind().dialect.name == "sqlite" else POSTGRES_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table('audit_checkpoints')  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_checkpoints_append_only()")
