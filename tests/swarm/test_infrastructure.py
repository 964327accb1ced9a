"""The Swarm test infrastructure, and the design Mist's Swarm mode stands on, shown to work on this engine:
images pulled by digest from the test registry, `dnsrr` services reached on every replica by name over an
attachable overlay (no VIP: it needs IPVS), Caddy as a global service with a port published in host mode
(no routing mesh) proxying to them, and a second node whose replicas Caddy reaches and whose drain moves
them to the manager."""

from __future__ import annotations

import json
from typing import Any

import docker
import docker.types
import httpx
import pytest
from docker.models.networks import Network
from docker.models.services import Service
from support.cluster import wait_for
from support.images import ensure_python_image
from support.server import free_port
from support.swarm import Registry, Swarm, WorkerNode, host_port_spec, service_containers

pytestmark = [pytest.mark.docker, pytest.mark.swarm]

# Answers every GET with the container's hostname: Docker's default, the container's short id. As PID 1 it
# must exit on SIGTERM itself (the kernel ignores unhandled signals there), or each stop waits out the grace period.
WHOAMI = """
import http.server, signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = socket.gethostname().encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("", 8000), Handler).serve_forever()
"""

# Run in a container on the overlay: what `tasks.<name>` and `<name>` resolve to, and who answers.
PROBE = """
import json, socket, sys, time, urllib.request
name = sys.argv[1]
def get(host):
    for _ in range(100):  # a task is running a moment before its server listens
        try:
            return urllib.request.urlopen(f"http://{host}:8000/", timeout=5).read().decode()
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{host}:8000 never answered")
def addresses(host):
    return sorted(socket.gethostbyname_ex(host)[2])
out = {"tasks": addresses("tasks." + name), "name": addresses(name)}
out["by_address"] = sorted(get(a) for a in out["tasks"])
seen = set()
for _ in range(50):  # the engine's DNS answers the replicas in a shuffled order
    seen.add(get(socket.gethostbyname_ex(name)[2][0]))
    if len(seen) == len(out["tasks"]):
        break
out["by_name"] = sorted(seen)
print(json.dumps(out))
"""


def whoami(swarm: Swarm, image: str, name: str, network: Network, replicas: int = 2, **kwargs: Any) -> Service:
    return swarm.service(
        image, name=name, command=["python3", "-c", WHOAMI], networks=[network.id],
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        mode=docker.types.ServiceMode("replicated", replicas=replicas), **kwargs,
    )


def caddy(swarm: Swarm, image: str, name: str, network: Network, upstream: str, port: int) -> Service:
    """The in-swarm proxy as the design has it: global, attached to the overlay, its port published in
    host mode, upstreams from `tasks.<service>` DNS (Caddy 2.6's dynamic upstreams, re-resolved each
    second), its Caddyfile a swarm config. Only the `caddy` binary of the image is used."""
    caddyfile = f"""{{
    auto_https off
}}
:80 {{
    reverse_proxy {{
        dynamic a tasks.{upstream} 8000 {{
            refresh 1s
        }}
        lb_policy round_robin
        lb_try_duration 10s
    }}
}}
"""
    config = swarm.config(f"{name}-caddyfile", caddyfile.encode())
    return swarm.service(
        image, name=name, networks=[network.id], mode=docker.types.ServiceMode("global"),
        command=["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"],
        configs=[docker.types.ConfigReference(config.id, config.name, filename="/etc/caddy/Caddyfile")],
        endpoint_spec=host_port_spec(port, 80),
    )


def answers_through(url: str, expected: set[str], timeout: float = 60) -> set[str]:
    """The hostnames answering at `url` from the host, once every one of `expected` has answered."""
    seen: set[str] = set()

    def all_seen() -> bool:
        try:
            response = httpx.get(url, timeout=5)
        except httpx.HTTPError:
            return False
        if response.status_code == 200:
            seen.add(response.text)
        return expected <= seen

    try:
        wait_for(all_seen, timeout=timeout, what=f"{sorted(expected)} to answer at {url}", every=0.1)
    except AssertionError as error:
        raise AssertionError(f"{error}; answered: {sorted(seen)}") from None
    return seen


