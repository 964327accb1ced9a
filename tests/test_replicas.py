"""mist.replicas: an app's Swarm tasks as the status shows them, and its service as a log feed's source."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from mist import replicas
from mist.errors import NotFound
from mist.runtime.services import TaskState


def task(slot: int, state: str = "running", desired: str = "running", at: str = "2026-01-01T10:00:00Z",
         tid: str = "", health: str = "", deployment: str = "7", error: str = "", exit_code: int | None = None,
         node: str = "node-1") -> TaskState:
    return TaskState(
        id=tid or f"t{slot}{state}{at}", name=f"mist-app-3.{slot}", slot=slot, node_id="n1", node=node,
        state=state, desired_state=desired, message="", error=error, container_id="c", started_at=at,
        exit_code=exit_code, health=health, image="reg/app@sha256:1", deployment=deployment,
    )


def test_each_slot_shows_its_task_meant_to_run() -> None:
    old = task(1, at="2026-01-01T09:00:00Z")
    new = task(1, state="starting", at="2026-01-01T10:00:00Z")  # start-first: both meant to run for a moment
    crashed = task(2, state="failed", desired="shutdown", at="2026-01-01T09:30:00Z")
    again = task(2, at="2026-01-01T09:31:00Z")
    assert replicas.current([old, crashed, again, new]) == [new, again]
    assert replicas.current([replace(old, desired_state="shutdown", state="shutdown")]) == []


def test_restarts_count_ended_tasks_of_the_slot_and_deployment() -> None:
    now = task(1, at="2026-01-01T10:00:00Z")
    history = [
        task(1, state="failed", desired="shutdown", at="2026-01-01T09:00:00Z"),
        task(1, state="shutdown", desired="shutdown", at="2026-01-01T09:30:00Z"),  # a restart
        task(1, state="shutdown", desired="shutdown", at="2026-01-01T08:00:00Z", deployment="6"),  # an update
        task(2, state="failed", desired="shutdown", at="2026-01-01T09:00:00Z"),  # another slot
    ]
    assert replicas.restarts(now, [now, *history]) == 2


@pytest.mark.parametrize("tasks, expected", [
    ([], ("exited", "unhealthy")),
    ([task(1, state="pending"), task(2, state="preparing")], ("restarting", "unhealthy")),
    ([task(1, health="healthy"), task(2, health="healthy")], ("running", "healthy")),
    ([task(1), task(2)], ("running", "none")),
    ([task(1, health="healthy"), task(2, state="starting", health="starting")], ("running", "starting")),
    ([task(1, health="healthy"), task(2, health="unhealthy")], ("running", "unhealthy")),
    ([task(1, health="healthy"), task(2, state="rejected")], ("running", "unhealthy")),
])
def test_the_app_state_summarises_its_replicas(tasks: list[TaskState], expected: tuple[str, str]) -> None:
    assert replicas.summary(tasks) == expected


def test_a_replica_as_the_status_shows_it() -> None:
    now = task(2, health="healthy", error="secret-token in the way", node="worker-1")
    row = replicas.replica(now, [now, task(2, state="failed", desired="shutdown", at="2026-01-01T09:00:00Z")],
                           lambda text: text.replace("secret-token", "********"))
    assert row == {"task": "mist-app-3.2", "slot": 2, "node": "worker-1", "state": "running", "health": "healthy",
                   "startedAt": "2026-01-01T10:00:00Z", "restarts": 1, "error": "******** in the way",
                   "deploymentId": 7}
    bare = replicas.replica(task(1, node="", deployment=""), [], str)
    assert (bare["node"], bare["health"], bare["error"], bare["deploymentId"]) == (None, "none", None, None)


class FakeServices:
    def __init__(self, tasks: list[TaskState] | None) -> None:
        self.task_list = tasks
        self.asked: list[tuple[str, int | str, bool]] = []

    async def tasks(self, name: str) -> list[TaskState]:
        if self.task_list is None:
            raise NotFound(f"no service {name} in the swarm")
        return self.task_list

    async def logs(self, name: str, tail: int | str, follow: bool = False) -> AsyncIterator[str]:
        self.asked.append((name, tail, follow))
        yield "2026-01-01T10:00:00Z mist-app-3.1 hello"


def test_the_log_source_follows_the_service_and_resumes_from_now() -> None:
    services = FakeServices([task(1)])
    source = replicas.ServiceLogSource(services)  # type: ignore[arg-type]

    async def run() -> None:
        assert [line async for line in source.follow_logs("mist-app-3", 50)] == [
            "2026-01-01T10:00:00Z mist-app-3.1 hello"]
        assert [line async for line in source.follow_logs("mist-app-3", "all", since=12.5)]
        assert services.asked == [("mist-app-3", 50, True), ("mist-app-3", 0, True)]
        state = await source.inspect("mist-app-3")
        assert state is not None and (state.id, state.status) == ("mist-app-3", "running")
        services.task_list = []
        state = await source.inspect("mist-app-3")
        assert state is not None and state.status == "exited"
        services.task_list = None
        assert await source.inspect("mist-app-3") is None

    asyncio.run(run())
