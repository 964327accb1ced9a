"""mist.runtime.docker's networks on the real engine: a project's network is found by its exact name
(never by a longer one it is the start of), and two deployments creating it at the same moment end
with one network, which containers can join."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import docker
import pytest

from mist.runtime.docker import DockerEngine

pytestmark = pytest.mark.docker


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"mist-test-net-{uuid.uuid4().hex[:8]}"
    yield name
    client = docker.from_env()
    for network in client.networks.list(names=[name]):
        network.remove()


def named(name: str) -> list[str]:
    return [n.id for n in docker.from_env().networks.list(names=[name]) if n.name == name]


def test_a_network_is_found_and_removed_by_its_exact_name_only(prefix: str) -> None:
    engine = DockerEngine()._docker
    docker.from_env().networks.create(f"{prefix}-10", driver="bridge")
    engine.ensure_network(f"{prefix}-1", {"mist.test": "1"})  # not mistaken for ...-10
    assert len(named(f"{prefix}-1")) == 1
    engine.remove_network(f"{prefix}-1")
    assert named(f"{prefix}-1") == [] and len(named(f"{prefix}-10")) == 1


def test_two_creators_at_the_same_moment_leave_one_network(prefix: str) -> None:
    engine = DockerEngine()._docker
    for attempt in range(5):
        name = f"{prefix}-race{attempt}"
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def create(network: str = name, gate: threading.Barrier = start, failed: list[BaseException] = errors) -> None:
            gate.wait()
            try:
                engine.ensure_network(network, {"mist.test": "1"})
            except BaseException as exc:  # noqa: BLE001 - reported below
                failed.append(exc)

        threads = [threading.Thread(target=create) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(named(name)) == 1, f"attempt {attempt}: {len(named(name))} networks named {name}"
        engine.remove_network(name)
