"""Tables. Each table's writes belong to one module, named in its docstring."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Naive UTC: SQLite keeps no zone, so every stored time is UTC by convention."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 UTC, as the API returns every timestamp."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


class Base(DeclarativeBase):
    pass


class User(Base):
    """Written by mist.auth.users."""

    __tablename__ = "users"
    # Exactly one owner, enforced by the database: concurrent first sign-ups cannot make two.
    __table_args__ = (
        Index("uq_users_one_owner", "role", unique=True,
              sqlite_where=text("role = 'owner'"), postgresql_where=text("role = 'owner'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # owner | admin | user
    # A disabled user keeps their rows but can neither sign in nor use a session or token.
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuthSession(Base):
    """Written by mist.auth.sessions. Only a hash of the cookie value is stored."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """Written by mist.auth.tokens. Only a hash of the token is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scope: Mapped[str] = mapped_column(String(16))  # read | deploy | admin
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class AuditLog(Base):
    """Written by mist.audit."""

    __tablename__ = "audit_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    username: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(128), default="")
    details: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class WebhookDelivery(Base):
    """Written by mist.webhooks: one row per push event, so a redelivery never deploys twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (UniqueConstraint("app_id", "provider", "delivery"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    delivery: Mapped[str] = mapped_column(String(128))
    deployment_id: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Project(Base):
    """Written by mist.projects."""

    __tablename__ = "projects"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    members: Mapped[list[ProjectMember]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin"
    )


class ProjectMember(Base):
    """Written by mist.projects."""

    __tablename__ = "project_members"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class App(Base):
    """Written by mist.apps."""

    __tablename__ = "apps"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(63))
    app_type: Mapped[str] = mapped_column(String(16))  # web | service | database
    git_repository: Mapped[str] = mapped_column(Text, default="")
    git_branch: Mapped[str] = mapped_column(String(255), default="main")
    dockerfile_path: Mapped[str] = mapped_column(Text, default="Dockerfile")
    root_directory: Mapped[str] = mapped_column(Text, default="")
    # How the image is built: auto (the Dockerfile, else a detected stack) or one named (mist.stacks).
    builder: Mapped[str] = mapped_column(String(16), default="auto")
    # Override what detection infers; "" = detected (the Procfile's lines count as detected).
    build_command: Mapped[str] = mapped_column(Text, default="")
    start_command: Mapped[str] = mapped_column(Text, default="")
    release_command: Mapped[str] = mapped_column(Text, default="")
    port: Mapped[int | None] = mapped_column(Integer)
    template_name: Mapped[str] = mapped_column(String(32), default="")
    update_strategy: Mapped[str] = mapped_column(String(16), default="rolling")  # rolling | recreate
    healthcheck_path: Mapped[str] = mapped_column(String(1024), default="")  # "" = TCP connect
    healthcheck_interval: Mapped[int] = mapped_column(Integer, default=2)
    healthcheck_timeout: Mapped[int] = mapped_column(Integer, default=5)
    healthcheck_retries: Mapped[int] = mapped_column(Integer, default=15)
    healthcheck_start_period: Mapped[int] = mapped_column(Integer, default=0)
    deployment_strategy: Mapped[str] = mapped_column(String(16), default="auto")  # auto | manual (pushes)
    webhook_secret: Mapped[str] = mapped_column(String(128), default="")
    # Private repositories: the deploy key's private half and the access token are stored
    # encrypted (mist.secretbox); neither is ever returned.
    deploy_key_public: Mapped[str] = mapped_column(Text, default="")
    deploy_key_private: Mapped[str] = mapped_column(Text, default="")
    git_token: Mapped[str] = mapped_column(Text, default="")
    # "scheme://host[:port]" the token was saved for: it is never sent anywhere else.
    git_token_origin: Mapped[str] = mapped_column(String(300), default="")
    cpu_limit: Mapped[float | None] = mapped_column(Float)  # CPUs
    memory_limit: Mapped[int | None] = mapped_column(Integer)  # MiB
    restart_policy: Mapped[str] = mapped_column(String(16), default="")  # "" = Mist's default
    # Copies of the app Swarm runs (MIST_RUNTIME=swarm); 1 on one engine, and always 1 for a database.
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    # Database apps: a cron expression ("" = none), how many successful backups to keep, and where.
    backup_schedule: Mapped[str] = mapped_column(String(100), default="")
    backup_retention: Mapped[int] = mapped_column(Integer, default=7)
    backup_destination_id: Mapped[int | None] = mapped_column(Integer)  # None: MIST_BACKUP_DIR
    # When the schedule was last set: runs due before it were never asked for, so none is "missed".
    backup_schedule_since: Mapped[datetime | None] = mapped_column(DateTime)
    # When `backup.missed` was last raised, so one gap is told once.
    backup_missed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Last deployment_number handed out; incremented in the same statement that reads it.
    deployment_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    env_vars: Mapped[list[EnvVar]] = relationship(
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
        order_by="EnvVar.key",
    )


class Domain(Base):
    """Written by mist.domains. A domain routes to one app only."""

    __tablename__ = "domains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EnvVar(Base):
    """Written by mist.apps."""

    __tablename__ = "env_vars"
    __table_args__ = (UniqueConstraint("app_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(255))
    value: Mapped[str] = mapped_column(Text)
    is_secret: Mapped[bool] = mapped_column(Boolean, default=False)
    build_time: Mapped[bool] = mapped_column(Boolean, default=False)
    runtime: Mapped[bool] = mapped_column(Boolean, default=True)


class Volume(Base):
    """Written by mist.volumes. A named Docker volume of the app, or (owners and admins only) a host
    directory, mounted at container_path from the next deployment on."""

    __tablename__ = "volumes"
    __table_args__ = (UniqueConstraint("app_id", "name"), UniqueConstraint("app_id", "container_path"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    container_path: Mapped[str] = mapped_column(String(1024))
    host_path: Mapped[str] = mapped_column(String(1024), default="")  # "" = a named volume
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Deployment(Base):
    """Written by mist.deploy.store. The rows with status 'pending' are the deploy queue."""

    __tablename__ = "deployments"
    __table_args__ = (
        UniqueConstraint("app_id", "deployment_number"),
        Index("ix_deployments_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), index=True)
    deployment_number: Mapped[int] = mapped_column(Integer)
    commit_hash: Mapped[str] = mapped_column(String(64), default="")
    commit_message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    stage: Mapped[str] = mapped_column(String(32), default="")
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    rolled_back_from: Mapped[int | None] = mapped_column(
        ForeignKey("deployments.id", ondelete="SET NULL")
    )
    # The deployment this one re-runs, for a rollback (which neither clones nor builds).
    rollback_of: Mapped[int | None] = mapped_column(ForeignKey("deployments.id", ondelete="SET NULL"))
    # What the container was started with (JSON): a rollback starts exactly this again.
    snapshot: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[str] = mapped_column(String(255), default="")
    image_removed: Mapped[bool] = mapped_column(Boolean, default=False)
    container_id: Mapped[str] = mapped_column(String(64), default="")
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    # Why someone asked to stop it while it ran; the process running it looks for this every second
    # (the request may have reached another process).
    stop_requested: Mapped[str] = mapped_column(String(200), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class LogLine(Base):
    """Written by mist.deploy.logs. A deployment's log, one row per line, numbered from 0: in the
    database so that every Mist process can replay a deployment another one runs."""

    __tablename__ = "deployment_logs"

    deployment_id: Mapped[int] = mapped_column(
        ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    line: Mapped[str] = mapped_column(Text)


class Upstream(Base):
    """Written by mist.proxy.router. Where each routed app's traffic goes ("IP:PORT" of its serving
    container): in the database, so whichever process configures Caddy routes every app."""

    __tablename__ = "upstreams"

    app_id: Mapped[int] = mapped_column(ForeignKey("apps.id", ondelete="CASCADE"), primary_key=True,
                                        autoincrement=False)
    address: Mapped[str] = mapped_column(String(300))


class Fact(Base):
    """Written by mist.keycheck. Facts about this Mist installation that every process must agree
    on, e.g. which server secret the stored credentials are encrypted with."""

    __tablename__ = "facts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Notification(Base):
    """Written by mist.notifications.service. Where Mist tells someone that something happened: the
    target (a URL with a token in it, or e-mail addresses) and a webhook's signing secret are stored
    encrypted (mist.secretbox)."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # webhook | slack | discord | email
    target: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(Text, default="")  # webhook only
    events: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of event names
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class NotificationDelivery(Base):
    """Written by mist.notifications.outbox. One event for one notification: the durable outbox,
    added in the transaction of what it tells of, delivered and retried by the dispatchers."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (Index("ix_notification_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # JSON, without the dashboard link (added when sent)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | delivered | failed
    attempts_made: Mapped[int] = mapped_column(Integer, default=0)
    # When a dispatcher may take it next: while one holds it, the end of that dispatcher's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class NotificationAttempt(Base):
    """Written by mist.notifications.outbox: one try at a delivery, with what the receiver answered."""

    __tablename__ = "notification_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("notification_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[str] = mapped_column(String(500), default="")


class BackupDestination(Base):
    """Written by mist.backups.service. An S3-compatible bucket; the secret key is stored encrypted
    (mist.secretbox) and never returned."""

    __tablename__ = "backup_destinations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    endpoint: Mapped[str] = mapped_column(String(500))
    bucket: Mapped[str] = mapped_column(String(63))
    region: Mapped[str] = mapped_column(String(64), default="")
    prefix: Mapped[str] = mapped_column(String(500), default="")
    access_key: Mapped[str] = mapped_column(String(200))
    secret_key: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Backup(Base):
    """Written by mist.backups.store. Outlives its app (unless deleted with it): the app's id, name
    and engine are kept here, not referenced."""

    __tablename__ = "backups"
    # A scheduled run is one row whichever process enqueues it first.
    __table_args__ = (UniqueConstraint("app_id", "scheduled_for"), Index("ix_backups_due", "status", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[int] = mapped_column(Integer, index=True)
    project_id: Mapped[int] = mapped_column(Integer, index=True)
    app_name: Mapped[str] = mapped_column(String(63))
    engine: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | success | failed
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule | before_restore
    # What the job does: make the backup, or verify it again (a restore into a throwaway container).
    job: Mapped[str] = mapped_column(String(16), default="backup")  # backup | verify
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64), default="")
    destination_id: Mapped[int | None] = mapped_column(Integer)  # None: MIST_BACKUP_DIR
    location: Mapped[str] = mapped_column(Text, default="")
    name: Mapped[str] = mapped_column(String(255), default="")  # the file's name in its storage
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    scheduled_for: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class Restore(Base):
    """Written by mist.backups.store: a backup restored into an app, with its own log."""

    __tablename__ = "restores"
    __table_args__ = (Index("ix_restores_due", "status", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    backup_id: Mapped[int] = mapped_column(Integer, index=True)
    app_id: Mapped[int] = mapped_column(Integer, index=True)
    project_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | success | failed
    before_backup_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    log: Mapped[str] = mapped_column(Text, default="")  # lines, bounded by mist.backups.store
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
