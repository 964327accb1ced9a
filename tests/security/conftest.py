"""Fixtures for the attacks: a real `mist serve` (with its own Caddy), its owner, and a member of one
of the owner's projects signed in on their own session. Attacks that need the engine use
`engine_server_factory` and carry the `docker` marker."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest
from support.client import MistClient
from support.engine import engineless_servers, mist_servers
from support.images import ensure_busybox_image, ensure_python_image
from support.server import MistServer


@pytest.fixture
def server_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MistServer]]:
    """`start(**settings)` runs a real server on one data dir; settings become MIST_* variables.
    No engine: these attacks need none."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start


@pytest.fixture
def engine_server_factory(tmp_path: Path, engine: docker.DockerClient) -> Iterator[Callable[..., MistServer]]:
    """The same on the real engine, cleaned up as the integration suite does."""
    with mist_servers(engine, tmp_path / "data") as start:
        yield start


@pytest.fixture(scope="session")
def images(engine: docker.DockerClient) -> dict[str, str]:
    return {"busybox": ensure_busybox_image(engine), "python": ensure_python_image(engine)}


@dataclass
class Team:
    """The owner, a member (role `user`) of the owner's project, and that project."""

    owner: MistClient
    member: MistClient
    member_id: int
    project_id: int


def team_on(server: MistServer) -> Iterator[Team]:
    with httpx.Client(base_url=server.url, timeout=60) as owner_http, \
            httpx.Client(base_url=server.url, timeout=60) as member_http:
        owner = MistClient(owner_http)
        owner.signup()
        user = owner.create_user("mallory")
        project = owner.project("shared")
        owner.put("/api/projects/updateMembers", {"userIds": [user["id"]]}, id=project["id"])
        member = MistClient(member_http)
        member.login("mallory@example.com")
        yield Team(owner=owner, member=member, member_id=user["id"], project_id=project["id"])


@pytest.fixture
def team(server: MistServer) -> Iterator[Team]:
    yield from team_on(server)
