"""What every benchmark needs: the test suite's support code on the path, a real Mist server with a
git server beside it on loopback, and an engine left clean afterwards."""

from __future__ import annotations

import json
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import docker  # noqa: E402
import httpx  # noqa: E402
from support.client import MistClient  # noqa: E402
from support.gitserver import GitServer  # noqa: E402
from support.images import ensure_python_image  # noqa: E402
from support.postgres import PostgresServer  # noqa: E402
from support.sample_app import SERVER_PY  # noqa: E402
from support.server import MistServer  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

__all__ = ["SERVER_PY", "Bench", "GitServer", "Memory", "MistClient", "MistServer", "database_settings",
           "mist_bench", "until_final"]


@dataclass
class Bench:
    engine: docker.DockerClient
    git: GitServer
    server: MistServer
    client: MistClient
    workdir: Path


def until_final(server: MistServer, client: MistClient, start: Callable[[], dict],
                lines: list[tuple[float, str]] | None = None) -> tuple[float, dict]:
    """Seconds from `start()` (an API call that answers a deployment) until the deployment's
    WebSocket sends its final status, and that status. The socket, not polling, so the figure
    carries no polling interval. Given `lines`, appends each log line with the seconds since the
    start at which it arrived (lines logged before the socket connected arrive together)."""
    cookie = f"mist_session={client.http.cookies['mist_session']}"
    began = time.perf_counter()
    deployment = start()
    messages = []
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}",
                 additional_headers={"Cookie": cookie}) as ws:
        for raw in ws:
            messages.append(json.loads(raw))
            if lines is not None and messages[-1].get("type") == "log":
                lines.append((time.perf_counter() - began, messages[-1]["data"].get("line", "")))
        final = messages[-1]
    elapsed = time.perf_counter() - began
    if final["data"]["status"] != "success":
        raise SystemExit(f"deployment {deployment['id']} ended {final['data']['status']}:\n"
                         f"{client.logs(deployment['id'])}")
    return elapsed, deployment


@contextmanager
def database_settings(kind: str) -> Iterator[dict[str, str]]:
    """The server settings for `kind` ("sqlite": none, Mist's default; "postgresql": a real
    server from Debian's packages on loopback, as the tests use, with a fresh database)."""
    if kind == "sqlite":
        yield {}
        return
    with PostgresServer() as postgres:
        yield {"database_url": postgres.create_database()}


@contextmanager
def mist_bench(workers: int = 2, teardown: Callable[[docker.DockerClient], None] | None = None,
               **settings: str) -> Iterator[Bench]:
    """`settings` become the server's MIST_* environment (e.g. database_url=...). `teardown` replaces
    the removal of the app containers after the server stops: Swarm mode's apps are services, its
    Caddy a container (bench/swarmbench.py)."""
    engine = docker.from_env()
    ensure_python_image(engine)
    # App containers are named mist-app-{appId} and found by label on the shared engine: another Mist
    # running here (the tests, another bench) would collide with ours, and our cleanup would remove
    # its containers. Refuse rather than corrupt both runs.
    if others := engine.containers.list(all=True, filters={"label": "mist.app"}):
        raise SystemExit(f"containers labelled mist.app exist ({', '.join(c.name for c in others)}): "
                         "another Mist uses this Docker engine; stop it or remove them first")
    with tempfile.TemporaryDirectory(prefix="mist-bench-") as tmp, GitServer(Path(tmp) / "git") as git:
        server = MistServer(Path(tmp) / "data", workers=workers, **settings).start()
        try:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                client = MistClient(http)
                client.signup()
                yield Bench(engine, git, server, client, Path(tmp))
        finally:
            server.stop()
            try:
                if teardown is not None:
                    teardown(engine)  # first: a Caddy container would come back after stop_proxy's /stop
            finally:
                server.stop_proxy()
            if teardown is None:
                for container in engine.containers.list(all=True, filters={"label": "mist.app"}):
                    container.remove(force=True)
                # The project networks too: a Swarm mode Mist started next (zero_downtime --runtime
                # swarm) would find a bridge network under its overlay's name and fail to use it.
                for network in engine.networks.list(filters={"label": "mist.project"}):
                    try:
                        network.remove()
                    except docker.errors.APIError as error:
                        print(f"bench: network {network.name} not removed: {error}", flush=True)


class Memory:
    """Samples the server's VmRSS every 50 ms (VmHWM, the kernel's own peak, is read at the end)."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def read(self, field: str) -> int:
        match = re.search(rf"^{field}:\s+(\d+) kB", self.status.read_text(), re.M)
        return int(match.group(1)) * 1024 if match else 0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, self.read("VmRSS"))

    def __enter__(self) -> Memory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
