"""Alembic, driven from the app's engine: ``marketplace db upgrade`` and friends."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from marketplace import ROOT

MIGRATIONS = ROOT / "migrations"


def alembic_config(engine: Engine, connection: object | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(engine, connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(engine, connection), revision)


def revision(engine: Engine, message: str, *, autogenerate: bool = True) -> None:
    with engine.begin() as connection:
        command.revision(
            alembic_config(engine, connection), message=message, autogenerate=autogenerate
        )


def current(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
