"""The database engine, migrated to head at start-up: SQLite in WAL mode with foreign keys on (off while
migrating), the default; or PostgreSQL through psycopg, for several Mist processes sharing one database."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, CursorResult, Engine, Result, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

T = TypeVar("T")

_MIGRATIONS = Path(__file__).with_name("migrations")
# Held while migrating on PostgreSQL, so processes starting together upgrade the schema one at a time
# (the others then find it at head). The key only has to differ from Mist's other advisory locks.
_MIGRATION_LOCK = 0x6D6973740001


def _normalized(url: str) -> str:
    """`postgresql://` means psycopg 3, the driver Mist ships (SQLAlchemy's default is psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _migration_engine(url: str) -> Engine:
    """An engine whose one connection has foreign keys off and makes DDL transactional.

    PRAGMA foreign_keys is ignored inside a transaction, so it is set as the connection opens.
    pysqlite would otherwise commit around DDL on its own; with its implicit transactions turned
    off and an explicit BEGIN, the whole upgrade commits or rolls back as one.
    """
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": 10})

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _check_foreign_keys(connection: Connection) -> None:
    violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        shown = ", ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in violations[:10])
        raise MigrationError(f"migration left {len(violations)} broken foreign key reference(s): {shown}")


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed."""
    return cast(CursorResult[Any], result).rowcount


class MigrationError(RuntimeError):
    """The migrated schema would break references between rows; nothing was changed, Mist does not start."""


class Database:
    """Owns the engine and hands out sessions; one per process, built at the entry point."""

    def __init__(self, url: str) -> None:
        self.url = _normalized(url)
        backend = make_url(self.url).get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"MIST_DATABASE_URL: Mist runs on SQLite or PostgreSQL, not {backend}")
        self.is_sqlite = backend == "sqlite"
        if self.is_sqlite:
            # Sessions are used from the event loop and from worker threads.
            self.engine: Engine = create_engine(
                self.url, connect_args={"check_same_thread": False, "timeout": 10})
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            # A server restart or an idle timeout on the way closes pooled connections; test before use.
            self.engine = create_engine(self.url, pool_pre_ping=True)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` in one transaction (PostgreSQL's DDL is transactional too),
        on SQLite with foreign keys off.

        On SQLite a batch migration rebuilds a table by dropping it, and with foreign keys on that drop
        fires ON DELETE actions: SET NULL wipes references (every deployments.rolled_back_from) and
        CASCADE deletes dependent rows. So migrations run on a connection of their own with foreign
        keys off, and the references are checked once at the end instead; a violation rolls
        everything back.
        """
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection_url"] = self.url
        engine = _migration_engine(self.url) if self.is_sqlite else self.engine
        try:
            with engine.begin() as connection:
                if not self.is_sqlite:
                    connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
                if self.is_sqlite:
                    _check_foreign_keys(connection)
        finally:
            if engine is not self.engine:
                engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run `fn(session, ...)` in one transaction, in the calling thread."""
        with self.session() as session:
            return fn(session, *args, **kwargs)

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`call` in a thread: the one place the event loop's code waits for the database."""
        return await asyncio.to_thread(self.call, fn, *args, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
