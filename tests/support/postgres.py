"""A real PostgreSQL server from Debian's packages, on loopback, for the database-level tests.

It runs as the ``postgres`` system user (the server refuses to run as root) on a temporary data
directory that user owns, listens on a free loopback port only, and trusts local connections: it
lives for one test session and holds nothing but test data. Durability is switched off, which only
matters if the machine crashes mid-test, to keep CREATE DATABASE and commits fast.

Each test gets a database of its own (``create_database``), copied from a template, so tests stay
independent; ``drop_database`` removes it even while a connection is still open.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql
from support.gitserver import _free_port

USER = "postgres"
_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def _bin_dir() -> Path:
    """The newest installed server's binaries (Debian keeps them out of PATH, one folder per version)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: run scripts/setup --test (Debian's postgresql package)")
    return Path(found[-1]).parent


def _as_postgres(*args: str | os.PathLike[str]) -> None:
    result = subprocess.run(["runuser", "-u", USER, "--", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({result.returncode}): {result.stderr or result.stdout}")


class PostgresServer:
    def __init__(self) -> None:
        self._bin = _bin_dir()
        self._tmp = Path(tempfile.mkdtemp(prefix="mist-postgres-"))
        self._data = self._tmp / "data"
        self.log_path = self._tmp / "postgres.log"
        self.port = 0
        self._names = itertools.count(1)
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Self:
        if os.geteuid() != 0:
            raise RuntimeError("the PostgreSQL test server needs root (it runs as the postgres user)")
        account = pwd.getpwnam(USER)
        os.chown(self._tmp, account.pw_uid, account.pw_gid)
        _as_postgres(self._bin / "initdb", "-D", self._data, "-U", USER, "-A", "trust", "-E", "UTF8",
                     "--locale=C", "--no-sync")
        self.port = _free_port()
        settings = {**_SETTINGS, "port": str(self.port), "unix_socket_directories": f"'{self._tmp}'"}
        with open(self._data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        _as_postgres(self._bin / "pg_ctl", "start", "-D", self._data, "-l", self.log_path, "-w", "-t", "60")
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._started = False
            _as_postgres(self._bin / "pg_ctl", "stop", "-D", self._data, "-m", "immediate", "-w")
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ databases

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL Mist takes as MIST_DATABASE_URL."""
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def _admin(self) -> psycopg.Connection:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        return psycopg.connect(host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True)

    def create_database(self, template: str = "template1") -> str:
        """A new, empty database (or a copy of `template`); answers its URL."""
        name = f"mist_test_{next(self._names)}"
        with self._admin() as connection:
            connection.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)))
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as connection:
            connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
