"""Docker Swarm for the tests: a registry, a single-node swarm on the test engine, and a second node.

The engine is shared with every other Docker suite, so whatever is made here is undone here: the swarm
is left only if these helpers initialised it, and the services, configs, networks and node labels they
created are removed even when a test fails.

Measured on the test machines (issue 13): no IPVS, so neither the ingress routing mesh nor service VIPs
work; services in `dnsrr` endpoint mode and ports published in host mode do. `--privileged` is refused,
so the second node runs with the capabilities `worker_node` names.

The registry: service specs name images by one reference every node pulls, `127.0.0.1:PORT/...@sha256:`.
Engines trust a registry on 127.0.0.0/8 without TLS by default, so the test engine pushes and pulls over
plain HTTP with no change to its configuration. The second node is a container with a loopback of its
own: a socat there relays its 127.0.0.1:PORT to the host's docker0 address, where a second socat on the
host relays to the registry (which listens on loopback only).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import docker
import docker.errors
import docker.types
import httpx
from docker.models.configs import Config
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.services import Service
from support.cluster import wait_for

# Spec label of a swarm these helpers initialised: one a crashed run left behind is recognised and left.
SWARM_LABEL = "mist.test.swarm"
# Label on everything made here (services, networks, configs, node containers), for a human looking at leftovers.
OBJECT_LABEL = "mist.test.swarm-object"


def docker0_address(client: docker.DockerClient) -> str:
    """The host's address on the engine's default bridge: containers (and so the second node) reach the
    host there, and the swarm is advertised there."""
    config = client.networks.get("bridge").attrs["IPAM"]["Config"]
    return next(entry["Gateway"] for entry in config if "Gateway" in entry)


def _port_free_on(*hosts: str) -> int:
    """A port free on every one of `hosts` (the registry listens on one and is relayed from the other)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((hosts[0], 0))
            port: int = probe.getsockname()[1]
            try:
                for host in hosts[1:]:
                    with socket.socket() as other:
                        other.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no port free on all of {hosts}")


# --------------------------------------------------------------------------- registry


