"""Exclusion between the Mist processes sharing a database: PostgreSQL advisory locks, for the
event loop (each database call on a thread: this module is an adapter).

On SQLite only one process uses the database (its lock file sees to that), so an asyncio lock is
enough there and leadership is always held.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType

import psycopg
from sqlalchemy.engine import Connection

from mist.db.channel import libpq_url
from mist.db.engine import Database

log = logging.getLogger(__name__)

# Advisory lock keys: they only have to differ from each other (and from the migration lock's).
ROUTES = 0x6D6973740002
PROXY_LEADER = 0x6D6973740003
NETWORKS = 0x6D6973740004
CRASH_LEADER = 0x6D6973740005
BACKUP_LEADER = 0x6D6973740006


class Lock:
    """`async with lock:` a section one task of one process at a time runs, whichever process it is."""

    def __init__(self, db: Database, key: int) -> None:
        self.db = db
        self.key = key
        self._local = asyncio.Lock()
        self._conn: Connection | None = None

    async def __aenter__(self) -> None:
        await self._local.acquire()
        if self.db.is_sqlite:
            return
        taking = asyncio.ensure_future(asyncio.to_thread(self._lock))
        try:
            self._conn = await asyncio.shield(taking)
        except BaseException:
            # Cancelled while the thread waits for the lock: it still takes it; give it back then.
            taking.add_done_callback(self._abandon)
            self._local.release()
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        try:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                # Shielded: a cancelled holder must still give the lock back (or close its connection).
                await asyncio.shield(asyncio.to_thread(self._unlock, conn))
        finally:
            self._local.release()

    def _abandon(self, taking: asyncio.Future[Connection]) -> None:
        if not taking.cancelled() and taking.exception() is None:
            asyncio.ensure_future(asyncio.to_thread(self._unlock, taking.result()))

    def _lock(self) -> Connection:
        conn = self.db.engine.connect()
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({self.key})")
        except BaseException:
            conn.close()
            raise
        return conn

    def _unlock(self, conn: Connection) -> None:
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({self.key})")
            conn.commit()
        finally:
            conn.close()


class Leadership:
    """Held by one process at a time for as long as it lives: a session advisory lock on a connection
    of its own, so the lock goes when the process (or its connection) dies and another can claim it."""

    def __init__(self, db: Database, key: int) -> None:
        self.db = db
        self.key = key
        self._conn: psycopg.Connection | None = None
        self._held = False

    async def claim(self) -> bool:
        """Whether this process leads now: claims the lock when free, checks it still holds it."""
        if self.db.is_sqlite:
            return True
        return await asyncio.to_thread(self._claim)

    async def release(self) -> None:
        await asyncio.to_thread(self._release)

    def _claim(self) -> bool:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(libpq_url(self.db.url), autocommit=True, connect_timeout=5)
                self._held = False
            if self._held:
                self._conn.execute("SELECT 1")
            else:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                self._held = bool(row and row[0])
        except psycopg.Error as exc:
            log.warning("lost the database connection that holds the lead: %s", exc)
            self._release()
            return False
        return self._held

    def _release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn, self._held = None, False
