"""Upgrading a populated database: a real server started on a database of the first release keeps
every reference between rows (migrations used to run with foreign keys on, so a table rebuild set
every `rolled_back_from` to NULL and would have cascade-deleted members and sessions)."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path

import httpx
from argon2 import PasswordHasher
from support.client import PASSWORD, MistClient
from support.first_revision import FIRST_REVISION_ROWS, insert

from mist.db.engine import Database


def test_a_server_started_on_a_first_release_database_keeps_every_reference(server_factory, tmp_path: Path) -> None:  # noqa: ANN001
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    db = Database(f"sqlite:///{data / 'mist.db'}")
    db.migrate("0001")
    db.dispose()
    rows = copy.deepcopy(FIRST_REVISION_ROWS)
    rows["users"][0]["password_hash"] = PasswordHasher().hash(PASSWORD)  # ada, the owner, signs in
    insert(data / "mist.db", rows)

    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        ada = MistClient(http)
        ada.login("ada@example.com")
        deployments = {d["id"]: d for d in ada.deployments(1)}
        assert deployments[4]["rolled_back_from"] == 2 and deployments[4]["is_active"] is True
        assert {d["id"]: d["rolled_back_from"] for d in ada.deployments(3)} == {6: None, 7: 6}
        shop = ada.get("/api/projects/getFromId", id=1)["data"]
        assert (shop["ownerId"], shop["memberIds"]) == (1, [1, 3])
        blog = ada.get("/api/projects/getFromId", id=2)["data"]
        assert (blog["ownerId"], blog["memberIds"]) == (3, [3])
        assert [e["key"] for e in ada.post("/api/apps/envs/get", {"appId": 1})["data"]] == ["API_KEY", "GREETING"]
    # The first release's sessions survive the upgrade (a rebuild of `users` used to cascade-delete them).
    with sqlite3.connect(data / "mist.db") as connection:
        users = {user_id for (user_id,) in connection.execute("SELECT user_id FROM sessions")}
    connection.close()
    assert users >= {1, 3}
