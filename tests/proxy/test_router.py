"""mist.proxy.router: the route table it derives from the database and the running containers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from support.fake_engine import FakeEngine

from mist.db.engine import Database
from mist.db.models import App, Deployment, Domain, Project, User
from mist.errors import ProxyError
from mist.proxy.caddy import Route
from mist.proxy.router import Router, _routes


def _database(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    db.migrate()
    with db.session() as s:
        s.add(User(id=1, username="o", email="o@x", password_hash="x", role="owner"))
        s.flush()
        s.add(Project(id=1, name="p", owner_id=1))
        s.flush()
        s.add(App(id=1, project_id=1, name="web", app_type="web", port=8000))
        s.flush()
        for name in ("shop.example.test", "mist.example.test"):
            s.add(Domain(app_id=1, domain=name))
    return db


def test_domains_saved_before_they_became_reserved_are_never_routed(tmp_path: Path) -> None:
    # The domain was claimed before MIST_PUBLIC_URL named mist.example.test: the database keeps it,
    # the proxy is never given it.
    db = _database(tmp_path)
    router = Router(db, engine=None, proxy=None, reserved=frozenset({"mist.example.test"}))
    asyncio.run(router.switch(1, "10.0.0.2:8000"))
    routes = db.call(_routes, router.reserved, {})
    assert [r.domains for r in routes] == [("shop.example.test",)]


def test_without_reserved_hosts_every_domain_is_routed(tmp_path: Path) -> None:
    db = _database(tmp_path)
    router = Router(db, engine=None, proxy=None)
    asyncio.run(router.switch(1, "10.0.0.2:8000"))
    (route,) = db.call(_routes, router.reserved, {})
    assert set(route.domains) == {"shop.example.test", "mist.example.test"}


def test_start_routes_each_app_to_the_running_container_of_its_active_deployment(tmp_path: Path) -> None:
    db = _database(tmp_path)
    engine = FakeEngine()
    running = engine.add_container("mist-app-1", 1, 1)
    with db.session() as s:
        s.add(App(id=2, project_id=1, name="gone", app_type="web", port=8000))
        s.flush()
        s.add(Deployment(app_id=1, deployment_number=1, status="success", is_active=True, container_id=running.id))
        s.add(Deployment(app_id=2, deployment_number=1, status="success", is_active=True, container_id="c404"))
    router = Router(db, engine=engine, proxy=None)
    asyncio.run(router.switch(1, "10.9.9.9:8000"))  # recorded before the engine restarted
    asyncio.run(router.start())
    assert (asyncio.run(router.upstream(1)), asyncio.run(router.upstream(2))) == ("127.0.0.1:8000", None)
    assert ("inspect", ("c404",)) in engine.calls


class Proxy:
    """Records what it is given; `refuse` makes the next load fail as Caddy would."""

    admin = "127.0.0.1:2019"

    def __init__(self) -> None:
        self.loaded: list[list[Route]] = []
        self.refuse = False

    async def apply(self, routes: list[Route]) -> None:
        if self.refuse:
            raise ProxyError("Caddy refused the configuration")
        self.loaded.append(list(routes))


def test_a_switch_is_recorded_only_once_the_proxy_took_it(tmp_path: Path) -> None:
    proxy = Proxy()
    router = Router(_database(tmp_path), engine=None, proxy=proxy)
    asyncio.run(router.switch(1, "10.0.0.2:8000"))
    assert [r.upstream for r in proxy.loaded[-1]] == ["10.0.0.2:8000"]
    proxy.refuse = True
    with pytest.raises(ProxyError):
        asyncio.run(router.switch(1, "10.0.0.3:8000"))
    assert asyncio.run(router.upstream(1)) == "10.0.0.2:8000"
    proxy.refuse = False
    asyncio.run(router.switch(1, None))
    assert proxy.loaded[-1] == [] and asyncio.run(router.upstream(1)) is None


def test_an_unchanged_table_is_not_loaded_again(tmp_path: Path) -> None:
    # Every load makes Caddy close idle connections.
    proxy = Proxy()
    router = Router(_database(tmp_path), engine=None, proxy=proxy)
    asyncio.run(router.switch(1, "10.0.0.2:8000"))
    asyncio.run(router.refresh())
    asyncio.run(router.switch(1, "10.0.0.2:8000"))
    assert len(proxy.loaded) == 1
