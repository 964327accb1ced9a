"""Caddy as Mist's reverse proxy, driven through its admin API.

Each web app's domains route to the app's current container, an upstream "IP:PORT" on the Docker
bridge. Mist owns the whole config of the Caddy it talks to: `apply` replaces it in one `POST /load`,
built from the routes in Mist's database. That is why Caddy keeps no config of its own
(`admin.config.persist: false`): after a Caddy restart, `in_sync` is False and Mist applies again.

Caddy runs as a separate process in its own session, so restarting or killing Mist leaves the sites
up; `ensure_running` adopts a Caddy that already answers on the admin address.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from mist.errors import InvalidInput, ProxyError

SERVER_NAME = "mist"
ROUTE_ID_PREFIX = "mist-app-"
DASHBOARD_ROUTE_ID = "mist-dashboard"

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_PORT = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})")


def covers(domain: str, host: str) -> bool:
    """Whether a route for `domain` would take requests for `host` (a normalized name), compared as
    browsers and Caddy do: without case, a trailing dot ignored. Wildcards are never valid domains."""
    return domain.strip().lower().rstrip(".") == host


def validate_domain(name: str) -> str:
    """The normalized (lowercase) host name, or InvalidInput. Single labels like "localhost" are fine."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("domain: must not be empty")
    # Checked before lowercasing: some non-ASCII letters (the Kelvin sign) lowercase to ASCII ones.
    if not name.isascii():
        raise InvalidInput(f"domain: {name!r} must be ASCII (write international names as xn--...)")
    lowered = name.lower()
    if len(lowered) > 253:
        raise InvalidInput(f"domain: {name[:40]!r}... is longer than 253 characters")
    labels = lowered.split(".")
    for label in labels:
        if not label:
            raise InvalidInput(f"domain: {name!r} has an empty label (leading, trailing or double dot)")
        if len(label) > 63:
            raise InvalidInput(f"domain: {name!r} has a label longer than 63 characters")
        if not _LABEL.fullmatch(label):
            raise InvalidInput(
                f"domain: {name!r} may contain only letters, digits, hyphens and dots, "
                "and a label may not start or end with a hyphen"
            )
    # An all-digit last label is an IPv4 address (or garbage): routing a bare IP would capture
    # every request addressed to the server by IP.
    if labels[-1].isdigit():
        raise InvalidInput(f"domain: {name!r} looks like an IP address, not a domain")
    return lowered


def validate_upstream(upstream: str) -> str:
    """An upstream is Caddy's "dial" address: "HOST:PORT" or "[IPv6]:PORT"."""
    match = _HOST_PORT.fullmatch(upstream) if isinstance(upstream, str) else None
    if match is None or not upstream.rpartition(":")[0] or not 0 < int(match.group(1)) < 65536:
        raise InvalidInput(f"upstream: {upstream!r} is not HOST:PORT")
    return upstream


def _port(address: str) -> int:
    match = _HOST_PORT.fullmatch(address)
    if match is None or not 0 < int(match.group(1)) < 65536:
        raise InvalidInput(f"listen address: {address!r} is not [HOST]:PORT")
    return int(match.group(1))


@dataclass(frozen=True)
class Route:
    """One web app's domains and the container they go to. Validated and normalized on creation."""

    app_id: int
    domains: tuple[str, ...]  # host names matched exactly (Host header), lowercase
    upstream: str  # "172.17.0.5:8000"

    def __post_init__(self) -> None:
        if isinstance(self.app_id, bool) or not isinstance(self.app_id, int) or self.app_id < 1:
            raise InvalidInput(f"app id: {self.app_id!r} is not a positive integer")
        if isinstance(self.domains, str) or not self.domains:
            raise InvalidInput("domain: a route needs a tuple of at least one domain")
        domains = tuple(dict.fromkeys(validate_domain(d) for d in self.domains))
        object.__setattr__(self, "domains", domains)
        object.__setattr__(self, "upstream", validate_upstream(self.upstream))

    @property
    def route_id(self) -> str:
        return f"{ROUTE_ID_PREFIX}{self.app_id}"


