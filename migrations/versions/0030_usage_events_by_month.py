"""usage_events_by_month: event ids kept in usage_event_keys (unique per vendor forever);
on PostgreSQL usage_events becomes partitioned by month of occurred_at

A unique index of a partitioned table must hold the partition key, so "an id is unique per
vendor forever" moves to its own table, usage_event_keys (vendor, id, payload hash), on
both databases. On PostgreSQL the events are copied into a table partitioned by range of
occurred_at: a default partition, and one partition a month from the first month with
events (at most ten years back) to three months ahead; the worker creates the next months
(billing/metering/partitions.py). SQLite keeps one table and only loses the unique constraint.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-05 02:30:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

COLUMNS = (
    "id, vendor_id, event_id, contract_id, meter, quantity, occurred_at, received_at, payload_hash"
)
STORAGE = "autovacuum_analyze_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.05"
MONTHS_AHEAD = 3
MONTHS_BACK_AT_MOST = 120


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    return moment.replace(year=moment.year + index // 12, month=index % 12 + 1)


def _months(first_event: datetime | None) -> list[datetime]:
    now = datetime.now(UTC)
    current = datetime(now.year, now.month, 1, tzinfo=UTC)
    first = current
    if first_event is not None:
        first_event = first_event.astimezone(UTC)
        first = max(
            min(datetime(first_event.year, first_event.month, 1, tzinfo=UTC), current),
            _add_months(current, -MONTHS_BACK_AT_MOST),
        )
    months = [first]
    while months[-1] < _add_months(current, MONTHS_AHEAD):
        months.append(_add_months(months[-1], 1))
    return months


def upgrade() -> None:
    op.create_table(
        "usage_event_keys",
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"],
            ["organizations.id"],
            name=op.f("fk_usage_event_keys_vendor_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("vendor_id", "event_id", name=op.f("pk_usage_event_keys")),
    )
    op.execute(
        "INSERT INTO usage_event_keys (vendor_id, event_id, payload_hash) "
        "SELECT vendor_id, event_id, payload_hash FROM usage_events"
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        with op.batch_alter_table("usage_events") as batch_op:
            batch_op.drop_constraint("uq_usage_events_vendor_id_event_id", type_="unique")
        return

    op.execute("ALTER TABLE usage_events RENAME TO usage_events_unpartitioned")
    for index in ("pk_usage_events", "uq_usage_events_vendor_id_event_id"):
        op.execute(f"ALTER INDEX {index} RENAME TO {index}_unpartitioned")
    op.execute("ALTER INDEX ix_usage_events_contract_id RENAME TO ix_usage_events_unpartitioned")
    op.execute(
        """
        CREATE TABLE usage_events (
            id bigint NOT NULL DEFAULT nextval('usage_events_id_seq'),
            vendor_id integer NOT NULL,
            event_id varchar(100) NOT NULL,
            contract_id integer NOT NULL,
            meter varchar(60) NOT NULL,
            quantity numeric(24, 6) NOT NULL,
            occurred_at timestamp with time zone NOT NULL,
            received_at timestamp with time zone NOT NULL,
            payload_hash varchar(64) NOT NULL,
            CONSTRAINT pk_usage_events PRIMARY KEY (id, occurred_at),
            CONSTRAINT ck_usage_events_quantity_not_negative CHECK (quantity >= 0),
            CONSTRAINT fk_usage_events_contract_id_contracts
                FOREIGN KEY (contract_id) REFERENCES contracts (id),
            CONSTRAINT fk_usage_events_vendor_id_organizations
                FOREIGN KEY (vendor_id) REFERENCES organizations (id)
        ) PARTITION BY RANGE (occurred_at)
        """
    )
    op.execute(
        "CREATE INDEX ix_usage_events_contract_id ON usage_events (contract_id, occurred_at)"
    )
    op.execute(
        f"CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT WITH ({STORAGE})"
    )
    first_event = bind.scalar(sa.text("SELECT min(occurred_at) FROM usage_events_unpartitioned"))
    for month in _months(first_event):
        following = _add_months(month, 1)
        op.execute(
            f"CREATE TABLE usage_events_y{month.year:04d}m{month.month:02d} "
            f"PARTITION OF usage_events FOR VALUES FROM ('{month.isoformat()}') "
            f"TO ('{following.isoformat()}') WITH ({STORAGE})"
        )
    op.execute(
        f"INSERT INTO usage_events ({COLUMNS}) SELECT {COLUMNS} FROM usage_events_unpartitioned"
    )
    op.execute("ALTER SEQUENCE usage_events_id_seq OWNED BY usage_events.id")
    op.execute("DROP TABLE usage_events_unpartitioned")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE usage_events RENAME TO usage_events_partitioned")
        op.execute("ALTER INDEX pk_usage_events RENAME TO pk_usage_events_partitioned")
        op.execute("ALTER INDEX ix_usage_events_contract_id RENAME TO ix_usage_events_partitioned")
        op.execute(
            f"""
            CREATE TABLE usage_events (
                id bigint NOT NULL DEFAULT nextval('usage_events_id_seq'),
                vendor_id integer NOT NULL,
                event_id varchar(100) NOT NULL,
                contract_id integer NOT NULL,
                meter varchar(60) NOT NULL,
                quantity numeric(24, 6) NOT NULL,
                occurred_at timestamp with time zone NOT NULL,
                received_at timestamp with time zone NOT NULL,
                payload_hash varchar(64) NOT NULL,
                CONSTRAINT pk_usage_events PRIMARY KEY (id),
                CONSTRAINT uq_usage_events_vendor_id_event_id UNIQUE (vendor_id, event_id),
                CONSTRAINT ck_usage_events_quantity_not_negative CHECK (quantity >= 0),
                CONSTRAINT fk_usage_events_contract_id_contracts
                    FOREIGN KEY (contract_id) REFERENCES contracts (id),
                CONSTRAINT fk_usage_events_vendor_id_organizations
                    FOREIGN KEY (vendor_id) REFERENCES organizations (id)
            ) WITH ({STORAGE})
            """
        )
        op.execute(
            "CREATE INDEX ix_usage_events_contract_id ON usage_events (contract_id, occurred_at)"
        )
        op.execute(
            f"INSERT INTO usage_events ({COLUMNS}) SELECT {COLUMNS} FROM usage_events_partitioned"
        )
        op.execute("ALTER SEQUENCE usage_events_id_seq OWNED BY usage_events.id")
        op.execute("DROP TABLE usage_events_partitioned")  # and its partitions
    else:
        with op.batch_alter_table("usage_events") as batch_op:
            batch_op.create_unique_constraint(
                "uq_usage_events_vendor_id_event_id", ["vendor_id", "event_id"]
            )
    op.drop_table("usage_event_keys")
