"""Docker Swarm, as Mist sees it through a manager node: the nodes (GET /api/nodes), draining them,
and the check that the engine Mist talks to can manage a swarm at all (MIST_RUNTIME=swarm).

An adapter: the docker SDK's calls block, so each runs on a thread here and nowhere else.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from mist.errors import Conflict, RuntimeEngineError
from mist.errors import NotFound as MistNotFound
from mist.runtime.engine import APP_LABEL

AVAILABILITIES = ("active", "pause", "drain")


class NotAManager(Conflict):
    """The engine is not a swarm manager: what to do about it is in the message."""


@dataclass(frozen=True)
class NodeState:
    id: str
    hostname: str
    role: str  # manager | worker
    availability: str  # active | pause | drain
    state: str  # ready | down | unknown | disconnected
    leader: bool
    address: str
    engine_version: str
    cpus: float
    memory_bytes: int
    labels: dict[str, str]
    tasks: int  # Mist's tasks running there


def _advice(info: dict[str, Any]) -> str:
    swarm = info.get("Swarm") or {}
    state = swarm.get("LocalNodeState", "inactive")
    if state in ("", "inactive"):
        return ("the Docker engine is not part of a swarm: make this server a manager with `docker swarm init "
                "--advertise-addr ADDRESS` (ADDRESS: this server's address the other nodes reach), or point "
                "DOCKER_HOST at a manager of an existing swarm")
    return (f"the Docker engine is a swarm worker (node state {state}), which cannot manage services: point "
            "DOCKER_HOST at a manager node (`docker node ls` on a manager lists them), or promote this one "
            "with `docker node promote` on a manager")


def _node(raw: dict[str, Any], tasks: int) -> NodeState:
    description, spec, status = raw.get("Description") or {}, raw.get("Spec") or {}, raw.get("Status") or {}
    resources = description.get("Resources") or {}
    return NodeState(
        id=raw["ID"], hostname=description.get("Hostname", ""), role=spec.get("Role", ""),
        availability=spec.get("Availability", ""), state=status.get("State", ""),
        leader=bool((raw.get("ManagerStatus") or {}).get("Leader")), address=status.get("Addr", ""),
        engine_version=(description.get("Engine") or {}).get("EngineVersion", ""),
        cpus=resources.get("NanoCPUs", 0) / 1e9, memory_bytes=resources.get("MemoryBytes", 0),
        labels=dict(spec.get("Labels") or {}), tasks=tasks,
    )


class Swarm:
    """The swarm behind DOCKER_HOST (or the local socket); a client made on first use."""

    def __init__(self) -> None:
        self._client: docker.DockerClient | None = None

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = docker.from_env(timeout=30)
        return self._client

    async def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args)
        except NotAManager:
            raise
        except NotFound as exc:
            raise MistNotFound(f"{what}: {exc.explanation or exc}") from exc
        except (APIError, DockerException) as exc:
            raise RuntimeEngineError(f"cannot {what} through the Docker engine: {exc}") from exc

    def _require_manager(self) -> docker.DockerClient:
        client = self._docker()
        info = client.info()
        if not (info.get("Swarm") or {}).get("ControlAvailable"):
            raise NotAManager(_advice(info))
        return client

    async def check_manager(self) -> None:
        """Raises NotAManager (saying what to do) unless the engine is a swarm manager."""
        await self._call("reach the Docker engine", self._require_manager)

    def _nodes(self) -> list[NodeState]:
        client = self._require_manager()
        services: list[dict[str, Any]] = client.api.services(filters={"label": APP_LABEL})  # type: ignore[no-untyped-call]
        mist_services = {s["ID"] for s in services}
        running: dict[str, int] = {}
        tasks: list[dict[str, Any]] = client.api.tasks(filters={"desired-state": "running"})  # type: ignore[no-untyped-call]
        for task in tasks:
            if task.get("ServiceID") in mist_services and (task.get("Status") or {}).get("State") == "running":
                running[task.get("NodeID", "")] = running.get(task.get("NodeID", ""), 0) + 1
        nodes = [_node(n.attrs, running.get(n.id or "", 0)) for n in client.nodes.list()]
        return sorted(nodes, key=lambda n: (n.role != "manager", n.hostname, n.id))

    async def nodes(self) -> list[NodeState]:
        return list(await self._call("list the swarm's nodes", self._nodes))

    def _set_availability(self, node_id: str, availability: str) -> NodeState:
        client = self._require_manager()
        node = client.nodes.get(node_id)
        spec = dict(node.attrs.get("Spec") or {})
        spec["Availability"] = availability
        node.update(spec)
        node.reload()
        return next(n for n in self._nodes() if n.id == node.id)

    async def set_availability(self, node_id: str, availability: str) -> NodeState:
        """`drain` moves the node's tasks elsewhere (Swarm starts their replacements first for services
        updating start-first); `active` takes tasks again."""
        state: NodeState = await self._call(
            f"change node {node_id[:12]}", self._set_availability, node_id, availability)
        return state

    async def aclose(self) -> None:
        if self._client is not None:
            await asyncio.to_thread(self._client.close)
            self._client = None
