"""A successful backup without a database engine: for the tests of the backup surfaces (CLI, dashboard)
on a server that reaches no engine, where every real backup fails. The failed row of a real backup is
turned into a success holding a given dump, sealed with the server's own key in its backup directory,
so downloads and restores read a real file."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
from support.client import MistClient
from support.receivers import wait_for
from support.server import MistServer

from mist.backups import cipher
from mist.secretbox import SecretBox

DUMP = b"PGDMP fake dump: rows of the orders table\n" * 5000  # a quarter of a megabyte


def sqlite_of(server: MistServer):  # noqa: ANN201 - a sqlite3 connection
    """The server's own database, written behind its back (SQLite only: skipped on PostgreSQL)."""
    if os.environ.get("MIST_DATABASE_URL"):
        pytest.skip("the backup row is written on the server's SQLite database")
    return sqlite3.connect(server.data_dir / "mist.db")


def final_backup(owner: MistClient, backup_id: int) -> dict:
    return wait_for(lambda: (b := owner.post("/api/backups/getById", {"id": backup_id})["data"])["status"]
                    in ("success", "failed") and b, timeout=60)


def failed_backup(owner: MistClient, app_id: int) -> dict:
    """A real backup of an app whose database does not run: it fails."""
    backup = final_backup(owner, owner.post("/api/backups/create", {"appId": app_id})["data"]["id"])
    assert backup["status"] == "failed", backup
    return backup


def seal(server: MistServer, dump: bytes) -> bytes:
    async def sealed() -> bytes:
        async def chunks():  # noqa: ANN202
            yield dump
        key = cipher.backup_key(SecretBox(server.data_dir / "secret.key"))
        return b"".join([piece async for piece in cipher.encrypt(key, chunks())])

    # In a thread of its own: Playwright's sync API keeps an event loop running in the test's thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, sealed()).result()


def stored_backup(server: MistServer, owner: MistClient, app_id: int, dump: bytes = DUMP) -> dict:
    """A successful, verified backup of the app holding `dump`."""
    failed = failed_backup(owner, app_id)
    sealed = seal(server, dump)
    name = f"app-{app_id}/surface-test-{failed['id']}.enc"
    path = server.data_dir / "backups" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sealed)
    with sqlite_of(server) as db:
        db.execute("UPDATE backups SET status = 'success', verified = 1, error = '', name = ?, location = ?, "
                   "size_bytes = ?, sha256 = ? WHERE id = ?",
                   (name, str(path), len(sealed), hashlib.sha256(sealed).hexdigest(), failed["id"]))
    backup = owner.post("/api/backups/getById", {"id": failed["id"]})["data"]
    assert backup["status"] == "success" and backup["verified"] is True
    return backup


def as_scheduled(server: MistServer, backup_id: int) -> None:
    """Marks a backup as the scheduler's, as if its schedule had run it."""
    with sqlite_of(server) as db:
        db.execute("UPDATE backups SET trigger = 'schedule' WHERE id = ?", (backup_id,))