def test_a_service_runs_the_image_pushed_to_the_registry_by_digest(
    engine: docker.DockerClient, swarm: Swarm, registry: Registry,
) -> None:
    local = engine.images.get(ensure_python_image(engine))
    reference = registry.push(engine, local.tags[0], "smoke/by-digest")
    assert reference.startswith(f"{registry.address}/smoke/by-digest@sha256:")

    engine.images.pull(reference)  # a pull by digest from the registry
    assert engine.images.get(reference).id == local.id

    service = swarm.service(reference, name="mist-test-by-digest", command=["python3", "-c", WHOAMI])
    [task] = swarm.running_tasks(service, 1)
    assert task["Spec"]["ContainerSpec"]["Image"] == reference
    container = engine.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
    assert container.image.id == local.id


def test_a_dnsrr_service_is_reached_on_both_replicas_by_name_from_the_overlay(
    engine: docker.DockerClient, swarm: Swarm, swarm_images: dict[str, str],
) -> None:
    network = swarm.network("mist-test-dnsrr")
    service = whoami(swarm, swarm_images["python"], "mist-test-web", network)
    swarm.running_tasks(service, 2)
    replicas = set(service_containers(swarm, service))

    output = engine.containers.run(
        ensure_python_image(engine), ["python3", "-c", PROBE, service.name], network=network.name, remove=True,
    )
    seen = json.loads(output)
    assert len(seen["tasks"]) == 2 and seen["name"] == seen["tasks"]  # no VIP: the name is the replicas
    assert set(seen["by_address"]) == replicas
    assert set(seen["by_name"]) == replicas


def test_caddy_as_a_global_service_with_a_host_mode_port_proxies_to_every_replica(
    swarm: Swarm, swarm_images: dict[str, str],
) -> None:
    network = swarm.network("mist-test-proxied")
    service = whoami(swarm, swarm_images["python"], "mist-test-proxied-web", network)
    port = free_port()  # the engine publishes on 0.0.0.0: free on loopback, free there too but for races
    proxy = caddy(swarm, swarm_images["proxy"], "mist-test-proxy", network, service.name, port)
    swarm.running_tasks(service, 2)
    swarm.running_tasks(proxy, 1)

    replicas = set(service_containers(swarm, service))
    assert answers_through(f"http://127.0.0.1:{port}/", replicas) == replicas


def test_replicas_spread_to_the_worker_node_and_move_to_the_manager_when_it_drains(
    swarm: Swarm, worker: WorkerNode, swarm_images: dict[str, str],
) -> None:
    network = swarm.network("mist-test-two-nodes")
    service = whoami(
        swarm, swarm_images["python"], "mist-test-spread", network,
        preferences=[docker.types.PlacementPreference("spread", "node.id")],
    )
    port = free_port()  # the engine publishes on 0.0.0.0: free on loopback, free there too but for races
    proxy = caddy(swarm, swarm_images["proxy"], "mist-test-two-node-proxy", network, service.name, port)
    swarm.running_tasks(service, 2, timeout=240)  # the worker pulls the image first
    swarm.running_tasks(proxy, 2, timeout=240)

    placed = service_containers(swarm, service)
    assert sorted(placed.values()) == sorted([swarm.manager_id, worker.id])
    assert answers_through(f"http://127.0.0.1:{port}/", set(placed)) == set(placed)

    swarm.set_availability(worker.id, "drain")
    wait_for(lambda: set(service_containers(swarm, service).values()) == {swarm.manager_id}
             and len(service_containers(swarm, service)) == 2, timeout=120, what="the worker's replica to move")
    moved = service_containers(swarm, service)
    assert len(set(moved) - set(placed)) == 1  # the manager's replica stayed; the worker's was replaced
    assert answers_through(f"http://127.0.0.1:{port}/", set(moved)) >= set(moved)
