"""CaddyProxy against a real Caddy and real HTTP upstreams, all on loopback."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from mist.errors import InvalidInput, ProxyError
from mist.proxy import CaddyProxy, Route, validate_domain

needs_caddy = pytest.mark.skipif(shutil.which("caddy") is None, reason="needs the caddy binary")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Upstream:
    """A tiny HTTP server answering every GET with a fixed body."""

    def __init__(self, body: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.body = body
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    one, two = Upstream(b"upstream one"), Upstream(b"upstream two")
    yield one, two
    one.close()
    two.close()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def cleanup() -> Iterator[tuple[list[CaddyProxy], list[int]]]:
    """Every Caddy a test touches is stopped afterwards, pass or fail; pids are SIGKILLed if need be."""
    proxies: list[CaddyProxy] = []
    pids: list[int] = []
    yield proxies, pids
    for proxy in proxies:
        if proxy.pid is not None:
            pids.append(proxy.pid)
        try:
            proxy.stop()
        except Exception:  # noqa: BLE001 - teardown must reach the kills below
            pass
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def make_proxy(tmp_path: Path, cleanup: tuple[list[CaddyProxy], list[int]]):
    def make(**kwargs: object) -> CaddyProxy:
        kwargs.setdefault("admin", f"127.0.0.1:{free_port()}")
        kwargs.setdefault("listen", f"127.0.0.1:{free_port()}")
        kwargs.setdefault("state_dir", tmp_path / "caddy")
        proxy = CaddyProxy(**kwargs)  # type: ignore[arg-type]
        cleanup[0].append(proxy)
        return proxy

    return make


@pytest.fixture
def proxy(make_proxy) -> CaddyProxy:
    proxy = make_proxy()
    assert proxy.ensure_running() is True
    return proxy


def fetch(proxy: CaddyProxy, host: str) -> httpx.Response:
    return httpx.get(f"http://{proxy.listen}/", headers={"Host": host}, timeout=5)


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def admin_down(proxy: CaddyProxy) -> bool:
    try:
        httpx.get(f"http://{proxy.admin}/config/", timeout=1)
    except httpx.HTTPError:
        return True
    return False


@needs_caddy
def test_routes_follow_apply(proxy: CaddyProxy, upstreams: tuple[Upstream, Upstream]) -> None:
    one, two = upstreams
    first = [Route(app_id=1, domains=("a.test",), upstream=one.address)]
    proxy.apply(first)

    assert fetch(proxy, "a.test").content == b"upstream one"
    assert fetch(proxy, "A.Test").content == b"upstream one"  # Host matching ignores case
    unknown = fetch(proxy, "unknown.test")
    # Caddy 2.6 answers a request no route matches with an empty 200.
    assert (unknown.status_code, unknown.content) == (200, b"")
    assert proxy.routes() == first
    assert proxy.in_sync(first)

    second = [
        Route(app_id=1, domains=("a.test",), upstream=two.address),
        Route(app_id=2, domains=("b.test", "www.b.test"), upstream=one.address),
    ]
    assert not proxy.in_sync(second)
    proxy.apply(second)
    assert fetch(proxy, "a.test").content == b"upstream two"
    assert fetch(proxy, "www.b.test").content == b"upstream one"
    assert proxy.routes() == second
    assert proxy.in_sync(second)
    assert not proxy.in_sync(first)

    proxy.apply(second)  # identical config: Caddy skips the reload
    assert proxy.in_sync(second)
    proxy.apply([])
    assert proxy.routes() == []
    assert fetch(proxy, "a.test").content == b""


@needs_caddy
def test_config_shape(proxy: CaddyProxy, upstreams: tuple[Upstream, Upstream]) -> None:
    route = Route(app_id=7, domains=("shop.example.com",), upstream=upstreams[0].address)
    proxy.apply([route])
    live = httpx.get(f"http://{proxy.admin}/config/", timeout=5).json()
    server = live["apps"]["http"]["servers"]["mist"]
    assert live["admin"]["listen"] == proxy.admin
    assert server["listen"] == [proxy.listen]
    assert server["automatic_https"] == {"disable": True}
    assert server["routes"] == [{
        "@id": "mist-app-7",
        "match": [{"host": ["shop.example.com"]}],
        "handle": [{"handler": "reverse_proxy", "upstreams": [{"dial": upstreams[0].address}]}],
        "terminal": True,
    }]


@needs_caddy
def test_second_proxy_adopts_running_caddy(
    proxy: CaddyProxy, make_proxy, upstreams: tuple[Upstream, Upstream]
) -> None:
    routes = [Route(app_id=3, domains=("a.test",), upstream=upstreams[0].address)]
    proxy.apply(routes)

    other = make_proxy(admin=proxy.admin, listen=proxy.listen, state_dir=proxy.state_dir)
    assert other.ensure_running() is False
    assert other.pid is None
    assert other.routes() == routes
    assert other.in_sync(routes)
    assert proxy.ensure_running() is False  # and the first one still sees its own Caddy


@needs_caddy
def test_killed_caddy_is_restarted_and_needs_apply(
    proxy: CaddyProxy, upstreams: tuple[Upstream, Upstream]
) -> None:
    routes = [Route(app_id=1, domains=("a.test",), upstream=upstreams[0].address)]
    proxy.apply(routes)
    old_pid = proxy.pid
    assert old_pid is not None

    os.kill(old_pid, signal.SIGKILL)
    wait_until(lambda: admin_down(proxy))
    with pytest.raises(ProxyError):
        proxy.routes()

    assert proxy.ensure_running() is True
    assert proxy.pid not in (None, old_pid)
    assert not proxy.in_sync(routes)
    assert proxy.routes() == []
    assert fetch(proxy, "a.test").content == b""

    proxy.apply(routes)
    assert proxy.in_sync(routes)
    assert fetch(proxy, "a.test").content == b"upstream one"


@needs_caddy
def test_caddy_outlives_a_sigkilled_mist_process_group(
    make_proxy, cleanup: tuple[list[CaddyProxy], list[int]], tmp_path: Path
) -> None:
    adopter = make_proxy()
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from mist.proxy import CaddyProxy
        proxy = CaddyProxy(admin={adopter.admin!r}, listen={adopter.listen!r},
                           state_dir=Path({str(adopter.state_dir)!r}))
        assert proxy.ensure_running()
        print(proxy.pid, flush=True)
        time.sleep(60)
    """)
    # The stand-in for Mist leads its own process group, so killing the group spares pytest.
    mist = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert mist.stdout is not None
        caddy_pid = int(mist.stdout.readline())
        cleanup[1].append(caddy_pid)
        os.killpg(mist.pid, signal.SIGKILL)
        assert mist.wait(timeout=10) == -signal.SIGKILL
    finally:
        if mist.poll() is None:
            mist.kill()
            mist.wait()
        if mist.stdout is not None:
            mist.stdout.close()

    assert _alive(caddy_pid)
    assert adopter.ensure_running() is False
    assert adopter.in_sync([])


