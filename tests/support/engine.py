"""The real Docker engine for the suites that deploy: one client, and a clean slate around each test."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
import pytest
from support.server import MistServer


def connect() -> docker.DockerClient:
    client = docker.from_env()
    client.ping()
    return client


def remove_mist_objects(engine: docker.DockerClient) -> None:
    """Containers, volumes and project networks of Mist's apps. Every Docker suite shares the one engine, so these
    suites must not run at the same time (app ids, and so container names, repeat across servers)."""
    if engine.info().get("Swarm", {}).get("ControlAvailable"):
        # Swarm mode's apps: their services first, or Swarm starts the task containers removed below again.
        for service in engine.services.list(filters={"label": "mist.app"}):
            service.remove()
        deadline = time.monotonic() + 60
        while engine.containers.list(all=True, filters={"label": ["mist.app", "com.docker.swarm.task"]}):
            assert time.monotonic() < deadline, "the app services' containers did not go"
            time.sleep(0.2)
    try:
        engine.containers.get("mist-proxy").remove(force=True, v=True)  # Swarm mode's Caddy, its network and data
    except docker.errors.NotFound:
        pass
    for network in engine.networks.list(names=["mist-proxy"]):
        network.remove()
    for volume in engine.volumes.list(filters={"name": "mist-proxy-data"}):
        volume.remove(force=True)
    for container in engine.containers.list(all=True, filters={"label": "mist.app"}):
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass  # a deployment still under way removed it first
    for volume in engine.volumes.list(filters={"name": "mist-app-"}):
        volume.remove(force=True)
    for network in engine.networks.list(filters={"label": "mist.project"}):
        deadline = time.monotonic() + 30
        while True:
            try:
                network.remove()
                break
            except docker.errors.APIError as error:
                if "not found" in str(error):  # NotFound, or a 500 saying so for an overlay gone meanwhile
                    break
                # An overlay stays "in use by task" for a moment after its services' containers are gone.
                if "in use" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


def ip_of(container) -> str:  # noqa: ANN001 - a docker SDK container
    """The container's address on its project network (reachable from the host)."""
    networks = container.attrs["NetworkSettings"]["Networks"]
    return next(n["IPAddress"] for n in networks.values() if n.get("IPAddress"))


@contextmanager
def mist_servers(
    engine: docker.DockerClient | None, data_dir: Path, template_images: dict[str, str] | None = None
) -> Iterator[Callable[..., MistServer]]:
    """Starts Mist servers on one data dir and one Caddy, so a test can kill a server and start
    the next on what it left (with `same_port`, where clients are still reconnecting); cleans up
    servers, Caddy and (given the engine) app containers afterwards."""
    if engine is not None:
        remove_mist_objects(engine)
    started: list[MistServer] = []

    def start(workers: int = 2, same_port: bool = False, **settings: str) -> MistServer:
        previous = started[-1] if started else None
        server = MistServer(
            data_dir, workers=workers, template_images=template_images,
            proxy_port=previous.proxy_port if previous else None,
            proxy_admin_port=previous.proxy_admin_port if previous else None,
            **settings,
        )
        if same_port and previous is not None:
            server.port = previous.port
        started.append(server.start())
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        if started:
            print(started[-1].output())
            started[-1].stop_proxy()
        if engine is not None:
            remove_mist_objects(engine)


@contextmanager
def engineless_servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MistServer]]:
    """`mist_servers` whose servers reach no engine: for tests that deploy nothing. A server that reached
    the machine's engine would, on stopping, remove what it takes for its own leftovers (containers
    labelled with its deployment ids, images of its failed deployments) from the Docker suites."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    with mist_servers(None, tmp_path / "data") as start:
        yield start
