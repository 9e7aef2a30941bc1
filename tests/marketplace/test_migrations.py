"""Upgrading an empty database gives exactly the models' schema, and downgrading empties it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from marketplace import load_models, migrate
from marketplace.db import Base, make_engine
from tests.conftest import POSTGRES_URL


@pytest.fixture
def empty_database_url(tmp_path: Path) -> Iterator[str]:
    """A database of its own: the shared test database stays migrated for the other tests."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    base = sa.make_url(make_engine(POSTGRES_URL).url)
    name = f"{base.database}_migrations"
    admin = make_engine(base.render_as_string(hide_password=False)).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _not_a_partition(connection: sa.Connection) -> Callable[..., bool]:
    """Partitions of a partitioned table (usage_events by month on PostgreSQL) are storage
    the migrations and the worker create, not models: the partitioned table is compared."""
    partitions: set[str] = set()
    if connection.dialect.name == "postgresql":
        partitions = set(
            connection.scalars(sa.text("SELECT relname FROM pg_class WHERE relispartition"))
        )

    def include_name(name: str | None, type_: str, _parents: object) -> bool:
        return not (type_ == "table" and name in partitions)

    return include_name


def test_upgrade_from_empty_equals_the_models(empty_database_url: str) -> None:
    load_models()
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _not_a_partition(connection)}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_downgrade_to_empty_and_up_again(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine)
    migrate.downgrade(engine, "base")
    with engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
    assert tables == set()
    migrate.upgrade(engine)
    assert migrate.current(engine) is not None
    engine.dispose()
