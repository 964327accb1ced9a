"""The swarm's nodes through a real `mist serve` with MIST_RUNTIME=swarm on the single-node swarm:
listed with their role and resources, drained and made active again through the API and the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from support.client import MistClient
from support.engine import mist_servers
from support.server import MistServer
from support.swarm import Registry, Swarm

pytestmark = [pytest.mark.swarm, pytest.mark.docker]
CLI = [sys.executable, "-m", "mist.cli"]


@pytest.fixture
def server(tmp_path: Path, engine: docker.DockerClient, swarm: Swarm, registry: Registry) -> Iterator[MistServer]:
    with mist_servers(engine, tmp_path / "data") as start:
        yield start(workers=1, runtime="swarm", registry=registry.address, proxy_enabled="false")  # no app routed


def test_the_manager_is_listed_drained_and_made_active_again(server: MistServer, swarm: Swarm,
                                                             tmp_path: Path) -> None:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        [node] = owner.get("/api/nodes")["data"]
        assert node["id"] == swarm.manager_id
        assert (node["role"], node["leader"], node["state"], node["availability"]) == ("manager", True, "ready",
                                                                                       "active")
        assert node["cpus"] > 0 and node["memoryBytes"] > 0 and node["engineVersion"] and node["tasks"] == 0

        drained = owner.put("/api/nodes/update", {"id": node["id"], "availability": "drain"})
        assert drained["data"]["availability"] == "drain" and drained["message"].endswith("is drain")
        token = owner.post("/api/tokens/create", {"name": "cli", "scope": "admin"})["data"]["token"]
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("MIST_")},
               "XDG_CONFIG_HOME": str(tmp_path / "config"), "MIST_URL": server.url, "MIST_TOKEN": token}
        listed = subprocess.run([*CLI, "nodes"], env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
        assert node["id"][:12] in listed.stdout and "manager (leader)" in listed.stdout and "drain" in listed.stdout
        activated = subprocess.run([*CLI, "nodes", "activate", node["hostname"]], env=env, capture_output=True,
                                   text=True, timeout=60)
        assert activated.returncode == 0, activated.stderr
        assert "is active" in activated.stdout
        assert owner.get("/api/nodes")["data"][0]["availability"] == "active"
        unknown = owner.http.put("/api/nodes/update", json={"id": "nosuchnode0", "availability": "drain"})
        assert unknown.status_code == 404
