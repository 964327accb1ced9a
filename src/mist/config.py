"""Settings, read once from MIST_* environment variables at the entry point and passed down."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_data_dir() -> Path:
    # Root runs Mist as a system service; anyone else keeps their data in their own home.
    if os.geteuid() == 0:
        return Path("/var/lib/mist")
    return Path.home() / ".local" / "share" / "mist"


def _host_of(url: str) -> str:
    return (urlsplit(url.strip()).hostname or "").lower().rstrip(".") if url.strip() else ""


def host_list(text: str) -> frozenset[str]:
    """A comma-separated list of host names, as compared: lowercase, without a trailing dot."""
    return frozenset(h.strip().lower().rstrip(".") for h in text.split(",") if h.strip())


# Where a setting's value came from (`Settings.source`), as `mist settings` reports it.
ENVIRONMENT, COMMAND_LINE, DEFAULT = "environment", "command line", "default"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MIST_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # 0: the process serves the API and runs no deployments (a web tier beside worker processes).
    workers: int = Field(default=2, ge=0, le=64)
    log_level: str = "info"
    secure_cookies: bool = False
    # The server secret credentials are encrypted with; every process sharing a database needs the same one.
    secret_key_file: Path | None = None
    session_ttl_hours: int = Field(default=24 * 14, ge=1)
    lease_seconds: int = Field(default=30, ge=5)
    git_timeout_seconds: int = Field(default=300, ge=5)
    # A PEM bundle git trusts for https remotes instead of the system's, e.g. a private CA's.
    git_ca_file: Path | None = None
    clone_timeout_seconds: float = Field(default=600, gt=0)
    build_timeout_seconds: float = Field(default=3600, gt=0)
    health_timeout_seconds: float = Field(default=300, gt=0)
    drain_seconds: float = Field(default=1, ge=0)
    stop_timeout_seconds: int = Field(default=10, ge=0)
    image_retention: int = Field(default=5, ge=1)
    proxy_enabled: bool = True
    proxy_listen: str = ":80"
    proxy_admin: str = "127.0.0.1:2019"
    proxy_tls: bool = False
    # JSON object, e.g. MIST_TEMPLATE_IMAGES='{"redis": "registry.local/redis:7"}'.
    template_images: dict[str, str] = Field(default_factory=dict)
    # JSON object overriding the base images of builds without a Dockerfile (keys: python, node, go,
    # go-runtime, static), e.g. MIST_BUILDER_IMAGES='{"python": "registry.local/python:{version}-slim"}'.
    builder_images: dict[str, str] = Field(default_factory=dict)
    restart_policy: str = "unless-stopped"
    # The URL people use for the dashboard and API; its host can never become an app domain,
    # and browsers' Origin headers are checked against it.
    public_url: str = ""
    # Comma-separated host names no app may claim (besides public_url's host).
    reserved_domains: str = ""
    # Comma-separated directories under which owners and admins may mount host paths; empty = none.
    host_mount_roots: str = ""
    build_context_max_mb: int = Field(default=512, ge=1)
    log_max_mb: int = Field(default=64, ge=1)  # per deployment log
    audit_retention_days: int = Field(default=90, ge=1)
    max_body_kb: int = Field(default=1024, ge=1)  # every API request body
    webhook_max_body_kb: int = Field(default=10240, ge=1)  # push events can carry many commits
    # Where e-mail notifications are sent through: smtp://user:password@host:587?from=mist@example.com&starttls=1
    # (or smtps://). Holds a password: `mist settings` masks it.
    smtp_url: str = ""
    # Where apps run: `docker` (the one engine, the default) or `swarm` (a Docker Swarm, through a manager).
    runtime: Literal["docker", "swarm"] = "docker"
    # Swarm mode: the registry (HOST:PORT) every node pulls app images from; Mist pushes each build there.
    registry: str = ""
    # Swarm mode: the image Caddy runs from on the manager (only its `caddy` binary is used).
    proxy_image: str = "caddy:2"
    # Where backups without an S3 destination are kept; default $MIST_DATA_DIR/backups.
    backup_dir: Path | None = None

    # The fields given as arguments rather than read from MIST_*: `mist serve --host/--port/--workers`.
    _given: frozenset[str] = PrivateAttr(default=frozenset())

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        self._given = frozenset(name for name in values if name in type(self).model_fields)

    def source(self, name: str) -> str:
        """Where the field's value came from: the command line, a MIST_* variable or the default."""
        if name in self._given:
            return COMMAND_LINE
        # pydantic counts a field as set when a source supplied it; the only other source is the environment.
        return ENVIRONMENT if name in self.model_fields_set else DEFAULT

    @property
    def public_host(self) -> str:
        return _host_of(self.public_url)

    @property
    def reserved_hosts(self) -> frozenset[str]:
        """Host names that can never be an app's domain: the dashboard's own and the listed ones."""
        return host_list(self.reserved_domains) | ({self.public_host} if self.public_host else set())

    @property
    def dashboard_route(self) -> tuple[str, str] | None:
        """(MIST_PUBLIC_URL's host, Mist's own address) for the proxy to serve the dashboard on."""
        if not self.public_host:
            return None
        own = "127.0.0.1" if self.host in ("0.0.0.0", "") else "[::1]" if self.host == "::" else self.host
        return self.public_host, f"{own}:{self.port}"

    @property
    def mount_roots(self) -> tuple[Path, ...]:
        """The allowlist of host mount roots, resolved; empty means host mounts are off."""
        return tuple(Path(p.strip()).resolve() for p in self.host_mount_roots.split(",") if p.strip())

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'mist.db'}"

    @property
    def logs_dir(self) -> Path:
        """Where versions before 0006 kept deployment logs as files (moved into the database at start-up)."""
        return self.data_dir / "logs"

    @property
    def git_dir(self) -> Path:
        return self.data_dir / "git"

    @property
    def secret_file(self) -> Path:
        """The server secret the stored credentials are encrypted with; back it up with the database."""
        return self.secret_key_file or self.data_dir / "secret.key"

    @property
    def backups_dir(self) -> Path:
        return self.backup_dir or self.data_dir / "backups"

    @property
    def builds_dir(self) -> Path:
        return self.data_dir / "builds"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite database's file, None on PostgreSQL."""
        url = self.db_url
        return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None

    def prepare_dirs(self) -> None:
        for path in (self.data_dir, self.git_dir, self.builds_dir, self.backups_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
