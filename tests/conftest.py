"""Fixtures shared by every test: real git servers on loopback, Mist in-process for API tests, and
for the suites that deploy (which define `server_factory`) a real server with its owner signed in."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import httpx
import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.engine import connect
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.postgres import PostgresServer
from support.receivers import WebhookReceiver
from support.s3 import S3Server
from support.server import MistServer
from support.sshgit import SshGitServer

from mist.config import Settings
from mist.db.engine import Database
from mist.server import create_app

DATABASES = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database", choices=(*DATABASES, "both"), default=os.environ.get("MIST_TEST_DATABASE", "both"),
        help="database of the in-process API tests (the `settings` fixture): each test runs on both by "
             "default (every route on each database Mist supports); $MIST_TEST_DATABASE picks one",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "api_database" in metafunc.fixturenames:
        choice = metafunc.config.getoption("--database")
        metafunc.parametrize("api_database", DATABASES if choice == "both" else (choice,))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session; tests take a database of their own from it."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url(postgres: PostgresServer) -> str:
    """The server's maintenance database, for tests that make their own databases on it."""
    return postgres.url()


@pytest.fixture
def fresh_postgres_url(postgres: PostgresServer) -> Iterator[str]:
    """A new empty PostgreSQL database for one test, dropped after it."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind Mist supports: database-level tests run against both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mist.db'}"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def migrated(database_url: str) -> Iterator[Callable[..., Database]]:
    """`migrated(*rows)`: a migrated database of each kind holding `rows`, added in the order given
    (the models declare no relationships to order the inserts by)."""
    made: list[Database] = []

    def make(*rows: object) -> Database:
        database = Database(database_url)
        database.migrate()
        made.append(database)
        with database.session() as session:
            for row in rows:
                session.add(row)
                session.flush()
        return database

    yield make
    for database in made:
        database.dispose()


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
def settings(
    request: pytest.FixtureRequest, tmp_path: Path, api_database: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    # In-process API tests need no reverse proxy; the integration tests run a real Caddy.
    # On PostgreSQL each test gets a fresh database of its own.
    url = request.getfixturevalue("fresh_postgres_url") if api_database == "postgresql" else None
    if request.node.get_closest_marker("docker") is None:
        # No engine for tests that do not say they use it: they run beside the Docker suites, and a
        # failed deployment of their app 1 would remove the image `mist-app-1:1` a Docker suite built.
        monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    return Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False, database_url=url)


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


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """A real S3-compatible server (SeaweedFS) for the session: `endpoint`, `access_key`, `secret_key`,
    `region`, `bucket()` for a new empty bucket and `client()` to look behind Mist's back."""
    with S3Server() as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """A real HTTP endpoint that records what notifications post to it."""
    hook = WebhookReceiver()
    yield hook
    hook.close()
