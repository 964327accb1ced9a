"""An app's replicas in Swarm mode: its service's tasks as the container status shows them, and the
service's merged logs as a source for the live log feeds (mist.feeds).

Swarm keeps a few ended tasks per slot besides the one meant to run: those are the slot's history, what
its `restarts` counts. The app's own `state` and `health` summarise its current replicas in the words the
single-engine status uses, so a client reading only those fields reads both modes alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from mist.errors import NotFound
from mist.runtime.requests import ContainerState
from mist.runtime.services import ENDED, ENDED_BADLY, Services, TaskState


def current(tasks: list[TaskState]) -> list[TaskState]:
    """Each slot's task meant to run (the newest, during an update), by slot; none for a stopped app."""
    chosen: dict[int, TaskState] = {}
    for task in sorted(tasks, key=lambda t: t.started_at, reverse=True):
        if task.desired_state == "running" and task.slot not in chosen:
            chosen[task.slot] = task
    return [chosen[slot] for slot in sorted(chosen)]


def restarts(task: TaskState, tasks: list[TaskState]) -> int:
    """How many earlier tasks of its slot ended while running the same deployment: a crash, or a restart.
    The tasks a deployment's update replaced are not counted: they ran an earlier version."""
    return sum(1 for t in tasks if t.slot == task.slot and t.id != task.id and t.state in ENDED
               and t.deployment == task.deployment)


def summary(replicas: list[TaskState]) -> tuple[str, str]:
    """The app's (state, health) from its current replicas, in the single-engine status's words: stopped
    (scaled to 0) is `exited`, replicas meant to run with none running yet `restarting`. Health is
    `unhealthy` when a replica failed or fails its check, `starting` while one is not serving yet,
    `healthy` when all pass, `none` when the app has no health check."""
    if not replicas:
        return "exited", "unhealthy"
    running = [t for t in replicas if t.running]
    if not running:
        return "restarting", "unhealthy"
    if any(t.health == "unhealthy" or t.state in ENDED_BADLY for t in replicas):
        return "running", "unhealthy"
    if len(running) < len(replicas) or any(t.health == "starting" for t in running):
        return "running", "starting"
    return "running", "healthy" if any(t.health == "healthy" for t in running) else "none"


def replica(task: TaskState, tasks: list[TaskState], redact: Callable[[str], str]) -> dict[str, Any]:
    return {
        "task": task.name,
        "slot": task.slot,
        "node": task.node or None,
        "state": task.state,
        "health": task.health or "none",
        "startedAt": task.started_at or None,
        "restarts": restarts(task, tasks),
        "error": redact(task.error) or None,
        "deploymentId": int(task.deployment) if task.deployment.isdigit() else None,
    }


class ServiceLogSource:
    """What a log feed asks of the engine (a container's lines until it stops, then its state), answered
    for an app's service, so Swarm apps keep one log stream per app however many watch it. The feed names
    the service where it names a container."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def follow_logs(self, name: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        # A feed passes `since` to resume after what it sent; Swarm's logs have no such bound, so a
        # resumed stream starts from now instead of sending lines twice.
        async for line in self.services.logs(name, 0 if since is not None else tail, follow=True):
            yield line

    async def inspect(self, name: str) -> ContainerState | None:
        try:
            tasks = await self.services.tasks(name)
        except NotFound:
            return None
        state, _ = summary(current(tasks))
        return ContainerState(id=name, name=name, status=state, exit_code=0, ip_address="", labels={})
