"""Monthly partitions of usage_events (PostgreSQL): each month's events in a table of
their own, created ahead of time by the worker (billing/jobs.py), so ingesting and billing
the current month cost the same with two years of history as with none.

Rows whose month has no partition yet (a clock far off, a worker that has not run) go to
the default partition; creating their month later moves them into it. Creating a month
that exists does nothing, and two workers creating the same month wait for each other, so
the job may run anywhere, any number of times. SQLite keeps one table: nothing to do.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from billing.periods import add_months

TABLE = "usage_events"
DEFAULT = f"{TABLE}_default"
# Months the worker keeps ready beyond the current one.
MONTHS_AHEAD = 3
# Sooner than PostgreSQL's defaults: a month's partition grows fast while it is current
# (the settings the table had before it was partitioned, migration 0004).
_STORAGE = "autovacuum_analyze_scale_factor = 0.01, autovacuum_vacuum_scale_factor = 0.05"


def month_start(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def partition_name(month: datetime) -> str:
    return f"{TABLE}_y{month.year:04d}m{month.month:02d}"


def existing(connection: Connection) -> set[str]:
    """Names of usage_events' partitions (the default one included)."""
    return set(
        connection.scalars(
            sa.text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = CAST(:table AS regclass)"
            ),
            {"table": TABLE},
        )
    )


def create_month(connection: Connection, month: datetime) -> bool:
    """Create the partition of ``month`` (a month's first instant) unless it exists; rows of
    that month waiting in the default partition move into it. Whether it was created."""
    name = partition_name(month)
    # One creator at a time (in this transaction): the second finds the month made.
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": name})
    if name in existing(connection):
        return False
    bounds = {"lo": month, "hi": add_months(month, 1)}
    connection.exec_driver_sql(
        f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS) "
        f"WITH ({_STORAGE})"
    )
    # Attaching checks that the default partition holds nothing of the month: move it first.
    connection.execute(
        sa.text(
            f"WITH moved AS (DELETE FROM {DEFAULT} "
            "WHERE occurred_at >= :lo AND occurred_at < :hi RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    # Partition bounds are literals (no parameters in DDL): two UTC instants we made.
    connection.exec_driver_sql(
        f"ALTER TABLE {TABLE} ATTACH PARTITION {name} "
        f"FOR VALUES FROM ('{bounds['lo'].isoformat()}') TO ('{bounds['hi'].isoformat()}')"
    )
    return True


def ensure_ahead(connection: Connection, now: datetime, months: int = MONTHS_AHEAD) -> list[str]:
    """The current month's partition and ``months`` more; the names of those created."""
    if connection.dialect.name != "postgresql":
        return []
    first = month_start(now)
    created = []
    for n in range(months + 1):
        month = add_months(first, n)
        if create_month(connection, month):
            created.append(partition_name(month))
    return created
