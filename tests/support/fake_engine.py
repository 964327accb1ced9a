"""An in-memory `Engine` for the deploy logic's unit tests: it records every request and plays the
outcomes a test scripts (a call that fails, a container that exits, a call that waits for the
test), so rolling, recreate, stops and failures are tested in milliseconds without Docker.

Containers answer on 127.0.0.1: a test that wants a health check to pass listens on the app's
port there (`listening_port`), one that wants it to fail gives a port nobody listens on.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from mist.errors import BuildFailed, MistError
from mist.runtime.engine import APP_LABEL, DEPLOYMENT_LABEL, image_repository
from mist.runtime.requests import BuildRequest, ContainerEvent, ContainerRequest, ContainerState


@dataclass
class ExecCall:
    """One `exec` as the fake saw it, its stdin read whole (tests feed small ones)."""

    container_id: str
    command: list[str]
    env: dict[str, str]
    stdin: bytes | None


# What an exec answers: its stdout (in one chunk), or an ExecFailed it raises.
ExecHandler = Callable[[ExecCall], bytes]


@dataclass
class Gate:
    """Holds a call until the test releases it; `reached` tells the test the call is waiting."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


class FakeEngine:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []
        self.containers: dict[str, ContainerState] = {}
        self.images: set[str] = set()
        self.networks: dict[str, dict[str, str]] = {}
        self.volumes: dict[str, dict[str, str]] = {}
        self.build_lines: list[str] = ["Step 1/1 : FROM scratch", "Successfully built"]
        self.exit_code: int | None = None  # set: each new container exits at once with this code
        self.output: list[str] = []  # what `tail` and the logs answer
        # Containers of these names exit at once when started, with (exit code, output lines).
        self.one_off: dict[str, tuple[int, list[str]]] = {}
        self.cancelled: list[str] = []  # calls a cancellation interrupted
        self._failures: dict[str, MistError] = {}
        self._gates: dict[str, Gate] = {}
        self._ids = itertools.count(1)
        # What `container_events` tells, in order: starts, and a kill before each die that a stop,
        # restart or removal causes, as Docker does; `crash` adds a die with no kill.
        self.events: asyncio.Queue[ContainerEvent] = asyncio.Queue()
        self._clock = itertools.count(1)
        self.execs: list[ExecCall] = []
        # By program (the command's first word); a program without a handler prints nothing, exits 0.
        self.exec_handlers: dict[str, ExecHandler] = {}

    # Scripting

    def fail(self, op: str, error: MistError) -> None:
        """The next call to `op` raises `error`."""
        self._failures[op] = error

    def hold(self, op: str) -> Gate:
        """The next call to `op` waits until the test sets `gate.release`."""
        gate = self._gates[op] = Gate()
        return gate

    def add_container(self, name: str, app_id: int, deployment_id: int, status: str = "running") -> ContainerState:
        state = ContainerState(
            id=f"c{next(self._ids)}", name=name, status=status, exit_code=0, ip_address="127.0.0.1",
            labels={APP_LABEL: str(app_id), DEPLOYMENT_LABEL: str(deployment_id)}, restart_policy="unless-stopped",
        )
        self.containers[state.id] = state
        return state

    def crash(self, container_id: str, exit_code: int = 1) -> None:
        """The container's process ends on its own; a restart policy brings it back."""
        self._tell(container_id, "die", exit_code)
        self._set(container_id, restart_count=self.containers[container_id].restart_count + 1)
        self._tell(container_id, "start")

    def _tell(self, container_id: str, action: str, exit_code: int = 0) -> None:
        state = self.containers.get(container_id)
        if state is None:
            return
        self.events.put_nowait(ContainerEvent(container_id, state.name, action, exit_code, dict(state.labels),
                                              at=float(next(self._clock))))

    def _stopped(self, container_id: str) -> None:
        state = self.containers.get(container_id)
        if state is not None and state.status == "running":
            self._tell(container_id, "kill")
            self._tell(container_id, "die", 143)

    def ops(self) -> list[str]:
        return [op for op, _ in self.calls]

    async def _enter(self, op: str, *args: object) -> None:
        self.calls.append((op, args))
        gate = self._gates.pop(op, None)
        if gate is not None:
            gate.reached.set()
            try:
                await gate.release.wait()
            except asyncio.CancelledError:
                self.cancelled.append(op)
                raise
        if op in self._failures:
            raise self._failures.pop(op)

    # The Engine port

    async def ping(self) -> None:
        await self._enter("ping")

    async def build(self, request: BuildRequest, on_line: Callable[[str], Awaitable[None]]) -> str:
        await self._enter("build", request)
        for line in self.build_lines:
            await on_line(line)
        if not request.dockerfile_text and not (request.context_dir / request.dockerfile).is_file():
            raise BuildFailed(f"Failed to build Docker image: no {request.dockerfile}")
        self.images.add(request.tag)
        return f"sha256:{request.tag}"

    async def image_id(self, ref: str) -> str:
        await self._enter("image_id", ref)
        return f"sha256:{ref}" if ref in self.images else ""

    async def remove_image(self, ref: str) -> None:
        await self._enter("remove_image", ref)
        self.images.discard(ref)

    async def remove_images(self, app_id: int) -> None:
        await self._enter("remove_images", app_id)
        self.images = {i for i in self.images if not i.startswith(f"{image_repository(app_id)}:")}

    async def has_network(self, name: str) -> bool:
        await self._enter("has_network", name)
        return name in self.networks

    async def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        await self._enter("ensure_network", name)
        self.networks.setdefault(name, labels)

    async def remove_network(self, name: str) -> None:
        await self._enter("remove_network", name)
        self.networks.pop(name, None)

    async def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        await self._enter("ensure_volume", name)
        self.volumes.setdefault(name, labels)

    async def remove_volume(self, name: str) -> None:
        await self._enter("remove_volume", name)
        self.volumes.pop(name, None)

    async def app_volumes(self, app_id: int) -> list[str]:
        await self._enter("app_volumes", app_id)
        return [name for name, labels in self.volumes.items() if labels.get(APP_LABEL) == str(app_id)]

    async def run(self, request: ContainerRequest) -> ContainerState:
        await self._enter("run", request)
        state = self._started(self._new(request))
        self.containers[state.id] = state
        return state

    async def create(self, request: ContainerRequest) -> ContainerState:
        await self._enter("create", request)
        state = self._new(request)
        self.containers[state.id] = state
        return state

    def _new(self, request: ContainerRequest) -> ContainerState:
        return ContainerState(
            id=f"c{next(self._ids)}", name=request.name, status="created", exit_code=0, ip_address="",
            labels=request.labels, image=request.image, restart_policy=request.restart_policy,
        )

    def _started(self, state: ContainerState) -> ContainerState:
        """Running on 127.0.0.1, or exited at once with `exit_code` when the test set one."""
        if state.name in self.one_off:
            return replace(state, status="exited", exit_code=self.one_off[state.name][0], ip_address="")
        if self.exit_code is not None:
            return replace(state, status="exited", exit_code=self.exit_code, ip_address="")
        return replace(state, status="running", ip_address="127.0.0.1")

    async def inspect(self, container_id: str) -> ContainerState | None:
        await self._enter("inspect", container_id)
        return self.containers.get(container_id)

    async def app_containers(self, app_id: int) -> list[ContainerState]:
        await self._enter("app_containers", app_id)
        return [c for c in self.containers.values() if c.labels.get(APP_LABEL) == str(app_id)]

    async def deployment_containers(self, deployment_id: int) -> list[ContainerState]:
        await self._enter("deployment_containers", deployment_id)
        return [c for c in self.containers.values() if c.labels.get(DEPLOYMENT_LABEL) == str(deployment_id)]

    async def rename(self, container_id: str, name: str) -> None:
        await self._enter("rename", container_id, name)
        self.containers[container_id] = replace(self.containers[container_id], name=name)

    async def start(self, container_id: str) -> None:
        await self._enter("start", container_id)
        if container_id in self.containers:
            self.containers[container_id] = self._started(self.containers[container_id])
            self._tell(container_id, "start")

    async def stop(self, container_id: str, timeout: int = 10) -> None:
        await self._enter("stop", container_id, timeout)
        self._stopped(container_id)
        self._set(container_id, status="exited")

    async def restart(self, container_id: str, timeout: int = 10) -> None:
        await self._enter("restart", container_id, timeout)
        self._stopped(container_id)
        self._set(container_id, status="running")
        self._tell(container_id, "start")

    async def remove(self, container_id: str, stop_timeout: int = 10) -> None:
        await self._enter("remove", container_id, stop_timeout)
        self._stopped(container_id)
        self.containers.pop(container_id, None)

    async def set_restart_policy(self, container_id: str, policy: str) -> None:
        await self._enter("set_restart_policy", container_id, policy)
        self._set(container_id, restart_policy=policy)

    async def update_resources(
        self, container_id: str, cpu_limit: float | None, memory_limit: int | None, restart_policy: str
    ) -> None:
        await self._enter("update_resources", container_id, cpu_limit, memory_limit, restart_policy)
        self._set(container_id, cpu_limit=cpu_limit, memory_limit=memory_limit, restart_policy=restart_policy)

    async def logs(self, container_id: str, tail: int) -> list[str]:
        await self._enter("logs", container_id, tail)
        return self.output[-tail:] if container_id in self.containers else []

    async def tail(self, container_id: str, lines: int = 20) -> list[str]:
        await self._enter("tail", container_id)
        return self.output[-lines:]

    async def follow_logs(self, container_id: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        await self._enter("follow_logs", container_id, tail, since)
        container = self.containers.get(container_id)
        if container is not None and container.name in self.one_off:
            for line in self.one_off[container.name][1]:
                yield f"2026-01-01T00:00:00.000000000Z {line}"
            return
        for line in self.output if container is not None else []:
            yield line

    async def exec(
        self,
        container_id: str,
        command: list[str],
        env: dict[str, str] | None = None,
        stdin: AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        await self._enter("exec", container_id, command)
        fed = b"".join([chunk async for chunk in stdin]) if stdin is not None else None
        call = ExecCall(container_id, list(command), dict(env or {}), fed)
        self.execs.append(call)
        handler = self.exec_handlers.get(command[0] if command else "")
        output = handler(call) if handler is not None else b""
        if output:
            yield output

    async def container_events(self) -> AsyncIterator[ContainerEvent]:
        while True:
            yield await self.events.get()

    async def aclose(self) -> None:
        pass

    def _set(self, container_id: str, **changes: object) -> None:
        if container_id in self.containers:
            self.containers[container_id] = replace(self.containers[container_id], **changes)  # type: ignore[arg-type]


@contextmanager
def listening_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections (the kernel completes them from the backlog):
    a container "answering" a port health check."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


def closed_port() -> int:
    """A port nobody listens on: a container that never gets healthy."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
