"""The database engine: SQLite in WAL mode with foreign keys on, migrated to head at start-up (with them off)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

T = TypeVar("T")

_MIGRATIONS = Path(__file__).with_name("migrations")


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


class MigrationError(RuntimeError):
    """The migrated schema would break references between rows; nothing was changed, Mist does not start."""


class Database:
    """Owns the engine and hands out sessions; one per process, built at the entry point."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict = {}
        if url.startswith("sqlite"):
            # Sessions are used from the event loop and from worker threads.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to `revision` in one transaction, with foreign keys off.

        A batch migration rebuilds a SQLite table by dropping it, and with foreign keys on that drop
        fires ON DELETE actions: SET NULL wipes references (every deployments.rolled_back_from) and
        CASCADE deletes dependent rows. So migrations run on a connection of their own with foreign
        keys off, and the references are checked once at the end instead; a violation rolls
        everything back.
        """
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        cfg.attributes["connection_url"] = self.url
        engine = _migration_engine(self.url) if self.url.startswith("sqlite") else self.engine
        try:
            with engine.begin() as connection:
                cfg.attributes["connection"] = connection
                command.upgrade(cfg, revision)
                if self.url.startswith("sqlite"):
                    _check_foreign_keys(connection)
        finally:
            if engine is not self.engine:
                engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def call(self, fn: Callable[..., T], *args, **kwargs) -> T:
        """Run `fn(session, ...)` in one transaction; handy with asyncio.to_thread."""
        with self.session() as session:
            return fn(session, *args, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
