"""Integration fixtures: the real Docker engine with locally built base images, a real Mist server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from support.engine import ip_of, mist_servers
from support.images import ensure_busybox_image, ensure_python_image, ensure_redis_image


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def images(engine: docker.DockerClient) -> dict[str, str]:
    return {
        "busybox": ensure_busybox_image(engine),
        "python": ensure_python_image(engine),
        "redis": ensure_redis_image(engine),
    }


@pytest.fixture
def server_factory(tmp_path: Path, engine: docker.DockerClient, images: dict[str, str]) -> Iterator:
    """Servers share one data dir per test, so a test can kill one and start the next on it."""
    with mist_servers(engine, tmp_path / "data", template_images={"redis": images["redis"]}) as start:
        yield start


def container_of(engine: docker.DockerClient, app_id: int):
    found = engine.containers.list(all=True, filters={"label": f"mist.app={app_id}"})
    assert len(found) == 1, [c.name for c in found]
    return found[0]


def http_get(engine: docker.DockerClient, app_id: int, port: int, timeout: float = 20, path: str = "/") -> str:
    """GET `path` on the app's container at its network address, waiting for it to listen."""
    container = container_of(engine, app_id)
    ip = ip_of(container)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"http://{ip}:{port}{path}", timeout=2).text
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
