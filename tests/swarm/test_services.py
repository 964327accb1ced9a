"""The Swarm services adapter on the single-node test swarm: images pushed to the test registry, a 2-replica
`dnsrr` service served by two containers (seen from a container on its overlay), health-gated start-first
updates with their progress, an unhealthy version rolled back by Swarm with the old one still serving, a
rollback, scaling to 0 and back, a restart, merged logs naming the tasks, and tasks naming their node."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import docker
import pytest
from support.images import ensure_python_image
from support.swarm import Registry, Swarm

from mist.errors import RuntimeEngineError
from mist.runtime.services import (
    COMPLETED,
    ROLLED_BACK,
    STARTING_NEW,
    STOPPING_OLD,
    NetworkAttachment,
    ServiceHealth,
    ServiceRequest,
    TaskState,
)
from mist.runtime.swarmservices import SwarmServices

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

NAME = "mist-test-services"
REPOSITORY = "mist-test/services"
T = TypeVar("T")

# Serves "VERSION HOSTNAME" (the hostname is the container's short id); /healthz fails when UNHEALTHY is set.
APP = """
import http.server, os, socket
version, host = os.environ["VERSION"], socket.gethostname()
print(f"version {version} starting on {host}", flush=True)
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        failing = self.path == "/healthz" and os.environ.get("UNHEALTHY")
        body = f"{version} {host}".encode()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
"""

# Run on the overlay: each replica's answer, by the addresses `tasks.NAME` resolves to.
PROBE = """
import json, socket, sys, time, urllib.request
def get(host):
    for _ in range(100):
        try:
            return urllib.request.urlopen(f"http://{host}:8000/", timeout=5).read().decode()
        except OSError:
            time.sleep(0.2)
    return "no answer"
