"""Plain-value requests to the container engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BuildRequest:
    context_dir: Path
    dockerfile: str  # relative to context_dir
    tag: str
    build_args: dict[str, str] = field(default_factory=dict)
    dockerignore: str = ""  # the context's .dockerignore, as read safely from the checkout
    context_max_bytes: int = 0  # the build context tar may not grow past this; 0: no limit
    # A Dockerfile Mist wrote (no file in the checkout): sent inside the context as `dockerfile`.
    dockerfile_text: str = ""


@dataclass(frozen=True)
class ContainerRequest:
    name: str
    image: str
    labels: dict[str, str]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None
    restart_policy: str = "unless-stopped"
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> path in the container
    binds: dict[str, str] = field(default_factory=dict)  # host directory -> path in the container
    read_only: tuple[str, ...] = ()  # paths in the container mounted read-only
    command: list[str] | None = None
    network: str = ""  # "" = the engine's default bridge; "none" = no network at all (loopback only)
    aliases: tuple[str, ...] = ()  # DNS names on `network`
    cpu_limit: float | None = None  # CPUs
    memory_limit: int | None = None  # MiB
    # An init process as PID 1 forwards SIGTERM, so apps that install no handler still stop
    # promptly (and zombies are reaped) instead of waiting out the stop timeout.
    init: bool = True


@dataclass(frozen=True)
class ContainerState:
    id: str
    name: str
    status: str  # created | running | exited | ...
    exit_code: int
    ip_address: str
    labels: dict[str, str]
    restart_count: int = 0
    started_at: str = ""
    image: str = ""
    cpu_limit: float | None = None  # as applied to the container
    memory_limit: int | None = None  # MiB
    restart_policy: str = ""

    def address(self, port: int | None) -> str | None:
        """Where the proxy reaches the app's `port` in this container (the upstream); None when
        the app listens on no port or the container has no address (it is not running)."""
        return f"{self.ip_address}:{port}" if port and self.ip_address else None

    @property
    def crashed(self) -> bool:
        """Exited, or exited and brought back by its restart policy (which hides a crash loop)."""
        return self.status != "running" or self.restart_count > 0


@dataclass(frozen=True)
class ContainerEvent:
    """One thing the engine tells of an app's container: `start`, `kill` (a stop, restart or removal
    someone asked for: the engine announces one before the `die` it causes, a crash has none) or
    `die` (the process ended, `exit_code` saying how)."""

    container_id: str
    name: str
    action: str
    exit_code: int
    labels: dict[str, str]
    at: float  # seconds since the epoch, as the engine stamped it
