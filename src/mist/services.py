"""Everything a running Mist is made of, built once from the settings at the entry point."""

from __future__ import annotations

from dataclasses import dataclass

from mist.auth.throttle import LoginThrottle
from mist.cleanup import Cleanup
from mist.config import Settings
from mist.containers import Containers
from mist.db.engine import Database
from mist.deploy.events import EventBus
from mist.deploy.logs import LogStore
from mist.deploy.service import Deployments
from mist.deploy.worker import Workers
from mist.git import GitRepos
from mist.housekeeping import Housekeeping
from mist.proxy.caddy import CaddyProxy
from mist.proxy.router import Router
from mist.runtime.docker import DockerRuntime
from mist.secretbox import SecretBox


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    logs: LogStore
    runtime: DockerRuntime
    git: GitRepos
    router: Router
    workers: Workers
    deployments: Deployments
    cleanup: Cleanup
    box: SecretBox
    containers: Containers
    throttle: LoginThrottle
    housekeeping: Housekeeping


def build_services(settings: Settings) -> Services:
    db = Database(settings.db_url)
    bus = EventBus()
    logs = LogStore(settings.logs_dir, settings.log_max_mb)
    runtime = DockerRuntime()
    git = GitRepos(settings.git_dir, timeout=settings.git_timeout_seconds, ca_file=settings.git_ca_file)
    proxy = (
        CaddyProxy(admin=settings.proxy_admin, listen=settings.proxy_listen, tls=settings.proxy_tls,
                   state_dir=settings.data_dir / "caddy", dashboard=settings.dashboard_route)
        if settings.proxy_enabled else None
    )
    router = Router(db, runtime, proxy, settings.reserved_hosts)
    box = SecretBox(settings.secret_file)
    workers = Workers(settings, db, bus, logs, runtime, git, router, box)
    return Services(
        settings=settings, db=db, bus=bus, logs=logs, runtime=runtime, git=git, router=router,
        workers=workers,
        deployments=Deployments(
            db, git, logs, workers, runtime, settings.template_images, settings.image_retention, box
        ),
        cleanup=Cleanup(runtime, git, logs),
        box=box,
        containers=Containers(db, runtime, router, settings),
        throttle=LoginThrottle(),
        housekeeping=Housekeeping(db, settings.audit_retention_days),
    )
