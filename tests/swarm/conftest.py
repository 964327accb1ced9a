"""Fixtures of the Swarm suites: a registry, the test engine as a single-node swarm, the images every node
pulls from that registry by digest, and a second node. Everything is undone at the end of the package (the
swarm left if these fixtures made it), and each test's services, networks and configs after the test."""

from __future__ import annotations

from collections.abc import Iterator

import docker
import pytest
from support.images import ensure_node_image, ensure_proxy_image, ensure_python_image
from support.swarm import Registry, Swarm, WorkerNode, docker0_address, single_node_swarm, worker_node


@pytest.fixture(scope="package")
def registry(engine: docker.DockerClient) -> Iterator[Registry]:
    """Debian's docker-registry on 127.0.0.1:<port> (`registry.address`), relayed to the docker0 address
    for the second node."""
    with Registry(relay_host=docker0_address(engine)) as started:
        yield started


@pytest.fixture(scope="package")
def swarm_manager(engine: docker.DockerClient) -> Iterator[Swarm]:
    """The test engine as a swarm manager for the whole package; tests take `swarm`."""
    with single_node_swarm(engine) as swarm:
        yield swarm


@pytest.fixture
def swarm(swarm_manager: Swarm) -> Iterator[Swarm]:
    """The single-node swarm; the services, configs, networks and node labels a test makes through it
    (`swarm.service`, `.config`, `.network`, `.label_node`) are removed after the test."""
    try:
        yield swarm_manager
    finally:
        swarm_manager.clean()


@pytest.fixture(scope="package")
def swarm_images(engine: docker.DockerClient, registry: Registry) -> dict[str, str]:
    """{"python": ..., "proxy": ...}: the test images pushed to the registry, as references by digest
    (`127.0.0.1:PORT/mist-test/python@sha256:...`) every node can pull."""
    return {
        "python": registry.push(engine, ensure_python_image(engine)),
        "proxy": registry.push(engine, ensure_proxy_image(engine)),
    }


@pytest.fixture(scope="package")
def node_image(engine: docker.DockerClient) -> str:
    return ensure_node_image(engine)


@pytest.fixture
def worker(swarm: Swarm, registry: Registry, node_image: str) -> Iterator[WorkerNode]:
    """A second node (a container running its own dockerd) joined as a worker; drained, taken out of the
    swarm and removed after the test (after the test's services: fixtures end in reverse order)."""
    with worker_node(swarm, registry, node_image) as node:
        yield node