@needs_caddy
def test_tls_mode_config_is_accepted(make_proxy, upstreams: tuple[Upstream, Upstream]) -> None:
    proxy = make_proxy(tls=True, https_listen=f"127.0.0.1:{free_port()}")
    assert proxy.ensure_running() is True
    routes = [Route(app_id=1, domains=("a.example.com",), upstream=upstreams[0].address)]
    proxy.apply(routes)  # Caddy tries (and here fails) to get a certificate in the background
    assert proxy.in_sync(routes)
    assert proxy.routes() == routes

    live = httpx.get(f"http://{proxy.admin}/config/", timeout=5).json()
    server = live["apps"]["http"]["servers"]["mist"]
    assert server["listen"] == [proxy.https_listen]
    assert "automatic_https" not in server
    # Plain HTTP on `listen` is now Caddy's automatic redirect server, not the app.
    response = fetch(proxy, "a.example.com")
    assert response.status_code == 308
    assert response.headers["location"].startswith("https://a.example.com")


@needs_caddy
def test_start_failure_reports_caddys_log(make_proxy) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proxy = make_proxy(listen=f"127.0.0.1:{busy.getsockname()[1]}")
        with pytest.raises(ProxyError, match="address already in use"):
            proxy.ensure_running()
    assert proxy.pid is None