print(json.dumps(sorted(get(a) for a in socket.gethostbyname_ex("tasks." + sys.argv[1])[2])))
"""


@pytest.fixture
def services(
    engine: docker.DockerClient, swarm: Swarm, registry: Registry,
) -> Iterator[Callable[[Callable[[SwarmServices], Awaitable[T]]], T]]:
    """Runs a scenario with a SwarmServices on the test registry (each run on an event loop of its own);
    the service is removed afterwards, before the `swarm` fixture removes the networks, and so are the
    references by digest that pulls of the pushed image left on the engine (the image keeps its tag)."""

    def run(scenario: Callable[[SwarmServices], Awaitable[T]]) -> T:
        async def main() -> T:
            adapter = SwarmServices(registry.address, monitor=1, poll=0.3)
            try:
                return await scenario(adapter)
            finally:
                await adapter.aclose()

        return asyncio.run(main())

    try:
        yield run
    finally:
        async def remove(adapter: SwarmServices) -> None:
            await adapter.remove(NAME)

        run(remove)
        for found in engine.images.list():
            for reference in found.attrs.get("RepoDigests") or ():
                if reference.startswith(f"{registry.address}/{REPOSITORY}@"):
                    engine.images.remove(reference, noprune=True)


@pytest.fixture
def image(engine: docker.DockerClient, registry: Registry, services: Callable[..., str]) -> str:
    async def push(adapter: SwarmServices) -> str:
        return await adapter.push(ensure_python_image(engine), REPOSITORY)

    return services(push)


def request(image: str, network: str, version: str, replicas: int = 2, unhealthy: bool = False) -> ServiceRequest:
    env = {"VERSION": version, **({"UNHEALTHY": "1"} if unhealthy else {})}
    return ServiceRequest(
        name=NAME, image=image, labels={"mist.app": "9000", "mist.deployment": version}, env=env,
        replicas=replicas, networks=(NetworkAttachment(network, ("web",)),), port=8000,
        health=ServiceHealth(path="/healthz", interval=0.5, timeout=3, retries=3),
        command=["python3", "-c", APP],
    )


def answers(engine: docker.DockerClient, network: str) -> list[str]:
    """What each replica answers, asked from a container on the overlay (addresses there are not
    reachable from the host)."""
    output = engine.containers.run(ensure_python_image(engine), ["python3", "-c", PROBE, NAME],
                                   network=network, remove=True)
    found: list[str] = json.loads(output)
    return found


def running(tasks: list[TaskState]) -> list[TaskState]:
    return [t for t in tasks if t.desired_state == "running" and t.running]


async def no_progress(phase: str, tasks: list[TaskState]) -> None:
    pass


def test_push_answers_a_reference_by_digest_and_names_an_unreachable_registry(
    engine: docker.DockerClient, registry: Registry, image: str, services: Callable[..., None],
) -> None:
    assert image.startswith(f"{registry.address}/{REPOSITORY}@sha256:")
    engine.images.pull(image)  # what a node does: the registry serves that very image
    assert engine.images.get(image).id == engine.images.get(ensure_python_image(engine)).id

    async def push_nowhere(adapter: SwarmServices) -> None:
        adapter.registry = "127.0.0.1:9"  # discard: nothing listens
        await adapter.push(ensure_python_image(engine), REPOSITORY)

    with pytest.raises(RuntimeEngineError, match=r"registry 127\.0\.0\.1:9 \(MIST_REGISTRY\).*refused"):
        services(push_nowhere)
    assert not [t for t in engine.images.get(ensure_python_image(engine)).tags if t.startswith("127.0.0.1:9/")]


def test_two_replicas_serve_from_two_containers_on_the_overlay_and_name_their_node(
    engine: docker.DockerClient, swarm: Swarm, image: str, services: Callable[..., list[TaskState]],
) -> None:
    network = swarm.network("mist-test-services-net").name

    async def scenario(adapter: SwarmServices) -> list[TaskState]:
        outcome = await adapter.deploy(request(image, network, "1"), no_progress)
        assert outcome.status == COMPLETED, outcome
        return await adapter.tasks(NAME)

    tasks = running(services(scenario))
    assert sorted(t.name for t in tasks) == [f"{NAME}.1", f"{NAME}.2"]
    assert {t.node for t in tasks} == {engine.info()["Name"]}
    assert {t.health for t in tasks} == {"healthy"}
    assert sorted(answers(engine, network)) == sorted(f"1 {t.container_id[:12]}" for t in tasks)


def test_a_healthy_version_replaces_start_first_and_an_unhealthy_one_is_rolled_back(
    engine: docker.DockerClient, swarm: Swarm, image: str, services: Callable[..., None],
) -> None:
    network = swarm.network("mist-test-services-net").name
    reports: list[tuple[str, list[TaskState]]] = []

    async def progress(phase: str, tasks: list[TaskState]) -> None:
        reports.append((phase, tasks))

    async def scenario(adapter: SwarmServices) -> None:
        assert (await adapter.deploy(request(image, network, "1"), no_progress)).ok
        outcome = await adapter.deploy(request(image, network, "2"), progress)
        assert outcome.status == COMPLETED, outcome
        assert {t.deployment for t in running(await adapter.tasks(NAME))} == {"2"}

        broken = await adapter.deploy(request(image, network, "3", unhealthy=True), no_progress)
        assert broken.status == ROLLED_BACK, broken
        assert "rolled back" in broken.message or "rollback" in broken.message
        assert broken.failed_task is not None and broken.failed_task.deployment == "3"
        assert any("version 3 starting" in line for line in broken.output), broken.output
        assert {t.deployment for t in running(await adapter.tasks(NAME))} == {"2"}

    services(scenario)
    phases = [phase for phase, _ in reports]
    assert phases[0] == STARTING_NEW and STOPPING_OLD in phases, phases
    # Start-first: while the update ran, both replicas of one version or the other always served.
    assert all(len([t for t in tasks if t.running]) >= 2 for _, tasks in reports), reports
    assert [answer.split()[0] for answer in answers(engine, network)] == ["2", "2"]


def test_rollback_scale_to_zero_and_back_restart_and_merged_logs(
    engine: docker.DockerClient, swarm: Swarm, image: str, services: Callable[..., None],
) -> None:
    network = swarm.network("mist-test-services-net").name

    async def scenario(adapter: SwarmServices) -> None:
        assert (await adapter.deploy(request(image, network, "1"), no_progress)).ok
        assert (await adapter.deploy(request(image, network, "2"), no_progress)).ok
        back = await adapter.rollback(NAME)
        assert back.status == ROLLED_BACK, back
        before = running(await adapter.tasks(NAME))
        assert {t.deployment for t in before} == {"1"}

        await adapter.scale(NAME, 0)
        assert running(await adapter.tasks(NAME)) == []
        await adapter.scale(NAME, 2)
        assert len(running(await adapter.tasks(NAME))) == 2

        restarted = await adapter.force_update(NAME)
        assert restarted.ok, restarted
        after = running(await adapter.tasks(NAME))
        assert len(after) == 2 and not {t.container_id for t in after} & {t.container_id for t in before}

        lines = [line async for line in adapter.logs(NAME, "all")]
        for task in after:
            expected = f" {task.name} version 1 starting on {task.container_id[:12]}"
            assert any(line.endswith(expected) for line in lines), (expected, lines)

        followed = adapter.logs(NAME, 0, follow=True)
        first = asyncio.ensure_future(anext(followed))
        await adapter.force_update(NAME)  # new tasks write their first line
        line = await asyncio.wait_for(first, 60)
        assert f" {NAME}." in line and "version 1 starting" in line, line
        await followed.aclose()

    services(scenario)