class Registry:
    """Debian's `docker-registry` (the distribution registry, v2 API) on a free loopback port with a
    storage directory and config of its own, for one test session; with `relay_host`, also reachable
    from containers at relay_host:port (through socat)."""

    def __init__(self, relay_host: str | None = None) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="mist-registry-"))
        self.relay_host = relay_host
        self.port = 0
        self.log_path = self._tmp / "registry.log"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._client: docker.DockerClient | None = None  # the engine pushes went through, cleaned on stop

    @property
    def address(self) -> str:
        """host:port as image references name it (every node reaches the registry under this name)."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        if shutil.which("docker-registry") is None:
            raise RuntimeError("docker-registry is not installed: run scripts/setup --test (Debian's package)")
        self.port = _port_free_on("127.0.0.1", *([self.relay_host] if self.relay_host else []))
        config = self._tmp / "config.yml"
        # The registry reads YAML; JSON is YAML too and needs no YAML writer.
        config.write_text(json.dumps({
            "version": 0.1,
            "log": {"level": "warn", "accesslog": {"disabled": True}},
            "storage": {"filesystem": {"rootdirectory": str(self._tmp / "storage")}, "delete": {"enabled": True}},
            "http": {"addr": f"127.0.0.1:{self.port}"},
        }))
        with open(self.log_path, "wb") as log:
            self._procs.append(subprocess.Popen(["docker-registry", "serve", str(config)],
                                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        if self.relay_host:
            with open(self._tmp / "relay.log", "wb") as log:
                self._procs.append(subprocess.Popen(
                    ["socat", f"TCP-LISTEN:{self.port},bind={self.relay_host},fork,reuseaddr",
                     f"TCP:127.0.0.1:{self.port}"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL))
        wait_for(self._answers, timeout=30, what=f"the registry on {self.address} (log: {self.log_path})")
        return self

    def _answers(self) -> bool:
        for proc in self._procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}): {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"http://{self.address}/v2/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def push(self, client: docker.DockerClient, image: str, repository: str | None = None) -> str:
        """Pushes the local `image` as <registry>/<repository> and answers its reference by digest
        (`127.0.0.1:PORT/repo@sha256:...`), the form a service spec names so every node runs it exactly.
        The tag made for the push is removed again; `stop` removes the engine's other references."""
        self._client = client
        repository = f"{self.address}/{repository or image.rpartition(':')[0]}"
        tag = "pushed"
        client.images.get(image).tag(repository, tag)
        try:
            digest = None
            for line in client.api.push(repository, tag, stream=True, decode=True):
                if "error" in line:
                    raise RuntimeError(f"docker push {repository}:{tag} failed: {line['error']}")
                digest = line.get("aux", {}).get("Digest", digest)
        finally:
            client.images.remove(f"{repository}:{tag}", noprune=True)
        if digest is None:
            raise RuntimeError(f"docker push {repository}:{tag} reported no digest")
        return f"{repository}@{digest}"

    def stop(self) -> None:
        for proc in reversed(self._procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._procs.clear()
        if self._client is not None:
            self._forget_references(self._client)
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _forget_references(self, client: docker.DockerClient) -> None:
        # Services pulled by digest leave `127.0.0.1:PORT/...@sha256:` references; the port is new each
        # session, so without this every run would add some. Only the reference goes: the image keeps its
        # own tag (noprune).
        prefix = f"{self.address}/"
        for image in client.images.list():
            for reference in [*(image.attrs.get("RepoTags") or ()), *(image.attrs.get("RepoDigests") or ())]:
                if reference.startswith(prefix):
                    try:
                        client.images.remove(reference, noprune=True)
                    except docker.errors.APIError:
                        pass  # a container still runs it (a leftover the swarm clean-up will remove)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None,
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- swarm


@dataclass
class Swarm:
    """The test engine as a swarm manager, and what the tests created on it (removed by `clean`)."""

    client: docker.DockerClient
    advertise_addr: str
    made: bool  # True: these helpers ran `swarm init` and will `swarm leave --force`
    services: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    node_labels: list[tuple[str, str]] = field(default_factory=list)  # (node id, label key)

    @property
    def manager_id(self) -> str:
        node_id: str = self.client.info()["Swarm"]["NodeID"]
        return node_id

    def join_token(self, role: str = "worker") -> str:
        self.client.swarm.reload()
        token: str = self.client.swarm.attrs["JoinTokens"][role.capitalize()]
        return token

    def network(self, name: str) -> Network:
        """An attachable overlay network (services and plain `docker run` containers can join it)."""
        network = self.client.networks.create(name, driver="overlay", attachable=True, labels={OBJECT_LABEL: "1"})
        self.networks.append(network.id)
        return network

    def config(self, name: str, data: bytes) -> Config:
        config = self.client.configs.create(name=name, data=data, labels={OBJECT_LABEL: "1"})
        self.configs.append(config.id)
        return config

    def service(self, image: str, **kwargs: Any) -> Service:
        """`client.services.create(image, **kwargs)`, remembered for the clean-up."""
        labels = {OBJECT_LABEL: "1", **kwargs.pop("labels", {})}
        service = self.client.services.create(image, labels=labels, **kwargs)
        self.services.append(service.id)
        return service

    def label_node(self, node_id: str, key: str, value: str) -> None:
        self._update_node(node_id, lambda spec: spec.setdefault("Labels", {}).__setitem__(key, value))
        self.node_labels.append((node_id, key))

    def set_availability(self, node_id: str, availability: str) -> None:
        """active, pause or drain."""
        self._update_node(node_id, lambda spec: spec.__setitem__("Availability", availability))

    def _update_node(self, node_id: str, change: Any) -> None:
        # The update must carry the node's current version: retry when a heartbeat bumped it meanwhile.
        for attempt in range(5):
            node = self.client.nodes.get(node_id)
            spec = dict(node.attrs["Spec"])
            change(spec)
            try:
                node.update(spec)
                return
            except docker.errors.APIError as error:
                if "update out of sequence" not in str(error) or attempt == 4:
                    raise

    def running_tasks(self, service: Service, count: int, timeout: float = 120) -> list[dict[str, Any]]:
        """Waits until `service` has exactly `count` running tasks (none starting or stopping) and answers
        them; names the tasks' last errors on timeout."""

        def settled() -> list[dict[str, Any]] | None:
            tasks = [t for t in service.tasks() if t["DesiredState"] == "running"]
            running = [t for t in tasks if t["Status"]["State"] == "running"]
            return running if len(running) == count == len(tasks) else None

        try:
            return wait_for(settled, timeout=timeout, what=f"{count} running tasks of {service.name}", every=0.5)
        except AssertionError as error:
            states = [(t.get("NodeID", "")[:12], t["Status"]["State"], t["Status"].get("Err", ""))
                      for t in service.tasks()]
            raise AssertionError(f"{error}; tasks (node, state, error): {states}") from None

    def clean(self) -> None:
        """Removes what the tests created here, oldest last; each step waits for the engine to let go."""
        for service_id in reversed(self.services):
            try:
                self.client.services.get(service_id).remove()
            except docker.errors.NotFound:
                pass
        # Task containers go asynchronously; networks and configs in use cannot be removed before.
        wait_for(lambda: not self._task_containers(set(self.services)), timeout=60,
                 what="the test services' containers to be removed")
        self.services.clear()
        for config_id in reversed(self.configs):
            _remove_when_free(lambda config_id=config_id: self.client.configs.get(config_id).remove())
        self.configs.clear()
        for network_id in reversed(self.networks):
            _remove_when_free(lambda network_id=network_id: self.client.networks.get(network_id).remove())
        self.networks.clear()
        for node_id, key in reversed(self.node_labels):
            try:
                self._update_node(node_id, lambda spec, key=key: (spec.get("Labels") or {}).pop(key, None))
            except docker.errors.NotFound:
                pass  # a node a test removed
        self.node_labels.clear()

    def _task_containers(self, service_ids: set[str] | None = None) -> list[Container]:
        found = self.client.containers.list(all=True, filters={"label": "com.docker.swarm.service.id"})
        return [c for c in found if service_ids is None or c.labels["com.docker.swarm.service.id"] in service_ids]


def _remove_when_free(remove: Any, timeout: float = 30) -> None:
    def removed() -> bool:
        try:
            remove()
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as error:
            if "in use" in str(error) or "active endpoints" in str(error):
                return False
            raise
        return True

    wait_for(removed, timeout=timeout, what="a network or config to be free for removal", every=0.5)


@contextmanager
def single_node_swarm(client: docker.DockerClient) -> Iterator[Swarm]:
    """The test engine as a swarm manager advertised on its docker0 address. Uses a swarm the engine is
    already in (then leaves it so, removing only what the tests created), else initialises one and, at the
    end, leaves it with --force and removes what `swarm init` left behind (the docker_gwbridge network)."""
    info = client.info()["Swarm"]
    if info["LocalNodeState"] not in ("inactive", "active"):
        raise RuntimeError(f"the engine's swarm state is {info['LocalNodeState']!r}: fix it by hand")
    made = False
    if info["LocalNodeState"] == "active":
        if not info.get("ControlAvailable"):
            raise RuntimeError("the test engine is a swarm worker: the swarm tests need a manager")
        client.swarm.reload()
        # A swarm a crashed run of these helpers left: theirs to leave.
        made = SWARM_LABEL in (client.swarm.attrs["Spec"].get("Labels") or {})
    had_gwbridge = bool(client.networks.list(names=["docker_gwbridge"]))
    address = docker0_address(client)
    if info["LocalNodeState"] == "inactive":
        client.swarm.init(advertise_addr=address, labels={SWARM_LABEL: "1"})
        made = True
    swarm = Swarm(client, address, made)
    try:
        yield swarm
    finally:
        try:
            swarm.clean()
        finally:
            if made:
                _leave(client, had_gwbridge)


def _leave(client: docker.DockerClient, had_gwbridge: bool) -> None:
    client.swarm.leave(force=True)
    # Leaving stops the node's tasks; their containers (ours: the engine was not in a swarm) may linger.
    for container in client.containers.list(all=True, filters={"label": "com.docker.swarm.task"}):
        try:
            container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
    if not had_gwbridge:
        for network in client.networks.list(names=["docker_gwbridge"]):
            _remove_when_free(network.remove)


# --------------------------------------------------------------------------- second node


@dataclass
class WorkerNode:
    """A second Docker engine in a container, joined to the swarm as a worker."""

    id: str  # the swarm node id
    hostname: str
    container: Container

    def docker(self, *args: str) -> str:
        """Runs the docker CLI against the node's own engine; answers its output, raising on failure."""
        code, output = self.container.exec_run(["docker", *args])
        text: str = output.decode(errors="replace")
        if code != 0:
            raise RuntimeError(f"docker {' '.join(args)} on {self.hostname} failed ({code}): {text.strip()}")
        return text


@contextmanager
def worker_node(
    swarm: Swarm, registry: Registry, image: str, name: str = "mist-test-swarm-worker",
) -> Iterator[WorkerNode]:
    """Starts `image` (support.images.ensure_node_image) as a container running its own dockerd and joins it
    to `swarm` as a worker named `name`; on exit drains it, takes it out of the swarm and removes it.

    Recipe measured on the test machines: `--privileged` is refused ("unable to apply caps"); these
    capabilities with seccomp and AppArmor unconfined and the host's cgroup tree suffice. The node's images
    live in its container (vfs storage: no overlay inside overlay), so they go with it. It pulls from the
    registry under the address the manager uses, relayed to the host (see the module docstring)."""
    client = swarm.client
    # The relay is the node's own process, started before the engine that needs it.
    script = (f"socat TCP-LISTEN:{registry.port},bind=127.0.0.1,fork,reuseaddr"
              f" TCP:{registry.relay_host}:{registry.port} & exec dockerd --storage-driver vfs")
    for stale in client.containers.list(all=True, filters={"name": f"^/{name}$"}):
        stale.remove(force=True, v=True)  # a crashed run's; its node entry is cleaned below as down
    container = client.containers.run(
        image, ["sh", "-c", script], name=name, hostname=name, detach=True, labels={OBJECT_LABEL: "1"},
        cap_add=["SYS_ADMIN", "NET_ADMIN"], security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
    )
    node_id = ""
    try:
        node = WorkerNode("", name, container)
        wait_for(lambda: _engine_up(node), timeout=60, what=f"the engine in {name}", every=0.5)
        node.docker("swarm", "join", "--token", swarm.join_token("worker"), f"{swarm.advertise_addr}:2377")
        node_id = node.docker("info", "--format", "{{.Swarm.NodeID}}").strip()
        node.id = node_id
        wait_for(lambda: client.nodes.get(node_id).attrs["Status"]["State"] == "ready", timeout=60,
                 what=f"{name} to be ready in the swarm")
        yield node
    finally:
        _remove_worker(swarm, container, node_id, name)


def _engine_up(node: WorkerNode) -> bool:
    node.container.reload()
    if node.container.status == "exited":
        raise RuntimeError(f"{node.hostname} exited: {node.container.logs(tail=30).decode(errors='replace')}")
    return node.container.exec_run(["docker", "version", "--format", "{{.Server.Version}}"]).exit_code == 0


def _remove_worker(swarm: Swarm, container: Container, node_id: str, name: str) -> None:
    client = swarm.client
    try:
        if node_id:
            try:
                swarm.set_availability(node_id, "drain")
                container.exec_run(["docker", "swarm", "leave"])  # the manager sees it down at once
            except docker.errors.APIError:
                pass  # the node is gone or broken: removal with force below still applies
    finally:
        container.remove(force=True, v=True)
        # Node entries of this name: this one, and any a crashed run left behind (down by now).
        for node in client.nodes.list(filters={"name": name}):
            if node.attrs["Description"].get("Hostname") == name and node.attrs.get("Spec", {}).get("Role") == "worker":
                _retry_remove_node(client, node.id)
        if node_id:
            swarm.node_labels = [(n, k) for n, k in swarm.node_labels if n != node_id]


def _retry_remove_node(client: docker.DockerClient, node_id: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            client.api.remove_node(node_id, force=True)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def service_containers(swarm: Swarm, service: Service) -> dict[str, str]:
    """{container hostname (its short id, Docker's default): node id} of the service's running tasks."""
    return {t["Status"]["ContainerStatus"]["ContainerID"][:12]: t["NodeID"]
            for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"}


def host_port_spec(published: int, target: int) -> docker.types.EndpointSpec:
    """A port published in host mode (no routing mesh: it needs IPVS), on a `dnsrr` service (no VIP)."""
    return docker.types.EndpointSpec(mode="dnsrr", ports={published: (target, "tcp", "host")})
