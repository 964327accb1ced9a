"""Fixtures for the CLI against a real server: the Docker engine, a real `mist serve`, its owner,
an API token, and a runner of the `mist` command as a subprocess (as a user would run it)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import pytest
from cli_support import CLI, cli_env
from support.client import MistClient
from support.engine import mist_servers
from support.images import ensure_busybox_image
from support.server import MistServer


@pytest.fixture(scope="session")
def busybox(engine: docker.DockerClient) -> str:
    return ensure_busybox_image(engine)


@pytest.fixture
def server_factory(tmp_path: Path, engine: docker.DockerClient, busybox: str) -> Iterator:
    """Servers share one data dir and (when asked) one port, so a test can kill one and start the
    next where the CLI is still trying to reconnect."""
    with mist_servers(engine, tmp_path / "data") as start:
        yield start


@pytest.fixture
def token(owner: MistClient) -> str:
    data = owner.post("/api/tokens/create", {"name": "cli tests", "scope": "admin"})["data"]
    assert data["token"].startswith("mist_"), data
    return data["token"]


@pytest.fixture
def mist_cli(tmp_path: Path, server: MistServer, token: str) -> Callable[..., subprocess.CompletedProcess]:
    """Run `mist ARGS...` with MIST_URL/MIST_TOKEN, as CI would."""

    def run(*args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*CLI, *args], env=cli_env(tmp_path, **{"MIST_URL": server.url, "MIST_TOKEN": token, **env}),
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        )
        print(f"$ mist {' '.join(args)}  -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
        return proc

    return run