def _default_state_dir() -> Path:
    from mist.config import Settings  # noqa: PLC0415 - only when the caller did not say

    return Settings().data_dir / "caddy"


class CaddyProxy:
    """One Caddy, reached at `admin` ("HOST:PORT"; keep it on loopback: the API has no auth).

    Plain mode (tls=False): server "mist" listens on `listen` and serves HTTP only.
    TLS mode (tls=True): server "mist" listens on `https_listen` only, and Caddy's automatic HTTPS
    gets certificates for every routed domain and adds its own server on `listen`'s port for ACME
    HTTP challenges and HTTP->HTTPS redirects. Not one server on both ports: Caddy would append its
    redirects after Mist's terminal routes there, so apps would be served in cleartext on port 80.
    """

    def __init__(
        self,
        admin: str = "127.0.0.1:2019",
        listen: str = ":80",
        tls: bool = False,
        state_dir: Path | None = None,
        *,
        https_listen: str = ":443",
        caddy_bin: str = "caddy",
        start_timeout: float = 10.0,
        request_timeout: float = 10.0,
        dashboard: tuple[str, str] | None = None,
    ) -> None:
        if "/" in admin or not _HOST_PORT.fullmatch(admin) or not admin.rpartition(":")[0]:
            raise InvalidInput(f"admin address: {admin!r} is not HOST:PORT")
        self.admin = admin
        self.listen = listen
        self.https_listen = https_listen
        self.tls = tls
        self._http_port = _port(listen)
        self._https_port = _port(https_listen)
        self.state_dir = state_dir if state_dir is not None else _default_state_dir()
        self.caddy_bin = caddy_bin
        # (host name, Mist's own address): the dashboard served on its own host name through this
        # Caddy, with a certificate in TLS mode, so its cookies never share a host with an app.
        self.dashboard = (validate_domain(dashboard[0]), validate_upstream(dashboard[1])) if dashboard else None
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        """The pid of the Caddy this object started; None if it adopted one (or started none)."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path:
        return self.state_dir / "caddy.log"

    # -- the config -------------------------------------------------------------------------------

    def config(self, routes: Sequence[Route]) -> dict[str, Any]:
        """Caddy's whole config for these routes: what `apply` loads and `in_sync` compares with."""
        seen_apps: set[int] = set()
        owner: dict[str, int] = {}
        for route in routes:
            if route.app_id in seen_apps:
                raise InvalidInput(f"app id: {route.app_id} has more than one route")
            seen_apps.add(route.app_id)
            for domain in route.domains:
                if owner.setdefault(domain, route.app_id) != route.app_id:
                    raise InvalidInput(
                        f"domain: {domain} is used by apps {owner[domain]} and {route.app_id}"
                    )
        server: dict[str, Any] = {
            "listen": [self.https_listen if self.tls else self.listen],
            "routes": [self._app_route(r) for r in sorted(routes, key=lambda r: r.app_id)],
        }
        if self.dashboard is not None:
            host, upstream = self.dashboard
            if host in owner:  # the router filters reserved hosts out; this guards the adapter too
                raise InvalidInput(f"domain: {host} is the dashboard's and cannot route to app {owner[host]}")
            server["routes"].insert(0, _proxy_json(DASHBOARD_ROUTE_ID, (host,), upstream))
        http: dict[str, Any] = {"servers": {SERVER_NAME: server}}
        apps: dict[str, Any] = {"http": http}
        if self.tls:
            http["http_port"] = self._http_port
            http["https_port"] = self._https_port
            # Single-label names ("localhost"-style) get certificates from Caddy's internal CA, and
            # Caddy would otherwise install that CA's root into the system trust store.
            apps["pki"] = {"certificate_authorities": {"local": {"install_trust": False}}}
        else:
            server["automatic_https"] = {"disable": True}
        # Every load carries the admin block: a /load without one moves the admin endpoint to
        # Caddy's default (localhost:2019), and Caddy 2.6 does not move it back if the load fails.
        return {
            "admin": {"listen": self.admin, "config": {"persist": False}},
            "storage": {"module": "file_system", "root": str(self.state_dir / "storage")},
            "apps": apps,
        }

    # -- process ----------------------------------------------------------------------------------

    def ensure_running(self) -> bool:
        """True if it started Caddy, False if one already answered on the admin address."""
        with self._lock:
            if self._answers():
                return False
            if self._process is not None:
                if self._process.poll() is None:
                    raise ProxyError(
                        f"Caddy (pid {self._process.pid}) is running but its admin API at "
                        f"{self.admin} does not answer; see {self.log_path}"
                    )
                self._process = None  # reaped: it died (crash, kill) since we started it
            self._start()
            return True

    def _start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        config_file = self.state_dir / "caddy.json"
        config_file.write_text(json.dumps(self.config([]), indent=2) + "\n")
        # Caddy's own default directories (autosave, instance id) go under state_dir, not $HOME.
        env = {**os.environ, "XDG_CONFIG_HOME": str(self.state_dir), "XDG_DATA_HOME": str(self.state_dir)}
        with open(self.log_path, "ab") as log:
            try:
                # Own session: a signal to Mist's process group (Ctrl-C, SIGKILL of the group)
                # does not reach Caddy. close_fds (the default) keeps Mist's sockets out of it.
                # Under systemd, the unit also needs KillMode=process (or Caddy its own unit)
                # for Caddy to outlive a Mist restart.
                self._process = subprocess.Popen(
                    [self.caddy_bin, "run", "--config", str(config_file)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.state_dir, env=env, start_new_session=True,
                )
            except OSError as exc:
                raise ProxyError(f"cannot start Caddy ({self.caddy_bin}): {exc}") from exc
        process = self._process
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self._process = None
                raise ProxyError(
                    f"Caddy exited with status {process.returncode} while starting: {self._log_tail()}"
                )
            if self._answers():
                return
            time.sleep(0.05)
        process.kill()
        process.wait()
        self._process = None
        raise ProxyError(
            f"Caddy did not answer on {self.admin} within {self.start_timeout:g}s: {self._log_tail()}"
        )

    def stop(self) -> None:
        """Stops the Caddy at the admin address (POST /stop) and waits for it; for tests and benches."""
        try:
            self._request("POST", "/stop")
        except ProxyError:
            pass  # already gone, or it closed the connection while exiting
        process, self._process = self._process, None
        if process is not None:
            try:
                process.wait(timeout=self.start_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            return
        deadline = time.monotonic() + self.start_timeout
        while self._answers() and time.monotonic() < deadline:
            time.sleep(0.05)

    # -- routes -----------------------------------------------------------------------------------

    def apply(self, routes: Sequence[Route]) -> None:
        """Makes Caddy's live config exactly these routes, in one request.

        POST /load of the whole config rather than PATCHing apps/http: it also works on a Caddy that
        has no http app yet (a fresh or adopted one), it restores the admin and storage settings
        Mist relies on, and Caddy applies it atomically, rolling back if the new config fails.
        Loading a config identical to the running one is a no-op in Caddy ("config is unchanged").

        A changed config makes Caddy start new servers on the same listeners and shut the old ones
        down gracefully: requests in flight on the old upstream run to completion (the http app's
        `grace_period` defaults to 0, which means wait for them indefinitely); idle keep-alive
        client connections are closed and clients reconnect.
        """
        body = self.config(routes)
        with self._lock:
            response = self._request("POST", "/load", body=body)
        self._check(response, "load the config")

    def routes(self) -> list[Route]:
        """Mist's routes in Caddy's live config, by app id; routes Mist did not write are ignored."""
        config = self._live_config()
        try:
            server = config.get("apps", {}).get("http", {}).get("servers", {}).get(SERVER_NAME) or {}
            raw_routes = server.get("routes") or []
        except AttributeError as exc:
            raise ProxyError(f"Caddy's config has an unexpected shape: {exc}") from exc
        found = []
        for raw in raw_routes:
            route_id = raw.get("@id", "") if isinstance(raw, dict) else ""
            if not isinstance(route_id, str) or not route_id.startswith(ROUTE_ID_PREFIX):
                continue
            try:
                found.append(Route(
                    app_id=int(route_id.removeprefix(ROUTE_ID_PREFIX)),
                    domains=tuple(raw["match"][0]["host"]),
                    upstream=self._upstream_of(raw["handle"][0]),
                ))
            except (KeyError, IndexError, TypeError, ValueError, InvalidInput) as exc:
                raise ProxyError(f"Caddy's route {route_id} is not one Mist wrote: {exc}") from exc
        return sorted(found, key=lambda r: r.app_id)

    def _app_route(self, route: Route) -> dict[str, Any]:
        """An app's route in Caddy's config; subclasses that reach apps differently override it with
        `_upstream_of`, its inverse."""
        return _route_json(route)

    @staticmethod
    def _upstream_of(handler: Any) -> str:
        """The upstream `_app_route` wrote into an app route's reverse_proxy handler."""
        dial: str = handler["upstreams"][0]["dial"]
        return dial

    def in_sync(self, routes: Sequence[Route]) -> bool:
        """Whether Caddy's whole live config is what `apply(routes)` would load (routes, listeners, TLS)."""
        return self._live_config() == self.config(routes)

    # -- admin API --------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        # A fresh connection per call: Caddy restarts its admin server on every config change,
        # closing the idle keep-alive connections a pooled client would try to reuse.
        # No Origin header: Caddy enforces it only with admin.enforce_origin; it always checks
        # that Host is the admin address (or localhost/127.0.0.1/[::1] with its port), which
        # httpx sends since the URL is built from that address.
        timeout = httpx.Timeout(self.request_timeout, connect=2.0)
        try:
            with httpx.Client(timeout=timeout) as client:
                if body is None:
                    return client.request(method, f"http://{self.admin}{path}")
                return client.request(method, f"http://{self.admin}{path}", json=body)
        except httpx.HTTPError as exc:
            raise ProxyError(f"Caddy admin API at {self.admin}: {method} {path} failed: {exc}") from exc

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        try:
            detail = response.json().get("error") or response.text
        except (ValueError, AttributeError):
            detail = response.text
        raise ProxyError(f"Caddy refused to {what} (HTTP {response.status_code}): {str(detail).strip()}")

    def _live_config(self) -> dict[str, Any]:
        response = self._request("GET", "/config/")
        self._check(response, "return its config")
        try:
            config = response.json()
        except ValueError as exc:
            raise ProxyError(f"Caddy returned a config that is not JSON: {exc}") from exc
        return config if isinstance(config, dict) else {}  # null: Caddy runs with no config

    def _answers(self) -> bool:
        try:
            response = httpx.get(f"http://{self.admin}/config/", timeout=2.0)
            response.json()
        except (httpx.HTTPError, ValueError):
            return False
        return response.status_code == 200

    def _log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - 8192))
                tail = log.read().decode(errors="replace").splitlines()[-lines:]
        except OSError:
            return f"(no log at {self.log_path})"
        return "\n".join(tail) or f"(empty log at {self.log_path})"


def _route_json(route: Route) -> dict[str, Any]:
    return _proxy_json(route.route_id, route.domains, route.upstream)


def _proxy_json(route_id: str, hosts: Sequence[str], upstream: str) -> dict[str, Any]:
    # reverse_proxy defaults on purpose: the client's Host header passes through (X-Forwarded-*
    # added), and without lb_try_duration a stopped container fails fast with 502 instead of
    # holding requests.
    return {
        "@id": route_id,
        "match": [{"host": list(hosts)}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": upstream}]}],
        "terminal": True,
    }


class Caddy:
    """The proxy as the router uses it, from the event loop: CaddyProxy's blocking admin calls each
    on a thread (the one place routing bridges to threads)."""

    def __init__(self, proxy: CaddyProxy) -> None:
        self.proxy = proxy
        self.admin = proxy.admin

    async def ensure_running(self) -> bool:
        return await asyncio.to_thread(self.proxy.ensure_running)

    async def apply(self, routes: Sequence[Route]) -> None:
        await asyncio.to_thread(self.proxy.apply, routes)

    async def in_sync(self, routes: Sequence[Route]) -> bool:
        return await asyncio.to_thread(self.proxy.in_sync, routes)
