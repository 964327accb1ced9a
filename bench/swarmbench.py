"""Swarm mode for the benches (`--runtime swarm`): the engine as a single-node swarm, a registry, the
proxy image, and everything Mist and the bench made on the engine undone at the end.

The pieces are the Swarm suite's (tests/support/swarm.py, tests/support/images.py): Debian's
`docker-registry` on loopback (engines trust a registry on 127.0.0.0/8 without TLS), the swarm
initialised on the docker0 address and left again only if this run made it, and a Caddy image built
from Debian's `caddy` package standing in for MIST_PROXY_IMAGE's `caddy:2`.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import docker
import docker.errors
from harness import Bench, mist_bench
from support.images import ensure_proxy_image
from support.swarm import Registry, single_node_swarm

__all__ = ["PROXY_CONTAINER", "Registry", "swarm_bench"]

PROXY_CONTAINER = "mist-proxy"  # Swarm mode's Caddy container, its network, and `-data` its volume
_APP_LABEL = "mist.app"  # on Mist's services, their task containers, plain app containers
_PROJECT_LABEL = "mist.project"  # on the project networks (overlays in Swarm mode)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def swarm_bench(workers: int = 2, **settings: str) -> Iterator[tuple[Bench, Registry]]:
    """`mist_bench` with MIST_RUNTIME=swarm on a single-node swarm, a registry and the proxy image; on
    exit (also after a failure, Ctrl-C or SIGTERM) removes Mist's services, its proxy container with its
    network and volume, the project overlays and the registry's image references, stops the registry and
    leaves the swarm if this run made it. `settings` become further MIST_* settings."""
    previous = signal.signal(signal.SIGTERM, _interrupt)  # so a `kill` runs the clean-up too
    engine = docker.from_env()
    try:
        proxy_image = ensure_proxy_image(engine)
        with single_node_swarm(engine), Registry() as registry:
            # The services of another Mist on this swarm would be taken for ours and removed at the end.
            if others := engine.services.list(filters={"label": _APP_LABEL}):
                raise SystemExit(f"services labelled {_APP_LABEL} exist ({', '.join(s.name for s in others)}): "
                                 "another Mist uses this swarm; stop it or remove them first")
            # A single-engine Mist's project networks (bridges) have the names Swarm mode gives its
            # overlays, and a service cannot use a bridge: a run that crashed may have left some.
            for network in engine.networks.list(filters={"label": _PROJECT_LABEL, "driver": "bridge"}):
                remove_network(engine, network.id)
            try:
                with mist_bench(workers=workers, teardown=remove_swarm_apps, runtime="swarm",
                                registry=registry.address, proxy_image=proxy_image,
                                health_timeout_seconds="120", **settings) as bench:
                    yield bench, registry
            finally:
                forget_registry(engine, registry.address)
    finally:
        signal.signal(signal.SIGTERM, previous)


def remove_swarm_apps(engine: docker.DockerClient) -> None:
    """What a swarm-mode Mist leaves on the engine: its app services (before their containers, or Swarm
    starts them again), its proxy container, network and volume, the project overlays, and any plain
    container labelled as an app's."""
    for service in engine.services.list(filters={"label": _APP_LABEL}):
        _quietly(service.remove)
    _wait_gone(lambda: _container_ids(engine, label=[_APP_LABEL, "com.docker.swarm.task"]),
               "the app services' containers")
    for container in _container_ids(engine, name=f"^/{PROXY_CONTAINER}$"):
        _quietly(engine.api.remove_container, container, force=True, v=True)
    for container in _container_ids(engine, label=_APP_LABEL):
        _quietly(engine.api.remove_container, container, force=True)
    remove_network(engine, PROXY_CONTAINER)
    _quietly(lambda: engine.volumes.get(f"{PROXY_CONTAINER}-data").remove(force=True))
    for volume in engine.volumes.list(filters={"name": "mist-app-"}):
        _quietly(volume.remove, force=True)
    for network in engine.networks.list(filters={"label": _PROJECT_LABEL}):
        remove_network(engine, network.id)


def remove_service(engine: docker.DockerClient, name: str) -> None:
    """Removes the service `name` if it exists and waits for its containers to go."""
    try:
        service = engine.services.get(name)
    except docker.errors.NotFound:
        return
    service_id = service.id
    _quietly(service.remove)
    _wait_gone(lambda: _container_ids(engine, label=f"com.docker.swarm.service.id={service_id}"),
               f"service {name}'s containers")


def remove_network(engine: docker.DockerClient, name: str) -> None:
    """Removes a network, waiting while the engine still counts endpoints of containers just removed."""
    deadline = time.monotonic() + 30
    while True:
        try:
            engine.networks.get(name).remove()
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as error:
            if time.monotonic() > deadline or not ("in use" in str(error) or "active endpoints" in str(error)):
                print(f"bench: could not remove network {name}: {error}", flush=True)
                return
        time.sleep(0.5)


def forget_registry(engine: docker.DockerClient, address: str) -> None:
    """Removes the engine's references to images in the registry at `address` (`127.0.0.1:PORT/...`,
    a new port each run): only the references, the images keep their own tags."""
    prefix = f"{address}/"
    for image in engine.images.list():
        for reference in [*(image.attrs.get("RepoTags") or ()), *(image.attrs.get("RepoDigests") or ())]:
            if reference.startswith(prefix):
                _quietly(engine.images.remove, reference, noprune=True)


def _container_ids(engine: docker.DockerClient, **filters: str | list[str]) -> list[str]:
    """Ids only: the SDK's `containers.list` inspects each one, and fails on one Swarm removed meanwhile."""
    return [c["Id"] for c in engine.api.containers(all=True, filters=filters)]


def _wait_gone(remaining: Callable[[], list], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while remaining():
        if time.monotonic() > deadline:
            print(f"bench: {what} were still there after {timeout:g} s", flush=True)
            return
        time.sleep(0.2)


def _quietly(action: Callable[..., object], *args: object, **kwargs: object) -> None:
    """Runs a clean-up step; one that fails is reported and the clean-up goes on."""
    try:
        action(*args, **kwargs)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as error:
        print(f"bench: clean-up step failed: {error}", flush=True)
