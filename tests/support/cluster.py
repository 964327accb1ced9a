"""Several real `mist serve` processes acting as one Mist: one PostgreSQL database, one secret key
file, one Caddy, each process with a data directory (and so a server log) of its own.

Processes are known by name ("A", "B", ...); a name can be killed and started again on the data
directory it had, as an operator restarting a crashed machine would.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import docker
import httpx
from support.client import MistClient
from support.engine import remove_mist_objects
from support.postgres import PostgresServer
from support.server import MistServer, free_port

from mist.proxy.caddy import CaddyProxy

T = TypeVar("T")

COOKIE = "mist_session"


def wait_for(predicate: Callable[[], T], timeout: float = 60, what: str = "condition", every: float = 0.2) -> T:
    """The predicate's first truthy value; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if value := predicate():
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def write_secret_key(path: Path) -> Path:
    """A server secret as Mist makes one (32 random bytes, mode 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(secrets.token_bytes(32))
    return path


class Cluster:
    """Mist processes sharing one database (a fresh one on `postgres`), one MIST_SECRET_KEY_FILE and
    one Caddy (the same MIST_PROXY_LISTEN and MIST_PROXY_ADMIN for all)."""

    def __init__(
        self, root: Path, postgres: PostgresServer, engine: docker.DockerClient | None = None, **shared: str,
    ) -> None:
        self.root = root
        self.postgres = postgres
        self.engine = engine
        self.database_url = postgres.create_database()
        self.secret_key_file = write_secret_key(root / "secret.key")
        self.proxy_port = free_port()
        self.proxy_admin_port = free_port()
        self.shared = shared  # MIST_* settings of every process, e.g. lease_seconds="6"
        self.processes: dict[str, MistServer] = {}
        self.workers: dict[str, int] = {}
        self._log_offsets: dict[str, int] = {}
        self._clients: list[httpx.Client] = []
        if engine is not None:
            remove_mist_objects(engine)

    # ------------------------------------------------------------------ processes

    def server(self, name: str, workers: int = 2, **settings: str) -> MistServer:
        """A process (not started) on `name`'s own data directory; its log is root/name/mist-server.log."""
        values = {
            "database_url": self.database_url,
            "secret_key_file": str(self.secret_key_file),
            **self.shared,
            **settings,
        }
        (self.root / name).mkdir(parents=True, exist_ok=True)
        return MistServer(
            self.root / name / "data", workers=workers, proxy_port=self.proxy_port,
            proxy_admin_port=self.proxy_admin_port, **values,
        )

    def start(self, name: str, workers: int = 2, **settings: str) -> MistServer:
        current = self.processes.get(name)
        assert current is None or not self.running(name), f"{name} is already running"
        server = self.server(name, workers, **settings)
        self._log_offsets[name] = server.log_path.stat().st_size if server.log_path.exists() else 0
        self.processes[name] = server
        self.workers[name] = workers
        return server.start()

    def running(self, name: str) -> bool:
        server = self.processes.get(name)
        return server is not None and server.proc is not None and server.proc.poll() is None

    def require(self, *names: str) -> None:
        """Starts (again, on its data directory, with the worker count it had) each named process that is down."""
        for name in names:
            if not self.running(name):
                self.start(name, self.workers[name])

    def stop(self, name: str) -> None:
        """SIGTERM, as an operator's `systemctl stop`."""
        self.processes[name].stop()

    def kill(self, name: str) -> None:
        """SIGKILL of the process: no shutdown code runs (Caddy, in its own session, lives on)."""
        self.processes[name].kill()

    def __getitem__(self, name: str) -> MistServer:
        return self.processes[name]

    def log(self, name: str) -> str:
        """Everything the named process logged since it was last started."""
        server = self.processes[name]
        with open(server.log_path, "rb") as log:
            log.seek(self._log_offsets[name])
            return log.read().decode(errors="replace")

    # ------------------------------------------------------------------ clients

    def client(self, name: str, cookie: str | None = None, token: str | None = None) -> MistClient:
        """A client of the named process (at its current port), signed in with a session cookie or an
        API token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        cookies = {COOKIE: cookie} if cookie else {}
        http = httpx.Client(base_url=self.processes[name].url, timeout=60, headers=headers, cookies=cookies)
        self._clients.append(http)
        return MistClient(http)

    def proxy_get(self, host: str, path: str = "/") -> httpx.Response:
        """A request to Caddy's listener for `host`, as a visitor's browser would send it."""
        return httpx.get(f"http://127.0.0.1:{self.proxy_port}{path}", headers={"Host": host}, timeout=5)

    @property
    def proxy_admin(self) -> str:
        return f"127.0.0.1:{self.proxy_admin_port}"

    # ------------------------------------------------------------------ teardown

    def close(self) -> None:
        for http in self._clients:
            http.close()
        for name, server in self.processes.items():
            server.stop()
            print(f"----- {name}: {server.log_path}\n{server.output()}")
        CaddyProxy(admin=self.proxy_admin, state_dir=self.root / "caddy").stop()
        if self.engine is not None:
            remove_mist_objects(self.engine)
        self.postgres.drop_database(self.database_url)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
