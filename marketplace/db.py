"""Database: the declarative base, the engine, and one session per application context.

Services take a :class:`~sqlalchemy.orm.Session`, flush and never commit. The request
boundary (``after_request``) commits once when the response is a success and rolls back
otherwise; a CLI command commits at its end.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast

import sqlalchemy as sa
from flask import Flask, Response, current_app, g
from sqlalchemy import MetaData, event
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from werkzeug.routing import IntegerConverter

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    if TYPE_CHECKING:
        # Every model maps one Table (none maps a join or a select), which bulk inserts use.
        __table__: ClassVar[sa.Table]
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def enum_type(enum_class: type[enum.Enum], name: str) -> sa.Enum:
    """A portable enum: VARCHAR plus a named CHECK constraint, the same on SQLite and PostgreSQL."""
    return sa.Enum(
        enum_class,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(m.value) for m in enum_class),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``) and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, echo: bool = False) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return sa.create_engine(
        url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20, paramstyle="format"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# An execution option for a session that only reads (a search index following the log
# from inside a request): a plain BEGIN reads a WAL snapshot and never waits for the write
# lock, which the request's own transaction may be holding on the same thread.
READ_ONLY = {"sqlite_read_only": True}


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # IMMEDIATE takes the write lock up front, so two writers queue on busy_timeout
    # instead of one failing with "database is locked" when it upgrades a read snapshot.
    read_only = conn.get_execution_options().get("sqlite_read_only")
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


@dataclass
class _State:
    engine: Engine
    sessions: sessionmaker[Session]


class Database:
    """Flask extension binding an engine and a session factory to each app."""

    Model = Base

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"], echo=app.config["SQLALCHEMY_ECHO"])
        app.extensions["marketplace.db"] = _State(
            engine=engine, sessions=sessionmaker(bind=engine, expire_on_commit=False)
        )
        app.after_request(_commit_on_success)
        app.teardown_appcontext(_close_session)

    @staticmethod
    def _state() -> _State:
        return current_app.extensions["marketplace.db"]

    @property
    def engine(self) -> Engine:
        return self._state().engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._state().sessions

    @property
    def session(self) -> Session:
        """The session of the current application context (created on first use)."""
        if "db_session" not in g:
            g.db_session = self.sessions()
        return g.db_session


def _commit_on_success(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is not None:
        if response.status_code < 400:
            session.commit()
        else:
            session.rollback()
    return response


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()  # rolls back anything not committed


db = Database()


def insert_returning_ids(
    session: Session, table: sa.Table, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert many rows and return their new ids in order.

    PostgreSQL hands out the ids first (one nextval query) and takes the rows as a plain
    executemany: a RETURNING statement of thousands of rows costs more to build and parse
    than the insert itself. SQLite uses INSERT ... RETURNING."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = f"{table.name}_id_seq"
        ids = list(
            session.scalars(
                sa.text(f"SELECT nextval('{sequence}') FROM generate_series(1, :n)"),
                {"n": len(rows)},
            )
        )
        copy_rows(session, table, [{"id": id_, **row} for id_, row in zip(ids, rows, strict=True)])
        return ids
    return list(
        session.scalars(table.insert().returning(table.c.id, sort_by_parameter_order=True), rows)
    )


def rows_changed(session: Session, statement: sa.Update | sa.Delete) -> int:
    """Run an UPDATE or DELETE and return how many rows it matched.

    ``Session.execute`` is typed to return a plain ``Result``; for these statements it is a
    ``CursorResult``, which carries the count.
    """
    return cast("sa.CursorResult[Any]", session.execute(statement)).rowcount


def copy_rows(session: Session, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows of the same columns, in the session's transaction.

    PostgreSQL takes them with COPY: a few times faster than an executemany of INSERTs for
    the thousands of rows of a batch job, with the same constraints, triggers and
    transaction. Values go through the columns' own types (enums, JSON) as in an INSERT;
    rows that leave out a column with a Python-side default, and SQLite, use the INSERT."""
    if not rows:
        return
    bind = session.get_bind()
    columns = [table.c[key] for key in rows[0]]
    named = {column.key for column in columns}
    defaults = any(c.default is not None and c.key not in named for c in table.columns)
    if bind.dialect.name != "postgresql" or defaults:
        session.execute(table.insert(), rows)
        return
    session.flush()  # the rows it refers to first
    dialect = bind.dialect
    processors = [(c.key, c.type._cached_bind_processor(dialect)) for c in columns]
    names = ", ".join(dialect.identifier_preparer.quote(c.name) for c in columns)
    table_name = dialect.identifier_preparer.format_table(table)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor, cursor.copy(f"COPY {table_name} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [process(row[key]) if process else row[key] for key, process in processors]
            )


def insert_or_skip(session: Session, target: Any) -> Any:
    """The dialect's INSERT for ``target`` (a mapped class or a table), which offers
    ``on_conflict_do_nothing`` on PostgreSQL and SQLite alike."""
    from sqlalchemy.dialects import sqlite

    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(target)


# The largest row id: primary keys are INTEGER, 32-bit signed on PostgreSQL. Ids from
# outside (URLs, request bodies) above it are simply not found, never an overflow.
MAX_ROW_ID = 2**31 - 1


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every URL: a row id, so from 0 to MAX_ROW_ID; larger ids do not
    match the route (404) instead of overflowing the database driver."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)
