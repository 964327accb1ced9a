"""Everything a running Mist is made of, built once from the settings at the entry point."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mist.apps import Apps
from mist.audit import Audit
from mist.auth.throttle import LoginThrottle
from mist.auth.tokens import Tokens
from mist.auth.users import Users
from mist.backups.cipher import backup_key
from mist.backups.destinations import Storages
from mist.backups.jobs import BackupJobs
from mist.backups.scheduler import Scheduler
from mist.backups.service import Backups
from mist.cleanup import Cleanup
from mist.config import Settings
from mist.containers import Containers
from mist.db.channel import Channel
from mist.db.engine import Database
from mist.db.locks import BACKUP_LEADER, CRASH_LEADER, NETWORKS, Leadership, Lock
from mist.deploy.events import EventBus
from mist.deploy.logs import LogStore
from mist.deploy.relay import relay
from mist.deploy.service import Deployments
from mist.deploy.worker import Workers
from mist.dockerfiles import Dockerfiles
from mist.domains import Domains
from mist.git import GitRepos
from mist.housekeeping import Housekeeping
from mist.nodes import Nodes
from mist.notifications.crashes import CrashWatch
from mist.notifications.dispatcher import Dispatcher
from mist.notifications.senders import Senders
from mist.notifications.service import Notifications
from mist.projects import Projects
from mist.proxy.caddy import Caddy, CaddyProxy
from mist.proxy.container import CaddyContainer, dashboard_route
from mist.proxy.router import Router
from mist.runtime.docker import DockerEngine
from mist.runtime.engine import Engine
from mist.runtime.services import Services as Orchestrator
from mist.runtime.swarm import Swarm
from mist.runtime.swarmservices import SwarmServices
from mist.secretbox import SecretBox
from mist.stacks import base_images
from mist.volumes import Volumes
from mist.webhooks import Webhooks


@dataclass
class Services:
    settings: Settings
    db: Database
    bus: EventBus
    # Carries deployment events to the other processes sharing a PostgreSQL database; None on SQLite.
    channel: Channel | None
    logs: LogStore
    engine: Engine
    git: GitRepos
    router: Router
    workers: Workers
    deployments: Deployments
    box: SecretBox
    containers: Containers
    throttle: LoginThrottle
    housekeeping: Housekeeping
    apps: Apps
    dockerfiles: Dockerfiles
    projects: Projects
    domains: Domains
    volumes: Volumes
    webhooks: Webhooks
    audit: Audit
    tokens: Tokens
    users: Users
    # Delivers the notifications outbox in the background (started with the workers).
    dispatcher: Dispatcher
    notifications: Notifications
    # Writes `container.crashed` when an app's container dies on its own (started with the dispatcher).
    crashes: CrashWatch
    # Runs queued backups, verifications and restores; the scheduler queues the scheduled ones.
    backup_jobs: BackupJobs
    backup_scheduler: Scheduler
    backups: Backups
    # The swarm's nodes, through the manager the engine is (MIST_RUNTIME=swarm checks it at start).
    swarm: Swarm
    nodes: Nodes
    # Swarm mode's orchestrator of app services; None on the one engine.
    orchestrator: Orchestrator | None


def build_services(settings: Settings) -> Services:
    db = Database(settings.db_url)
    bus = EventBus()
    logs = LogStore(db, settings.log_max_mb)
    swarm_mode = settings.runtime == "swarm"
    engine = DockerEngine(build_timeout=settings.build_timeout_seconds, build_threads=max(1, settings.workers),
                          network_driver="overlay" if swarm_mode else "bridge")
    orchestrator = SwarmServices(settings.registry) if swarm_mode else None
    git = GitRepos(settings.git_dir, timeout=settings.git_timeout_seconds, ca_file=settings.git_ca_file)
    # Swarm mode: Caddy runs in a container on the project overlays, where the replicas' addresses are.
    caddy = (
        CaddyContainer(settings.proxy_image, admin=settings.proxy_admin, listen=settings.proxy_listen,
                       tls=settings.proxy_tls,
                       dashboard=dashboard_route(settings.public_host, settings.host, settings.port))
        if swarm_mode else
        CaddyProxy(admin=settings.proxy_admin, listen=settings.proxy_listen, tls=settings.proxy_tls,
                   state_dir=settings.data_dir / "caddy", dashboard=settings.dashboard_route)
    )
    proxy = Caddy(caddy) if settings.proxy_enabled else None
    router = Router(db, engine, proxy, settings.reserved_hosts, orchestrated=swarm_mode)
    box = SecretBox(settings.secret_file)
    workers = Workers(settings, db, bus, logs, engine, git, router, box, Lock(db, NETWORKS), orchestrator)
    swarm = Swarm()
    storages = Storages(db, box, settings.backups_dir)
    backup_jobs = BackupJobs(db, engine, storages, backup_key(box), settings.template_images)
    cleanup = Cleanup(engine, git, backup_jobs.remove_files, orchestrator)
    channel = None if db.is_sqlite else relay(db, bus, logs, workers)
    dispatcher = Dispatcher(db, box, Senders(settings.smtp_url), settings.public_url)
    return Services(
        settings=settings, db=db, bus=bus, logs=logs, channel=channel, engine=engine, git=git, router=router,
        workers=workers,
        deployments=Deployments(
            db, git, logs, workers, engine, settings.template_images, settings.image_retention, box
        ),
        box=box,
        containers=Containers(db, engine, router, settings, orchestrator),
        throttle=LoginThrottle(),
        housekeeping=Housekeeping(db, settings.audit_retention_days),
        apps=Apps(db, box, cleanup, git, settings.runtime),
        dockerfiles=Dockerfiles(db, git, box, settings.builds_dir, base_images(settings.builder_images)),
        projects=Projects(db, cleanup),
        domains=Domains(db, router, settings.public_host, settings.reserved_hosts),
        volumes=Volumes(db, cleanup, settings.data_dir, settings.mount_roots),
        webhooks=Webhooks(db, git, workers),
        audit=Audit(db),
        tokens=Tokens(db),
        users=Users(db, timedelta(hours=settings.session_ttl_hours)),
        dispatcher=dispatcher,
        notifications=Notifications(db, box, dispatcher, settings.smtp_url),
        crashes=CrashWatch(db, engine, Leadership(db, CRASH_LEADER)),
        backup_jobs=backup_jobs,
        backup_scheduler=Scheduler(db, Leadership(db, BACKUP_LEADER), backup_jobs.notify),
        backups=Backups(db, box, storages, backup_jobs),
        swarm=swarm,
        nodes=Nodes(swarm),
        orchestrator=orchestrator,
    )
