"""The services port: what the core asks of an orchestrator that runs an app as a replicated service
(Docker Swarm, swarmservices.py), as one async protocol.

The `Engine` port is container-centric: the pipeline starts a container beside the old one, gates on
its health, switches traffic and stops the old one itself. An orchestrator does all of that on its own
(start-first, health-gated, rolled back on failure), so here the core hands over the whole desired state
(`ServiceRequest`) and follows what the orchestrator does (`deploy`'s progress, `tasks`). Requests and
answers are plain values; failures are MistErrors (RuntimeEngineError, NotFound for an unknown service).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

# What `deploy` reports while an update runs (the deployment's stages follow them).
STARTING_NEW = "starting_new"  # new tasks are being started (and health-checked)
STOPPING_OLD = "stopping_old"  # new tasks serve; old ones are shutting down

# Task states (Swarm's words) after which a task never runs again, and those of them that mean it failed.
ENDED_BADLY = ("failed", "rejected", "orphaned")
ENDED = (*ENDED_BADLY, "complete", "shutdown", "remove")

# How `deploy` (or `rollback`) ended.
COMPLETED = "completed"  # every replica runs the requested spec
ROLLED_BACK = "rolled_back"  # a new task failed; the orchestrator went back to the previous spec
PAUSED = "paused"  # the update (or its rollback) stopped half-way: some replicas may run either spec
FAILED = "failed"  # a first creation whose task failed: there was nothing to roll back to


# Swarm's label on each task's container: the service it is a replica of.
TASK_SERVICE_LABEL = "com.docker.swarm.service.name"


def service_name(app_id: int) -> str:
    """The app's service: one per app, for every deployment of it (an update replaces its spec)."""
    return f"mist-app-{app_id}"


def service_upstream(app_id: int, port: int) -> str:
    """Where the proxy sends the app's traffic: the name that resolves to every running replica's address
    (`tasks.` of a `dnsrr` service), re-resolved by the proxy as replicas come and go."""
    return f"tasks.{service_name(app_id)}:{port}"


@dataclass(frozen=True)
class ServiceHealth:
    """The app's health check, run by the orchestrator inside each new task's container: an HTTP GET of
    `path` on the app's port must answer below 400, or (no path) the port must accept a connection. Same
    fields as mist.deploy.health.HealthCheck, so `ServiceHealth(**asdict(check))` converts."""

    path: str = ""
    interval: float = 2
    timeout: float = 5
    retries: int = 15
    start_period: float = 0


@dataclass(frozen=True)
class NetworkAttachment:
    network: str
    aliases: tuple[str, ...] = ()  # DNS names of the service on that network (besides its own name)


@dataclass(frozen=True)
class ServiceRequest:
    name: str  # mist-app-{id}
    image: str  # by digest (registry/repo@sha256:...), as `push` answers: every node runs that exact image
    labels: dict[str, str]  # mist.app, mist.deployment, ...: on the service and on each task's container
    env: dict[str, str] = field(default_factory=dict)
    replicas: int = 1
    networks: tuple[NetworkAttachment, ...] = ()
    port: int | None = None  # where the app listens (what the health check probes)
    health: ServiceHealth | None = None  # None: a task is ready as soon as its process runs
    command: list[str] | None = None  # the image's CMD replaced (its ENTRYPOINT kept), as `docker run` does
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> path in the container
    binds: dict[str, str] = field(default_factory=dict)  # host path (on the node) -> path in the container
    read_only: tuple[str, ...] = ()  # container paths of the volumes and binds mounted read-only
    constraints: tuple[str, ...] = ()  # placement, e.g. "node.labels.mist.volumes.app-3 == true"
    order: Literal["start-first", "stop-first"] = "start-first"  # stop-first: one replica owning a volume
    cpu_limit: float | None = None  # CPUs
    memory_limit: int | None = None  # MiB
    restart_policy: str = "unless-stopped"  # Mist's (Docker's) names, mapped to the orchestrator's
    stop_timeout: int = 10  # seconds between SIGTERM and SIGKILL


@dataclass(frozen=True)
class TaskState:
    """One replica (a Swarm task) of a service: what `tasks` answers and `deploy` reports progress with."""

    id: str
    name: str  # service.slot, e.g. mist-app-3.1: the prefix of its log lines
    slot: int
    node_id: str
    node: str  # the node's hostname
    state: str  # new | pending | preparing | starting | running | complete | failed | shutdown | rejected ...
    desired_state: str  # running | shutdown | ...
    message: str  # the orchestrator's word on the state, e.g. "started"
    error: str  # why it failed, "" when it did not
    container_id: str
    started_at: str  # when it reached its state (RFC 3339)
    exit_code: int | None  # once its container exited
    health: str  # healthy | unhealthy | starting | "" (no health check, or not known on that node)
    image: str  # the image reference of the spec it runs
    deployment: str  # its mist.deployment label: which spec (deployment) it belongs to

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True)
class UpdateOutcome:
    status: str  # COMPLETED | ROLLED_BACK | PAUSED | FAILED
    message: str  # the orchestrator's own message (why it rolled back or paused), "" when completed
    failed_task: TaskState | None = None  # the task whose failure decided it
    output: tuple[str, ...] = ()  # that task's last log lines

    @property
    def ok(self) -> bool:
        return self.status == COMPLETED


ProgressCallback = Callable[[str, list[TaskState]], Awaitable[None]]


class Services(Protocol):
    async def push(self, image: str, repository: str) -> str:
        """Pushes the local `image` to the registry as `repository` and answers its reference by digest
        (`registry/repository@sha256:...`). Raises RuntimeEngineError naming the registry when it cannot
        be reached."""

    async def pin(self, label: str) -> str:
        """The placement constraint that keeps a service on the node labelled `label` (`true`), labelling
        this manager's own node first when no node carries it yet: a volume stays on the node it was
        made on, so whatever mounts it must run there."""

    async def deploy(self, request: ServiceRequest, on_progress: ProgressCallback) -> UpdateOutcome:
        """Creates the service, or updates it to `request` (one task at a time, in `request.order`, each
        new task healthy before an old one stops; on a failure the orchestrator rolls back), awaiting
        `on_progress(STARTING_NEW | STOPPING_OLD, tasks)` as the update moves, and returns how it ended.
        Cancelling it leaves the update running: `rollback` stops it."""

    async def rollback(self, name: str) -> UpdateOutcome:
        """Goes back to the service's previous spec (the orchestrator's own rollback, which also stops an
        update under way) and waits until that is done."""

    async def scale(self, name: str, replicas: int) -> None:
        """Sets the number of replicas (0 stops every task, keeping the service)."""

    async def force_update(self, name: str, on_progress: ProgressCallback | None = None) -> UpdateOutcome:
        """Replaces every task with a fresh one of the same spec (a restart), one at a time as `deploy`
        does (so a replacement that fails is rolled back), and returns how it ended."""

    async def tasks(self, name: str) -> list[TaskState]:
        """The service's tasks meant to run, and the ones that ended lately, newest first per slot."""

    def logs(self, name: str, tail: int | str, follow: bool = False) -> AsyncIterator[str]:
        """The log lines of every task of the service, merged, each as `TIMESTAMP TASK MESSAGE` (TASK as
        in `TaskState.name`); with `follow`, also the lines written from now on, of new tasks too, until
        the iterator is left. Nothing for an unknown service."""

    async def remove(self, name: str) -> None:
        """Removes the service and waits for its containers to be gone; an unknown one is not an error."""

    async def aclose(self) -> None: ...
