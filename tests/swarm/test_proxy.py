"""mist.proxy.container against the real engine as a single-node swarm: the Caddy container reaching every
replica of a `dnsrr` service over a project overlay it joins by itself, coming back after a restart, its
admin API reachable on the host's loopback only (not on docker0, not from an app on an overlay), and zero
failed requests while a service is updated start-first."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import docker
import docker.errors
import docker.types
import httpx
import pytest
from docker.models.networks import Network
from support.cluster import wait_for
from support.images import ensure_proxy_image, ensure_python_image
from support.server import free_port
from support.swarm import OBJECT_LABEL, Swarm, docker0_address, service_containers

from mist.proxy.caddy import Route
from mist.proxy.container import ADMIN_PORT, CaddyContainer
from mist.runtime.engine import PROJECT_LABEL

from .test_infrastructure import whoami

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

NAME = "mist-test-proxy"  # never the name a real Mist on this engine uses
DOMAIN = "shop.example.test"


@pytest.fixture
def proxy(engine: docker.DockerClient, swarm: Swarm) -> Iterator[CaddyContainer]:
    """The proxy container on free host ports; removed with its network and volume after the test (before
    the swarm fixture removes the test's overlays, which the container is attached to)."""
    started = CaddyContainer(
        ensure_proxy_image(engine), admin=f"127.0.0.1:{free_port()}", listen=f"127.0.0.1:{free_port()}",
        name=NAME, client=engine,
    )
    try:
        assert started.ensure_running() is True
        yield started
    finally:
        started.stop(remove_data=True)
        assert not engine.containers.list(all=True, filters={"name": f"^/{NAME}$"})
        assert not engine.volumes.list(filters={"name": f"{NAME}-data"})
        assert not engine.networks.list(names=[NAME])


def project_network(engine: docker.DockerClient, swarm: Swarm, name: str) -> Network:
    """A project overlay as the pipeline makes it (attachable, labelled), removed by the swarm fixture."""
    network = engine.networks.create(
        name, driver="overlay", attachable=True, labels={PROJECT_LABEL: "990", OBJECT_LABEL: "1"},
    )
    swarm.networks.append(network.id)
    return network


def url(proxy: CaddyContainer) -> str:
    return f"http://127.0.0.1:{proxy.published['http'][1]}/"


def seen_through(proxy: CaddyContainer, expected: set[str], timeout: float = 60) -> set[str]:
    """The replicas answering for DOMAIN through the proxy's published port, once all of `expected` did."""
    seen: set[str] = set()

    def all_seen() -> bool:
        try:
            response = httpx.get(url(proxy), headers={"Host": DOMAIN}, timeout=5)
        except httpx.HTTPError:
            return False
        if response.status_code == 200:
            seen.add(response.text)
        return expected <= seen

    try:
        wait_for(all_seen, timeout=timeout, what=f"{sorted(expected)} to answer through the proxy", every=0.1)
    except AssertionError as error:
        raise AssertionError(f"{error}; answered: {sorted(seen)}") from None
    return seen


def test_a_domain_reaches_both_replicas_over_a_project_network_made_after_the_proxy_started(
    engine: docker.DockerClient, swarm: Swarm, swarm_images: dict[str, str], proxy: CaddyContainer,
) -> None:
    network = project_network(engine, swarm, "mist-test-project-late")
    service = whoami(swarm, swarm_images["python"], "mist-test-proxied-app", network)
    swarm.running_tasks(service, 2)

    route = Route(app_id=1, domains=(DOMAIN,), upstream=f"tasks.{service.name}:8000")
    proxy.apply([route])  # joins the network first
    assert network.name in engine.containers.get(NAME).attrs["NetworkSettings"]["Networks"]
    assert proxy.in_sync([route]) and proxy.routes() == [route]

    replicas = set(service_containers(swarm, service))
    assert seen_through(proxy, replicas) == replicas


def test_a_restarted_container_comes_back_without_routes_and_apply_restores_them(
    engine: docker.DockerClient, swarm: Swarm, swarm_images: dict[str, str], proxy: CaddyContainer,
) -> None:
    network = project_network(engine, swarm, "mist-test-project-restart")
    service = whoami(swarm, swarm_images["python"], "mist-test-restarted-app", network, replicas=1)
    swarm.running_tasks(service, 1)
    routes = [Route(app_id=1, domains=(DOMAIN,), upstream=f"tasks.{service.name}:8000")]
    proxy.apply(routes)
    replica = set(service_containers(swarm, service))
    seen_through(proxy, replica)

    engine.containers.get(NAME).restart(timeout=5)
    wait_for(proxy._answers, timeout=30, what="the restarted proxy's admin API")
    assert not proxy.in_sync(routes)  # its first config: admin and storage only
    assert proxy.ensure_running() is False  # adopted as it runs
    proxy.apply(routes)
    assert proxy.in_sync(routes)
    assert seen_through(proxy, replica) == replica


def test_the_admin_api_is_reachable_on_the_hosts_loopback_only(
    engine: docker.DockerClient, swarm: Swarm, proxy: CaddyContainer,
) -> None:
    network = project_network(engine, swarm, "mist-test-project-admin")
    proxy.apply([])
    admin_port = proxy.published["admin"][1]
    assert httpx.get(f"http://{proxy.admin}/config/", timeout=5).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://{docker0_address(engine)}:{admin_port}/config/", timeout=5)

    # An app on a project overlay reaches the proxy's HTTP port there, not its admin API (at neither of
    # the container's addresses).
    networks = engine.containers.get(NAME).attrs["NetworkSettings"]["Networks"]
    overlay_ip, inside_ip = networks[network.name]["IPAddress"], networks[NAME]["IPAddress"]
    http_port = proxy.published["http"][1]
    probe = (
        "import socket, sys\n"
        "for host, port in [(a, int(p)) for a, p in (x.rsplit(':', 1) for x in sys.argv[1:])]:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=3).close(); print(host, port, 'open')\n"
        "    except OSError:\n"
        "        print(host, port, 'closed')\n"
    )
    output = engine.containers.run(
        ensure_python_image(engine), ["python3", "-c", probe, f"{overlay_ip}:{http_port}",
                                      f"{overlay_ip}:{ADMIN_PORT}", f"{inside_ip}:{ADMIN_PORT}"],
        network=network.name, remove=True,
    ).decode().split("\n")
    assert output[:3] == [f"{overlay_ip} {http_port} open", f"{overlay_ip} {ADMIN_PORT} closed",
                          f"{inside_ip} {ADMIN_PORT} closed"]


def test_a_start_first_update_under_load_fails_no_request(
    engine: docker.DockerClient, swarm: Swarm, swarm_images: dict[str, str], proxy: CaddyContainer,
) -> None:
    network = project_network(engine, swarm, "mist-test-project-update")
    service = whoami(
        swarm, swarm_images["python"], "mist-test-updated-app", network,
        update_config=docker.types.UpdateConfig(parallelism=1, order="start-first"),
    )
    swarm.running_tasks(service, 2)
    proxy.apply([Route(app_id=1, domains=(DOMAIN,), upstream=f"tasks.{service.name}:8000")])
    before = set(service_containers(swarm, service))
    seen_through(proxy, before)

    results: list[int | str] = []
    stop = threading.Event()

    def load() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                try:
                    results.append(client.get(url(proxy), headers={"Host": DOMAIN}).status_code)
                except httpx.HTTPError as error:
                    results.append(repr(error))

    worker = threading.Thread(target=load)
    worker.start()
    try:
        service.reload()
        service.force_update()
        wait_for(lambda: not set(service_containers(swarm, service)) & before
                 and len(service_containers(swarm, service)) == 2, timeout=120, what="both replicas replaced")
        swarm.running_tasks(service, 2)
        after = set(service_containers(swarm, service))
        seen_through(proxy, after)
    finally:
        stop.set()
        worker.join()
    failed = [r for r in results if r != 200]
    assert len(results) > 50 and not failed, f"{len(failed)} of {len(results)} failed: {failed[:5]}"
