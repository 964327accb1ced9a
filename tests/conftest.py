"""Fixtures shared by every test: real git servers on loopback, Mist in-process for API tests, and
for the suites that deploy (which define `server_factory`) a real server with its owner signed in."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.engine import connect
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.server import MistServer
from support.sshgit import SshGitServer

from mist.config import Settings
from mist.server import create_app


@pytest.fixture(scope="session")
def git_server() -> Iterator[GitServer]:
    with GitServer() as server:
        yield server


@pytest.fixture(scope="session")
def ssh_git_server(git_server: GitServer) -> Iterator[SshGitServer]:
    """git_server's repos over ssh://; tests authorize their own keys and revoke them after."""
    with SshGitServer(git_server.root) as server:
        yield server


@pytest.fixture(scope="session")
def token_git_server(git_server: GitServer) -> Iterator[TokenGitServer]:
    """git_server's repos over smart HTTP, behind Basic auth with ``token_git_server.token``."""
    with TokenGitServer(git_server.root, secrets.token_hex(16)) as server:
        yield server


@pytest.fixture(scope="session")
def https_git_server(git_server: GitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokenGitServer]:
    """The same over HTTPS, with a certificate of its own (``https_git_server.ca_file``) to trust."""
    with TokenGitServer(git_server.root, secrets.token_hex(16), tls_dir=tmp_path_factory.mktemp("tls")) as server:
        yield server


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    """The real engine, for the suites that deploy (integration, client, web)."""
    return connect()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # In-process API tests need no reverse proxy; the integration tests run a real Caddy.
    return Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False)


@pytest.fixture
def http(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def mist(http: TestClient) -> MistClient:
    return MistClient(http)


@pytest.fixture
def server(server_factory) -> MistServer:  # noqa: ANN001 - each Docker suite's own factory
    return server_factory()


@pytest.fixture
def owner(server: MistServer) -> Iterator[MistClient]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        client = MistClient(http)
        client.signup()
        yield client
