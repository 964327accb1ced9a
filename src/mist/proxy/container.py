"""Caddy in Swarm mode (MIST_RUNTIME=swarm): one plain container, `mist-proxy`, on the manager's engine.

Apps are Swarm services in `dnsrr` endpoint mode on attachable overlay networks (one per project), and
overlay addresses are not reachable from the host; the routing mesh and service VIPs would be, but they
need IPVS, which not every host has. So Caddy runs where the apps are: in a container attached to every
project overlay, dialing `tasks.mist-app-{id}`, which the engine's DNS answers with every running replica
on every node. A plain container rather than a global service: attaching a service to a new project
network restarts its tasks (every site down for a moment) while an attachable overlay takes a running
container at once, and a container can publish its admin API on the manager's loopback only (Swarm
publishes on every interface). Traffic enters the swarm through the manager node.

The admin API has no authentication, and every app on an overlay could reach a Caddy listening there.
So Caddy's admin endpoint listens only on the container's fixed address on a bridge network of its own
(named like the container); that port is published on MIST_PROXY_ADMIN's host address (loopback) only,
and `admin.origins` names MIST_PROXY_ADMIN so Caddy accepts the Host header Mist sends. The container's
first config (admin and storage, no routes) is copied into it before its first start, not mounted from
Mist's files, so it works with whatever engine Mist talks to; a restarted container comes back with its
admin API where Mist expects it and no routes (`in_sync` is False), and Mist loads them again as it
does for the Caddy process of the single-engine mode.
"""

from __future__ import annotations

import io
import ipaddress
import json
import logging
import tarfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
from docker.models.containers import Container
from docker.models.networks import Network

from mist.errors import InvalidInput, ProxyError
from mist.proxy.caddy import CaddyProxy, Route
from mist.runtime.engine import PROJECT_LABEL

log = logging.getLogger(__name__)

NAME = "mist-proxy"
ADMIN_PORT = 2019  # inside the container, on its own bridge network's address only
CONFIG_DIR = "mist-proxy"  # under /etc in the container
DATA_DIR = "/data"  # a named volume: certificates and ACME accounts outlive the container
PROXY_LABEL = "mist.proxy"
# What the container was made from (image, command, ports, first config): a change recreates it.
SPEC_LABEL = "mist.proxy.spec"
# tasks.<service> is re-resolved this often; a dial to a task that went away meanwhile is retried on
# another replica every try_interval until try_duration has passed.
DNS_REFRESH = "1s"
TRY_DURATION = "5s"
TRY_INTERVAL = "250ms"
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
_ANY_HOSTS = ("", "0.0.0.0", "::")


def _split(address: str, what: str) -> tuple[str, int]:
    """("host" or "" for every interface, port) of "[HOST]:PORT"."""
    host, _, port = address.rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"{what}: {address!r} is not [HOST]:PORT")
    return host.strip("[]"), int(port)


