"""mist.proxy.container without an engine: the config the Swarm-mode Caddy container is given (dynamic
upstreams, its admin API inside), the routes read back from it, its published ports, and the router
leaving orchestrated upstreams as recorded. The container itself: tests/swarm/test_proxy.py."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import docker.errors
import pytest
from support.fake_engine import FakeEngine

from mist.db.engine import Database
from mist.db.models import App, Deployment, Domain, Project, User
from mist.errors import InvalidInput, ProxyError
from mist.proxy.caddy import CaddyProxy, Route
from mist.proxy.container import PROXY_LABEL, CaddyContainer, dashboard_route
from mist.proxy.router import Router


class Networks:
    """The engine's networks as CaddyContainer reads them: the proxy's own one, with a subnet."""

    def __init__(self, labels: dict[str, str] | None = None) -> None:
        self.labels = {PROXY_LABEL: "1"} if labels is None else labels

    def get(self, name: str) -> Any:
        if name != "mist-proxy":
            raise docker.errors.NotFound(name)
        ipam = {"Config": [{"Subnet": "172.30.0.0/16", "Gateway": "172.30.0.1"}]}
        return SimpleNamespace(name=name, attrs={"Labels": self.labels, "IPAM": ipam})


def proxy(tls: bool = False, **kwargs: Any) -> CaddyContainer:
    client: Any = SimpleNamespace(networks=Networks())
    return CaddyContainer("caddy:2", tls=tls, client=client, **kwargs)


ROUTES = [
    Route(app_id=3, domains=("shop.example.test", "www.shop.example.test"), upstream="tasks.mist-app-3:8000"),
    Route(app_id=9, domains=("api.example.test",), upstream="tasks.mist-app-9:3000"),
]


def test_app_routes_dial_every_task_of_the_service_found_by_dns_and_retry_on_another() -> None:
    server = proxy().config(ROUTES)["apps"]["http"]["servers"]["mist"]
    assert server["listen"] == [":80"]
    route = server["routes"][0]
    assert route["@id"] == "mist-app-3" and route["match"] == [{"host": ["shop.example.test", "www.shop.example.test"]}]
    (handler,) = route["handle"]
    assert "upstreams" not in handler
    assert handler["dynamic_upstreams"] == {"source": "a", "name": "tasks.mist-app-3", "port": "8000", "refresh": "1s"}
    assert handler["load_balancing"] == {
        "selection_policy": {"policy": "round_robin"}, "try_duration": "5s", "try_interval": "250ms",
    }


def test_the_admin_api_listens_inside_on_the_proxy_network_only_and_accepts_the_published_address() -> None:
    config = proxy(admin="127.0.0.1:2999").config([])
    assert config["admin"] == {
        "listen": "172.30.0.2:2019", "origins": ["127.0.0.1:2999"], "config": {"persist": False},
    }
    assert config["storage"] == {"module": "file_system", "root": "/data/caddy"}


def test_routes_are_read_back_from_the_live_config(monkeypatch: pytest.MonkeyPatch) -> None:
    container = proxy()
    routes = [*ROUTES, Route(app_id=12, domains=("v6.example.test",), upstream="[fd00::5]:80")]
    live = json.loads(json.dumps(container.config(routes)))  # as Caddy answers GET /config/
    monkeypatch.setattr(container, "_live_config", lambda: live)
    assert container.routes() == routes
    assert container.in_sync(routes) and not container.in_sync(ROUTES)


def test_the_single_engine_proxy_keeps_its_static_dial(tmp_path: Path) -> None:
    (route,) = CaddyProxy(state_dir=tmp_path).config(ROUTES[:1])["apps"]["http"]["servers"]["mist"]["routes"]
    assert route["handle"] == [{"handler": "reverse_proxy", "upstreams": [{"dial": "tasks.mist-app-3:8000"}]}]


def test_ports_are_published_on_the_configured_host_addresses_and_the_admin_port_on_its_own() -> None:
    plain = proxy(admin="127.0.0.1:2999", listen="127.0.0.1:8080")
    assert plain._ports() == {"8080/tcp": ("127.0.0.1", 8080), "2019/tcp": ("127.0.0.1", 2999)}
    assert plain.config([])["apps"]["http"]["servers"]["mist"]["listen"] == [":8080"]
    secure = proxy(tls=True)
    assert secure._ports() == {"80/tcp": ("", 80), "443/tcp": ("", 443), "2019/tcp": ("127.0.0.1", 2019)}
    http = secure.config([])["apps"]["http"]
    assert (http["http_port"], http["https_port"], http["servers"]["mist"]["listen"]) == (80, 443, [":443"])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"listen": ":2019"}, "admin port"),
    ({"admin": "proxy.example.test:2019"}, "IP address"),
    ({"listen": "0.0.0.0:http"}, r"is not \[HOST\]:PORT"),
])
def test_addresses_it_cannot_publish_are_refused(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        proxy(**kwargs)


def test_a_network_of_that_name_mist_did_not_make_is_not_used() -> None:
    client: Any = SimpleNamespace(networks=Networks(labels={}))
    with pytest.raises(ProxyError, match="Mist did not make"):
        CaddyContainer("caddy:2", client=client).config([])


def test_the_first_config_copied_into_the_container_holds_admin_and_storage_only() -> None:
    container = proxy()
    with tarfile.open(fileobj=io.BytesIO(container._config_archive())) as tar:
        member = tar.extractfile("mist-proxy/caddy.json")
        assert member is not None
        first = json.load(member)
    assert first == {key: container.config([])[key] for key in ("admin", "storage")}


def test_a_changed_image_or_port_changes_the_spec_the_container_is_recreated_for() -> None:
    assert proxy()._spec() == proxy()._spec()
    assert proxy()._spec() != proxy(listen=":8080")._spec()
    client: Any = SimpleNamespace(networks=Networks())
    assert proxy()._spec() != CaddyContainer("caddy:2.7", client=client)._spec()


def test_the_dashboard_is_reached_on_the_host_unless_mist_listens_on_loopback_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert dashboard_route("", "0.0.0.0", 8080) is None
    assert dashboard_route("mist.example.test", "0.0.0.0", 8080) == ("mist.example.test", "host.docker.internal:8080")
    assert dashboard_route("mist.example.test", "10.0.0.5", 8080) == ("mist.example.test", "10.0.0.5:8080")
    assert dashboard_route("mist.example.test", "fd00::5", 8080) == ("mist.example.test", "[fd00::5]:8080")
    with caplog.at_level("WARNING"):
        assert dashboard_route("mist.example.test", "127.0.0.1", 8080) is None
    assert "cannot reach" in caplog.text


def test_an_orchestrated_router_keeps_recorded_upstreams_at_start(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    db.migrate()
    with db.session() as s:
        s.add(User(id=1, username="o", email="o@x", password_hash="x", role="owner"))
        s.flush()
        s.add(Project(id=1, name="p", owner_id=1))
        s.flush()
        s.add(App(id=1, project_id=1, name="web", app_type="web", port=8000))
        s.flush()
        s.add(Domain(app_id=1, domain="shop.example.test"))
        s.add(Deployment(app_id=1, deployment_number=1, status="success", is_active=True, container_id="c1"))
    engine = FakeEngine()
    router = Router(db, engine=engine, proxy=None, orchestrated=True)
    asyncio.run(router.switch(1, "tasks.mist-app-1:8000"))
    asyncio.run(router.start())
    assert asyncio.run(router.upstream(1)) == "tasks.mist-app-1:8000"
    assert not [call for call in engine.calls if call[0] == "inspect"]
