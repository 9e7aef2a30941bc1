"""Alembic environment: the connection comes from the app (see marketplace/migrate.py)."""

from __future__ import annotations

from alembic import context

from marketplace import load_models
from marketplace.db import Base

load_models()
config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; use 'marketplace db upgrade'")
run_migrations_online()