def _publish_ip(host: str, what: str) -> str:
    """The address the engine publishes on for `host` (an IP address; "localhost" is loopback)."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        ipaddress.ip_address(host or "0.0.0.0")
    except ValueError:
        raise InvalidInput(f"{what}: {host!r} must be an IP address to publish the proxy's port on") from None
    return host


def dashboard_route(public_host: str, mist_host: str, mist_port: int) -> tuple[str, str] | None:
    """(MIST_PUBLIC_URL's host, where the proxy container reaches Mist) for CaddyContainer's `dashboard`.

    Mist runs on the manager's host, not in a container: Mist listening on every interface is reached
    through `host.docker.internal` (the container's host-gateway), on one address at that address; Mist
    listening on loopback only cannot be reached from any container, so the dashboard is left out."""
    if not public_host:
        return None
    if mist_host in _ANY_HOSTS:
        return public_host, f"host.docker.internal:{mist_port}"
    if mist_host in _LOOPBACK_HOSTS or mist_host.startswith("127."):
        log.warning(
            "proxy: %s is not routed to the dashboard: Mist listens on %s, which the proxy container cannot "
            "reach; set MIST_HOST to an address containers reach (e.g. 0.0.0.0 behind a firewall)",
            public_host, mist_host,
        )
        return None
    return public_host, f"[{mist_host}]:{mist_port}" if ":" in mist_host else f"{mist_host}:{mist_port}"


class CaddyContainer(CaddyProxy):
    """Caddy in the container `name` on the engine `client` talks to (docker.from_env() by default),
    from `image` (MIST_PROXY_IMAGE: only its `caddy` binary is used). `listen`, `https_listen` and `admin`
    are host addresses the container's ports are published on; inside, Caddy listens on the same ports.
    Docker calls block: like every CaddyProxy method they run on the thread `Caddy` gives them."""

    def __init__(
        self,
        image: str,
        admin: str = "127.0.0.1:2019",
        listen: str = ":80",
        tls: bool = False,
        *,
        https_listen: str = ":443",
        dashboard: tuple[str, str] | None = None,
        name: str = NAME,
        client: docker.DockerClient | None = None,
        start_timeout: float = 30.0,
        request_timeout: float = 10.0,
    ) -> None:
        self.published = {
            "http": _split(listen, "listen address"),
            "https": _split(https_listen, "https listen address"),
            "admin": _split(admin, "admin address"),
        }
        if ADMIN_PORT in (self.published["http"][1], self.published["https"][1]):
            raise InvalidInput(f"listen address: port {ADMIN_PORT} is the proxy container's admin port")
        for key, (host, _) in self.published.items():
            _publish_ip(host, f"{key} address")
        super().__init__(
            admin=admin, listen=f":{self.published['http'][1]}", tls=tls, state_dir=Path(DATA_DIR),
            https_listen=f":{self.published['https'][1]}", dashboard=dashboard,
            start_timeout=start_timeout, request_timeout=request_timeout,
        )
        self.image = image
        self.name = name
        self.network_name = name
        self.volume_name = f"{name}-data"
        self._client = client
        self._inside: str | None = None  # "IP:2019": the admin address on the proxy's own network

    # -- the config -------------------------------------------------------------------------------

    def config(self, routes: Sequence[Route]) -> dict[str, Any]:
        config = super().config(routes)
        config.update(self._first_config())
        return config

    def _first_config(self) -> dict[str, Any]:
        """Admin and storage: the config the container starts with, and part of every load."""
        return {
            # origins: Caddy checks the Host header against them; Mist sends the published address.
            "admin": {"listen": self._admin_inside(), "origins": [self.admin], "config": {"persist": False}},
            "storage": {"module": "file_system", "root": f"{DATA_DIR}/caddy"},
        }

    def _app_route(self, route: Route) -> dict[str, Any]:
        # Dynamic A upstreams: the name is resolved every DNS_REFRESH, so replicas that start or stop
        # (updates, scaling, a drained node) are picked up without a config load; round robin spreads
        # requests over them, and the retries cover a replica that went away since the last lookup.
        host, _, port = route.upstream.rpartition(":")
        return {
            "@id": route.route_id,
            "match": [{"host": list(route.domains)}],
            "handle": [{
                "handler": "reverse_proxy",
                "dynamic_upstreams": {"source": "a", "name": host.strip("[]"), "port": port, "refresh": DNS_REFRESH},
                "load_balancing": {
                    "selection_policy": {"policy": "round_robin"},
                    "try_duration": TRY_DURATION,
                    "try_interval": TRY_INTERVAL,
                },
            }],
            "terminal": True,
        }

    @staticmethod
    def _upstream_of(handler: Any) -> str:
        dynamic = handler["dynamic_upstreams"]
        name, port = dynamic["name"], dynamic["port"]
        if not isinstance(name, str) or not isinstance(port, str):
            raise TypeError("dynamic upstream name and port must be strings")
        return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"

    # -- the container ----------------------------------------------------------------------------

    def ensure_running(self) -> bool:
        """True if it started the container (made, recreated, or started after a stop), False if it adopted
        a running one. A container made from another image, ports or first config is recreated."""
        # The router's watcher asks every 2 s: once this process has looked at the container, a Caddy that
        # answers is one request, as for the Caddy process (new project networks are joined by `apply`).
        if self._inside is not None and self._answers():
            return False
        with self._lock, self._engine_errors("start the proxy container"):
            client = self._docker()
            network = self._network(client, create=True)
            container = self._container(client)
            if container is not None and container.labels.get(SPEC_LABEL) != self._spec():
                log.info("proxy: recreating container %s: its image or ports changed", self.name)
                container.remove(force=True)
                container = None
            if container is None:
                container = self._create(client, network)
            started = container.status != "running"
            if started:
                container.start()
                container.reload()
            self._join_projects(client, container)
            if started or not self._answers():
                self._wait(container)
            return started

    def apply(self, routes: Sequence[Route]) -> None:
        """Joins the project networks made since the last load (a route may name an app on one), then loads."""
        with self._lock, self._engine_errors("attach the proxy to the project networks"):
            client = self._docker()
            container = self._container(client)
            if container is None or container.status != "running":
                raise ProxyError(f"the proxy container {self.name} is not running")
            self._join_projects(client, container)
        super().apply(routes)

    def stop(self, remove_data: bool = False) -> None:
        """Removes the container and its network, and with `remove_data` its volume (certificates);
        for tests and benches. (Caddy's own /stop would not do: the restart policy starts it again.)"""
        with self._lock, self._engine_errors("remove the proxy container"):
            client = self._docker()
            container = self._container(client)
            if container is not None:
                container.remove(force=True)
            try:
                client.networks.get(self.network_name).remove()
            except docker.errors.NotFound:
                pass
            self._inside = None
            if remove_data:
                try:
                    client.volumes.get(self.volume_name).remove()
                except docker.errors.NotFound:
                    pass

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.from_env()
        return self._client

    @contextmanager
    def _engine_errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except docker.errors.DockerException as exc:
            raise ProxyError(f"cannot {what}: {exc}") from exc

    def _container(self, client: docker.DockerClient) -> Container | None:
        try:
            return client.containers.get(self.name)
        except docker.errors.NotFound:
            return None

    def _spec(self) -> str:
        return json.dumps({
            "image": self.image, "command": self._command(), "ports": self._ports(), "config": self._first_config(),
        }, sort_keys=True)

    def _command(self) -> list[str]:
        return ["caddy", "run", "--config", f"/etc/{CONFIG_DIR}/caddy.json"]

    def _ports(self) -> dict[str, tuple[str, int]]:
        """Container port -> (host address, host port); the container listens on the host's port numbers."""
        names = ["http", "https", "admin"] if self.tls else ["http", "admin"]
        ports = {}
        for key in names:
            host, port = self.published[key]
            ports[f"{ADMIN_PORT if key == 'admin' else port}/tcp"] = (_publish_ip(host, key), port)
        return ports

    def _create(self, client: docker.DockerClient, network: Network) -> Container:
        address = self._admin_inside().rpartition(":")[0]
        options: dict[str, Any] = {
            "name": self.name,
            "command": self._command(),
            "labels": {PROXY_LABEL: "1", SPEC_LABEL: self._spec()},
            # As the official image: Caddy's data (certificates) under /data, its config under /config.
            "environment": {"XDG_DATA_HOME": DATA_DIR, "XDG_CONFIG_HOME": "/config"},
            "ports": self._ports(),
            "volumes": {self.volume_name: {"bind": DATA_DIR, "mode": "rw"}},
            "restart_policy": {"Name": "unless-stopped"},  # outlives Mist, comes back with the engine
            "extra_hosts": {"host.docker.internal": "host-gateway"},  # the dashboard's way to Mist
            "network": network.name,
            "networking_config": {network.name: client.api.create_endpoint_config(ipv4_address=address)},
        }
        try:
            container = client.containers.create(self.image, **options)
        except docker.errors.ImageNotFound:
            log.info("proxy: pulling %s", self.image)
            client.images.pull(self.image)
            container = client.containers.create(self.image, **options)
        log.info("proxy: created container %s from %s", self.name, self.image)
        container.put_archive("/etc", self._config_archive())
        return container

    def _config_archive(self) -> bytes:
        """A tar of /etc/mist-proxy/caddy.json: the first config, copied into the container."""
        data = json.dumps(self._first_config(), indent=2).encode() + b"\n"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            directory = tarfile.TarInfo(CONFIG_DIR)
            directory.type, directory.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(directory)
            file = tarfile.TarInfo(f"{CONFIG_DIR}/caddy.json")
            file.size, file.mode = len(data), 0o644
            tar.addfile(file, io.BytesIO(data))
        return buffer.getvalue()

    def _wait(self, container: Container) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._answers():
                return
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs["State"].get("ExitCode")
                raise ProxyError(f"the proxy container {self.name} exited ({code}) while starting: {self._log_tail()}")
            time.sleep(0.1)
        raise ProxyError(
            f"Caddy in container {self.name} did not answer on {self.admin} within {self.start_timeout:g}s: "
            f"{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 15) -> str:
        try:
            container = self._container(self._docker())
            if container is None:
                return f"(no container {self.name})"
            return container.logs(tail=lines).decode(errors="replace").strip() or "(no output)"
        except docker.errors.DockerException as exc:
            return f"(its log cannot be read: {exc})"

    # -- networks ---------------------------------------------------------------------------------

    def _admin_inside(self) -> str:
        if self._inside is None:
            with self._engine_errors("find the proxy network"):
                self._network(self._docker(), create=False)
        assert self._inside is not None
        return self._inside

    def _network(self, client: docker.DockerClient, create: bool) -> Network:
        """The proxy's own bridge network (made if `create`); remembers the container's admin address,
        the first address of its subnet after the gateway."""
        try:
            network = client.networks.get(self.network_name)
        except docker.errors.NotFound:
            if not create:
                raise ProxyError(f"the proxy network {self.network_name} does not exist yet") from None
            network = self._create_network(client)
        if PROXY_LABEL not in (network.attrs.get("Labels") or {}):
            raise ProxyError(f"a network named {self.network_name} exists that Mist did not make; remove or rename it")
        pools = network.attrs.get("IPAM", {}).get("Config") or [{}]
        subnet = ipaddress.ip_network(pools[0].get("Subnet", ""), strict=False)
        gateway = pools[0].get("Gateway")
        address = next(str(a) for a in subnet.hosts() if str(a) != gateway)
        self._inside = f"{address}:{ADMIN_PORT}"
        return network

    def _create_network(self, client: docker.DockerClient) -> Network:
        # A fixed container address needs a subnet given at creation; the engine's own choice of a free
        # one (the probe's) avoids clashing with the host's or other networks' addresses.
        labels = {PROXY_LABEL: "1"}
        probe = client.networks.create(self.network_name, driver="bridge", labels=labels)
        try:
            pool = (probe.attrs.get("IPAM", {}).get("Config") or [{}])[0]
        finally:
            probe.remove()
        subnet = ipaddress.ip_network(pool["Subnet"], strict=False)
        gateway = pool.get("Gateway") or str(next(subnet.hosts()))
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)])
        log.info("proxy: created network %s (%s)", self.network_name, subnet)
        return client.networks.create(self.network_name, driver="bridge", ipam=ipam, labels=labels)

    def _join_projects(self, client: docker.DockerClient, container: Container) -> None:
        """Connects the container to every project overlay it is not on: it reaches apps by name there."""
        joined = set(container.attrs["NetworkSettings"]["Networks"] or {})
        for network in client.networks.list(filters={"label": PROJECT_LABEL, "driver": "overlay"}):
            if network.name in joined:
                continue
            try:
                network.connect(container)
            except docker.errors.NotFound:
                continue  # the project was deleted meanwhile
            except docker.errors.APIError as exc:
                if "already exists" not in str(exc):  # another Mist process joined it meanwhile
                    raise
            log.info("proxy: joined network %s", network.name)
