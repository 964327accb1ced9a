"""The engine port: every operation the core asks of a container engine, as one async protocol.

The pipeline, the workers, the containers service, the router, the health checks and the
clean-up receive an `Engine` and await it; they never touch an engine API nor a thread. The
Docker adapter (docker.py) is the one implementation Mist ships; tests/support/fake_engine.py
records requests and plays scripted outcomes, so the deploy logic is tested without Docker.

Requests and answers are plain values (requests.py). Failures are MistErrors: RuntimeEngineError
for the engine, BuildFailed for a build, Conflict for a volume in use. Labels and image names
are part of the contract, since the core finds an app's containers, volumes and images by them.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Protocol

from mist.runtime.requests import BuildRequest, ContainerEvent, ContainerRequest, ContainerState

APP_LABEL = "mist.app"
DEPLOYMENT_LABEL = "mist.deployment"
PROJECT_LABEL = "mist.project"


def image_repository(app_id: int) -> str:
    """Images are tagged, not labelled: a build label would cost a step and break the cache."""
    return f"mist-app-{app_id}"


class Engine(Protocol):
    async def ping(self) -> None:
        """Raises RuntimeEngineError when the engine cannot be reached."""

    # Images

    async def build(self, request: BuildRequest, on_line: Callable[[str], Awaitable[None]]) -> str:
        """Builds and tags the image, awaiting `on_line` for each output line; returns the image
        id. Cancelling the call cuts the build off, and the call returns only once it has ended."""

    async def image_id(self, ref: str) -> str:
        """The image's id, or "" when it is not on this machine."""

    async def remove_image(self, ref: str) -> None: ...

    async def remove_images(self, app_id: int) -> None:
        """The app's tags (image_repository); an image another app also tags stays for that app."""

    # Networks and volumes

    async def has_network(self, name: str) -> bool: ...

    async def ensure_network(self, name: str, labels: dict[str, str]) -> None: ...

    async def remove_network(self, name: str) -> None: ...

    async def ensure_volume(self, name: str, labels: dict[str, str]) -> None: ...

    async def remove_volume(self, name: str) -> None:
        """Raises Conflict while a container mounts it."""

    async def app_volumes(self, app_id: int) -> list[str]: ...

    # Containers

    async def run(self, request: ContainerRequest) -> ContainerState:
        """Creates and starts the container; answers its state as inspected once started."""

    async def create(self, request: ContainerRequest) -> ContainerState:
        """Creates the container without starting it (`start` does, on the project's network)."""

    async def inspect(self, container_id: str) -> ContainerState | None:
        """None when the container is gone."""

    async def app_containers(self, app_id: int) -> list[ContainerState]: ...

    async def deployment_containers(self, deployment_id: int) -> list[ContainerState]: ...

    async def rename(self, container_id: str, name: str) -> None: ...

    async def start(self, container_id: str) -> None: ...

    async def stop(self, container_id: str, timeout: int = 10) -> None: ...

    async def restart(self, container_id: str, timeout: int = 10) -> None: ...

    async def remove(self, container_id: str, stop_timeout: int = 10) -> None:
        """Stops gracefully (SIGTERM, then SIGKILL after `stop_timeout`), then removes it with its
        anonymous volumes (an image's VOLUME, as database images declare); a container already gone
        is not an error."""

    async def set_restart_policy(self, container_id: str, policy: str) -> None: ...

    async def update_resources(
        self, container_id: str, cpu_limit: float | None, memory_limit: int | None, restart_policy: str
    ) -> None:
        """Applies limits and restart policy in place (what a restart picks up)."""

    # Logs

    async def logs(self, container_id: str, tail: int) -> list[str]:
        """The last `tail` lines, each starting with its timestamp; [] when the container is gone."""

    async def tail(self, container_id: str, lines: int = 20) -> list[str]:
        """The last lines without timestamps, to quote in an error; [] on any failure."""

    def follow_logs(self, container_id: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        """Log lines (each starting with its timestamp) until the container stops; nothing if it
        is gone. A watcher costs a socket, never a thread."""

    # Commands in containers

    def exec(
        self,
        container_id: str,
        command: list[str],
        env: dict[str, str] | None = None,
        stdin: AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        """Runs `command` (an argument list) in the running container and yields its stdout in
        chunks as they come; `stdin`, when given, is fed concurrently and then closed (EOF). `env`
        is the exec's environment, added to the container's: credentials go there, never in the
        command. A non-zero exit raises ExecFailed (its exit code, and a message quoting the end of
        stderr, of which a bounded tail is kept). Memory stays bounded whatever flows through: the
        output is read as fast as it is consumed. A watcher costs a socket, never a thread;
        leaving the iterator early closes the socket and ends the command (which the engine would
        leave blocked), as does an error raised by `stdin`, which is raised to the caller."""

    # Events

    def container_events(self) -> AsyncIterator[ContainerEvent]:
        """The `start`, `kill` and `die` events of the containers labelled APP_LABEL, from now on and
        for as long as it is iterated: a dropped stream is opened again from where it broke, so
        none is missed. A watcher costs a socket, never a thread."""

    async def aclose(self) -> None:
        """Releases connections and threads; the engine can be used again afterwards."""