def test_unreachable_admin_api_is_a_proxy_error(tmp_path: Path) -> None:
    proxy = CaddyProxy(admin=f"127.0.0.1:{free_port()}", listen="127.0.0.1:1", state_dir=tmp_path)
    route = Route(app_id=1, domains=("a.test",), upstream="127.0.0.1:9")
    with pytest.raises(ProxyError, match="admin API"):
        proxy.apply([route])
    with pytest.raises(ProxyError):
        proxy.in_sync([route])


def test_conflicting_routes_are_refused(tmp_path: Path) -> None:
    proxy = CaddyProxy(admin="127.0.0.1:1", listen="127.0.0.1:2", state_dir=tmp_path)
    with pytest.raises(InvalidInput, match="a.test is used by apps 1 and 2"):
        proxy.config([Route(1, ("a.test",), "127.0.0.1:80"), Route(2, ("A.test",), "127.0.0.1:81")])
    with pytest.raises(InvalidInput, match="more than one route"):
        proxy.config([Route(1, ("a.test",), "127.0.0.1:80"), Route(1, ("b.test",), "127.0.0.1:81")])


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("app.example.com", "app.example.com"),
        ("App.Example.COM", "app.example.com"),
        ("localhost", "localhost"),
        ("my-app", "my-app"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("a1.b2", "a1.b2"),
        ("x" * 63 + ".com", "x" * 63 + ".com"),
    ],
)
def test_validate_domain_accepts(name: str, expected: str) -> None:
    assert validate_domain(name) == expected


@pytest.mark.parametrize(
    "name",
    [
        "",
        "*",
        "*.example.com",
        ".example.com",
        "example.com.",
        "a..b",
        "-app.example.com",
        "app-.example.com",
        "app_1.example.com",
        "app example.com",
        "example.com:80",
        "http://example.com",
        "x" * 64 + ".com",
        ".".join(["a" * 63] * 4),  # 255 characters
        "1.2.3.4",
        "127.0.0.1",
        "bücher.example",
        "\u212aelvin.example",  # the Kelvin sign lowercases to an ASCII "k"
    ],
)
def test_validate_domain_refuses(name: str) -> None:
    with pytest.raises(InvalidInput, match="^domain: "):
        validate_domain(name)


@pytest.mark.parametrize("upstream", ["", "172.17.0.5", "172.17.0.5:0", "172.17.0.5:70000", ":80",
                                      "http://172.17.0.5:80", "a b:80"])
def test_route_refuses_bad_upstreams(upstream: str) -> None:
    with pytest.raises(InvalidInput, match="^upstream: "):
        Route(app_id=1, domains=("a.test",), upstream=upstream)


def test_route_normalizes_domains() -> None:
    route = Route(app_id=1, domains=("A.test", "a.TEST", "b.test"), upstream="[::1]:8000")
    assert route.domains == ("a.test", "b.test")
    with pytest.raises(InvalidInput):
        Route(app_id=1, domains="a.test", upstream="127.0.0.1:80")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Route(app_id=0, domains=("a.test",), upstream="127.0.0.1:80")


def test_the_dashboard_route_comes_first_and_no_app_may_share_its_host(tmp_path: Path) -> None:
    proxy = CaddyProxy(state_dir=tmp_path, dashboard=("Mist.Example.com", "127.0.0.1:8080"))
    app = Route(app_id=1, domains=("shop.example.com",), upstream="10.0.0.2:8000")
    routes = proxy.config([app])["apps"]["http"]["servers"]["mist"]["routes"]
    assert [(r["@id"], r["match"][0]["host"]) for r in routes] == [
        ("mist-dashboard", ["mist.example.com"]), ("mist-app-1", ["shop.example.com"]),
    ]
    clash = Route(app_id=2, domains=("mist.example.com",), upstream="10.0.0.3:8000")
    with pytest.raises(InvalidInput, match="dashboard"):
        proxy.config([clash])
