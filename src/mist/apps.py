"""Applications and their env vars. Owns writes to `apps` and `env_vars`.

Secret env values, the git access token and the deploy key's private half are write-only: they
are stored (the credentials encrypted), used at deploy time and redacted from logs, and no response
ever carries them again. A database app's connection password is the one exception: its owner and
admins can read it, since connecting to the database is what they need it for.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist import references
from mist.app_settings import DEFAULT_HEALTH, DEFAULT_STRATEGY
from mist.auth.permissions import app_for, part_of_app_for, project_for, project_ids_of
from mist.auth.users import is_admin
from mist.backups import schedule as backup_schedule
from mist.backups import store as backups
from mist.db.engine import Database
from mist.db.models import App, Backup, BackupDestination, Deployment, EnvVar, User, utcnow
from mist.deploy.stages import RUNNING
from mist.errors import Conflict, InvalidInput, PermissionDenied
from mist.git import GitRepos, generate_deploy_key, redact_url, url_origin, validate_branch, validate_remote_url
from mist.secretbox import SecretBox
from mist.stacks import BUILDERS
from mist.templates import TEMPLATES, generated_env

if TYPE_CHECKING:  # mist.cleanup imports this module for `Removed`
    from mist.cleanup import Cleanup

APP_TYPES = ("web", "service", "database")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
RESTART_POLICIES = ("no", "always", "unless-stopped", "on-failure")
MAX_REPLICAS = 20  # copies of one app Swarm runs; a bound so that a typo cannot fill the cluster

# What a change needs before it shows in the running app (`actionRequired`). Limits and the restart
# policy are applied to the container by a restart; everything that shapes a new container or
# image needs a deployment. Anything else (domains, strategies, health settings, the token)
# takes effect on its own or at the next deployment.
NONE, RESTART, REDEPLOY = "none", "restart", "redeploy"
_RESTART_COLUMNS = ("cpu_limit", "memory_limit", "restart_policy")
_REDEPLOY_COLUMNS = (
    "git_repository", "git_branch", "dockerfile_path", "root_directory", "port",
    "builder", "build_command", "start_command", "release_command", "replicas",
)
_COMMANDS = {"buildCommand": "build_command", "startCommand": "start_command", "releaseCommand": "release_command"}


@dataclass
class EnvInput:
    key: str
    value: str | None
    secret: bool = False
    build_time: bool = False
    runtime: bool = True


def _relative_path(field: str, value: str, default: str) -> str:
    """A path inside the repository: relative, no '..', no control characters."""
    value = (value or "").strip() or default
    if any(ord(c) < 0x20 for c in value) or "\\" in value:
        raise InvalidInput(f"{field}: must not contain control characters or backslashes")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise InvalidInput(f"{field}: must be a path inside the repository (relative, without '..')")
    return "" if str(path) == "." else str(path)


def _check_env(env: list[EnvInput]) -> None:
    seen = set()
    for item in env:
        if not _ENV_KEY.match(item.key):
            raise InvalidInput(f"envVars: '{item.key[:50]}' is not a valid variable name")
        if item.key in seen:
            raise InvalidInput(f"envVars: '{item.key}' is given twice")
        seen.add(item.key)
        if item.value is not None and "\x00" in item.value:
            raise InvalidInput(f"envVars: the value of '{item.key}' contains a NUL character")


TOKEN_DROPPED = (
    "the stored git token was dropped because the repository moved to another host; "
    "send gitToken again to use one there"
)


def _apply_source_fields(app: App, fields: dict[str, Any], box: SecretBox) -> bool:
    """Validates and sets the git/build fields; a database app takes none of them. True when the
    stored git token was dropped because the repository moved to another origin."""
    if app.app_type == "database":
        if fields.get("gitRepository"):
            raise InvalidInput("gitRepository: a database app deploys its template's image, not a repository")
        for name in ("builder", *_COMMANDS):
            if fields.get(name) and fields[name] != "auto":
                raise InvalidInput(f"{name}: a database app builds nothing")
        if fields.get("gitToken"):
            raise InvalidInput("gitToken: a database app has no repository")
        return False
    # A token saved before origins were recorded is bound to the repository it was used with.
    bound = app.git_token_origin or url_origin(app.git_repository or "")
    # A client resending the redacted URL it was shown means "unchanged", not "store the mask".
    if "gitRepository" in fields and fields["gitRepository"] != redact_url(app.git_repository or ""):
        app.git_repository = validate_remote_url(fields["gitRepository"])
    dropped = False
    if fields.get("gitToken") is not None:
        token = fields["gitToken"]
        if any(ord(c) < 0x21 or ord(c) == 0x7F for c in token):
            raise InvalidInput("gitToken: must not contain spaces or control characters")
        app.git_token = box.encrypt(token) if token else ""
        app.git_token_origin = url_origin(app.git_repository) if token else ""
    elif app.git_token:
        # The token is for the server it was saved for: whoever can edit the app must not be able to
        # point the repository at a server of their own and have the token sent there.
        if url_origin(app.git_repository) != bound:
            app.git_token, app.git_token_origin, dropped = "", "", True
        else:
            app.git_token_origin = bound
    if "gitBranch" in fields:
        app.git_branch = validate_branch(fields["gitBranch"] or "main")
    if "dockerfilePath" in fields:
        app.dockerfile_path = _relative_path("dockerfilePath", fields["dockerfilePath"], "Dockerfile")
        if not app.dockerfile_path:
            raise InvalidInput("dockerfilePath: must name a file")
    if "rootDirectory" in fields:
        app.root_directory = _relative_path("rootDirectory", fields["rootDirectory"], ".")
    _apply_build_fields(app, fields)
    return dropped


def _apply_build_fields(app: App, fields: dict[str, Any]) -> None:
    """The builder and the commands that override what it detects ("" = detected)."""
    if fields.get("builder") is not None:
        if fields["builder"] not in BUILDERS:
            raise InvalidInput(f"builder: must be one of {', '.join(BUILDERS)}")
        app.builder = fields["builder"]
    for name, column in _COMMANDS.items():
        if fields.get(name) is None:
            continue
        command = fields[name].strip()
        # One line: it ends up in a Dockerfile instruction or an `sh -c` argument.
        if any(ord(c) < 0x20 and c != "\t" for c in command):
            raise InvalidInput(f"{name}: must be one line without control characters")
        setattr(app, column, command)


_RUNTIME_FIELDS = {
    "deploymentStrategy": "deployment_strategy",
    "updateStrategy": "update_strategy",
    "healthcheckPath": "healthcheck_path",
    "healthcheckInterval": "healthcheck_interval",
    "healthcheckTimeout": "healthcheck_timeout",
    "healthcheckRetries": "healthcheck_retries",
    "healthcheckStartPeriod": "healthcheck_start_period",
}


def _apply_runtime_fields(app: App, fields: dict[str, Any]) -> None:
    """Update strategy and health check; unset (None) fields keep their defaults."""
    for name, column in _RUNTIME_FIELDS.items():
        if fields.get(name) is not None:
            setattr(app, column, fields[name])
    path = app.healthcheck_path or ""
    if path and (not path.startswith("/") or any(ord(c) < 0x21 for c in path)):
        raise InvalidInput("healthcheckPath: must start with '/' and contain no spaces or control characters")
    if app.app_type == "database" and app.update_strategy == "rolling" and fields.get("updateStrategy") == "rolling":
        raise InvalidInput("updateStrategy: a database app holds its volume alone, so it deploys with 'recreate'")
    # Limits are cleared with null, so presence, not value, says whether they change.
    if "cpuLimit" in fields:
        app.cpu_limit = fields["cpuLimit"]
    if "memoryLimit" in fields:
        app.memory_limit = fields["memoryLimit"]
    if "restartPolicy" in fields:
        policy = fields["restartPolicy"] or ""
        if policy and policy not in RESTART_POLICIES:
            raise InvalidInput(f"restartPolicy: must be one of {', '.join(RESTART_POLICIES)}")
        app.restart_policy = policy


def _apply_replicas(app: App, fields: dict[str, Any], runtime: str) -> None:
    """How many copies of the app run. Refused rather than quietly run as one: more than one on a
    single engine (only Swarm runs replicas), and more than one of a database."""
    replicas = fields.get("replicas")
    if replicas is None:
        return
    if not 1 <= replicas <= MAX_REPLICAS:
        raise InvalidInput(f"replicas: from 1 to {MAX_REPLICAS}")
    if replicas > 1 and app.app_type == "database":
        raise InvalidInput("replicas: a database app runs exactly one replica, the one that owns its data volume")
    if replicas > 1 and runtime != "swarm":
        raise InvalidInput("replicas: more than one replica needs MIST_RUNTIME=swarm (this Mist runs apps on "
                           "one Docker engine, as one container each)")
    app.replicas = replicas


def create(session: Session, user: User, fields: dict[str, Any], env: list[EnvInput], box: SecretBox,
           runtime: str = "docker") -> App:
    project = project_for(session, user, fields["projectId"])
    name = fields["name"].strip().lower()
    if not _NAME.match(name):
        raise InvalidInput("name: use 1-63 lowercase letters, digits and hyphens, not starting or ending with '-'")
    app_type = fields.get("appType") or "web"
    if app_type not in APP_TYPES:
        raise InvalidInput("appType: must be one of web, service, database")
    if session.scalar(select(App.id).where(App.project_id == project.id, App.name == name)):
        raise Conflict(f"the project already has an application named '{name}'")
    _check_env(env)
    # env_vars starts loaded, so the app can be shown once its session is closed.
    app = App(project_id=project.id, name=name, app_type=app_type, update_strategy=DEFAULT_STRATEGY,
              deployment_strategy="auto", webhook_secret="", env_vars=[],
              healthcheck_path=DEFAULT_HEALTH.path, healthcheck_interval=DEFAULT_HEALTH.interval,
              healthcheck_timeout=DEFAULT_HEALTH.timeout, healthcheck_retries=DEFAULT_HEALTH.retries,
              healthcheck_start_period=DEFAULT_HEALTH.start_period, replicas=1)
    if app_type == "database":
        app.update_strategy = "recreate"
    _apply_runtime_fields(app, fields)
    _apply_replicas(app, fields, runtime)
    if app_type == "database":
        template = TEMPLATES.get(fields.get("templateName") or "")
        if template is None:
            raise InvalidInput(f"templateName: must be one of {', '.join(TEMPLATES)}")
        app.template_name = template.name
        app.port = fields.get("port") or template.port
        app.git_repository = ""
        _apply_source_fields(app, fields, box)
        generated = {key: (value, secret) for key, value, secret in generated_env(template, name)}
        for key, (value, secret) in generated.items():
            app.env_vars.append(EnvVar(key=key, value=value, is_secret=secret, build_time=False, runtime=True))
        env = [e for e in env if e.key not in generated]
    else:
        if not fields.get("gitRepository"):
            raise InvalidInput("gitRepository: required for web and service apps")
        if fields.get("templateName"):
            raise InvalidInput("templateName: only database apps use a template")
        app.git_branch = "main"
        app.dockerfile_path = "Dockerfile"
        app.root_directory = ""
        _apply_source_fields(app, {"gitBranch": "main", "dockerfilePath": "Dockerfile", **fields}, box)
        app.port = fields.get("port")
        if app_type == "web" and app.port is None:
            raise InvalidInput("port: required for web apps (the port the container listens on)")
    for item in env:
        if item.value is None:
            raise InvalidInput(f"envVars: '{item.key}' needs a value")
        app.env_vars.append(_env_row(item))
    references.check(session, project.id, [(e.key, e.value) for e in env if e.value is not None])
    session.add(app)
    session.flush()
    return app


def _env_row(item: EnvInput) -> EnvVar:
    return EnvVar(
        key=item.key, value=item.value, is_secret=item.secret,
        build_time=item.build_time, runtime=item.runtime,
    )


def _settings_of(app: App) -> dict[str, Any]:
    return {
        "columns": {c: getattr(app, c) for c in _RESTART_COLUMNS + _REDEPLOY_COLUMNS},
        "env": sorted((e.key, e.value, e.build_time, e.runtime) for e in app.env_vars),
    }


def action_required(before: dict[str, Any], app: App) -> str:
    """What the running app needs for a change to show: none, a restart, or a redeploy."""
    after = _settings_of(app)
    was, now = before["columns"], after["columns"]
    if before["env"] != after["env"] or any(was[c] != now[c] for c in _REDEPLOY_COLUMNS):
        return REDEPLOY
    # A limit can be tightened in place, but not removed: only a new container drops it.
    if any(was[c] and not now[c] for c in ("cpu_limit", "memory_limit")):
        return REDEPLOY
    return RESTART if any(was[c] != now[c] for c in _RESTART_COLUMNS) else NONE


def update(
    session: Session, user: User, app_id: int, fields: dict[str, Any], env: list[EnvInput] | None,
    box: SecretBox, runtime: str = "docker",
) -> tuple[App, str, list[str]]:
    """Applies the changes; returns the app, what the running app needs to pick them up, and notes
    on what the update did besides what was asked (a dropped git token)."""
    app = app_for(session, user, app_id)
    before = _settings_of(app)
    if "name" in fields and fields["name"].strip().lower() != app.name:
        raise InvalidInput("name: an application cannot be renamed")
    if "appType" in fields and fields["appType"] != app.app_type:
        raise InvalidInput("appType: cannot change after creation")
    if "templateName" in fields and fields["templateName"] != app.template_name:
        raise InvalidInput("templateName: cannot change after creation")
    if app.app_type != "database" and "gitRepository" in fields and not fields["gitRepository"]:
        raise InvalidInput("gitRepository: required for web and service apps")
    notes = [TOKEN_DROPPED] if _apply_source_fields(app, fields, box) else []
    _apply_runtime_fields(app, fields)
    _apply_replicas(app, fields, runtime)
    _apply_backup_fields(session, app, fields)
    if "port" in fields:
        port = fields["port"]
        if port is None and app.app_type == "web":
            raise InvalidInput("port: required for web apps")
        # null puts a database back on its template's port; a service may listen on none.
        app.port = port if port is not None or not app.template_name else TEMPLATES[app.template_name].port
    if env is not None:
        _replace_env(app, env)
        references.check(session, app.project_id, [(e.key, e.value) for e in env if e.value is not None])
    session.flush()
    action = action_required(before, app)
    # A Swarm restart replaces each replica with the service's own spec, limits included: only a
    # deployment gives the service new limits or a new restart policy.
    if action == RESTART and runtime == "swarm":
        action = REDEPLOY
    return app, action, notes


_BACKUP_FIELDS = ("backupSchedule", "backupRetention", "backupDestinationId")


def _apply_backup_fields(session: Session, app: App, fields: dict[str, Any]) -> None:
    """A database app's schedule, retention and destination, each checked before any is set."""
    sent = [name for name in _BACKUP_FIELDS if name in fields]
    if not sent:
        return
    if not app.template_name:
        raise InvalidInput(f"{sent[0]}: only database apps are backed up")
    if "backupRetention" in fields:
        retention = fields["backupRetention"]
        if retention is None or not 1 <= retention <= 1000:
            raise InvalidInput("backupRetention: keep 1 to 1000 backups (the newest verified one is always kept)")
        app.backup_retention = retention
    if "backupDestinationId" in fields:
        destination = fields["backupDestinationId"]
        if destination is not None and session.get(BackupDestination, destination) is None:
            raise InvalidInput(f"backupDestinationId: no backup destination {destination}")
        app.backup_destination_id = destination
    if "backupSchedule" in fields:
        text = fields["backupSchedule"] or ""
        expression = backup_schedule.check(text) if text.strip() else ""
        if expression != app.backup_schedule:
            # Runs due before now were never asked for: a new schedule starts from here.
            app.backup_schedule, app.backup_schedule_since, app.backup_missed_at = expression, utcnow(), None


# A stored secret is never shown again, and unflagging it would show it: a new value must come along.
_UNSECRET = "{where}: '{key}' is a secret; to make it a plain variable, send a new value with it"


def _protected(app: App) -> set[str]:
    """The env vars holding a database app's generated credentials."""
    return set(TEMPLATES[app.template_name].env) if app.template_name else set()


def _replace_env(app: App, env: list[EnvInput]) -> None:
    """The given list becomes the app's env. A known key sent without a value keeps its stored
    value, so a client can resend secrets it cannot read; a database app keeps its credentials."""
    _check_env(env)
    current = {e.key: e for e in app.env_vars}
    protected = _protected(app)
    rows = []
    for item in env:
        old = current.get(item.key)
        if old is None:
            if item.value is None:
                raise InvalidInput(f"envVars: '{item.key}' needs a value")
            rows.append(_env_row(item))
            continue
        if item.value is None:
            if old.is_secret and not item.secret:
                raise InvalidInput(_UNSECRET.format(key=item.key, where="envVars"))
            old.is_secret = old.is_secret or item.secret
        else:
            # A template's generated credentials stay secret whatever the client sends.
            old.value, old.is_secret = item.value, item.secret or (old.is_secret and item.key in protected)
        old.build_time, old.runtime = item.build_time, item.runtime
        rows.append(old)
    given = {item.key for item in env}
    rows.extend(current[k] for k in protected if k in current and k not in given)
    app.env_vars = rows


def add_env(session: Session, user: User, app_id: int, item: EnvInput) -> tuple[EnvVar, str]:
    app = app_for(session, user, app_id)
    _check_env([item])
    if item.value is None:
        raise InvalidInput("value: required")
    if any(e.key == item.key for e in app.env_vars):
        raise Conflict(f"the app already has an env var '{item.key}'; update it instead")
    references.check(session, app.project_id, [(item.key, item.value)])
    before = _settings_of(app)
    row = _env_row(item)
    app.env_vars.append(row)
    session.flush()
    return row, action_required(before, app)


def change_env(session: Session, user: User, env_id: int, fields: dict[str, Any]) -> tuple[EnvVar, str]:
    """Changes one env var; a field left out keeps its value (so a secret can be re-flagged unread)."""
    app, row = part_of_app_for(session, user, EnvVar, env_id, "env var")
    before = _settings_of(app)
    key = fields.get("key") or row.key
    if key != row.key:
        if row.key in _protected(app):
            raise InvalidInput(f"key: '{row.key}' holds the database's credentials and cannot be renamed")
        if any(e.key == key for e in app.env_vars):
            raise Conflict(f"the app already has an env var '{key}'")
    value = fields.get("value")
    if row.is_secret and fields.get("secret") is False and value is None:
        raise InvalidInput(_UNSECRET.format(key=row.key, where="value"))
    _check_env([EnvInput(key, value)])
    if value is not None:
        references.check(session, app.project_id, [(key, value)])
        row.value = value
    row.key = key
    if fields.get("secret") is not None:
        row.is_secret = fields["secret"] or (row.is_secret and row.key in _protected(app))
    if fields.get("buildTime") is not None:
        row.build_time = fields["buildTime"]
    if fields.get("runtime") is not None:
        row.runtime = fields["runtime"]
    session.flush()
    return row, action_required(before, app)


def remove_env(session: Session, user: User, env_id: int) -> str:
    app, row = part_of_app_for(session, user, EnvVar, env_id, "env var")
    if row.key in _protected(app):
        raise InvalidInput(f"'{row.key}' holds the database's credentials and cannot be deleted")
    before = _settings_of(app)
    app.env_vars.remove(row)
    session.flush()
    return action_required(before, app)


def list_env(session: Session, user: User, app_id: int) -> list[EnvVar]:
    return list(app_for(session, user, app_id).env_vars)


def deploy_key(session: Session, user: User, app_id: int, rotate: bool, box: SecretBox) -> App:
    """The app's deploy key, made on first use (or anew when rotating); only its public half leaves."""
    app = app_for(session, user, app_id)
    if app.app_type == "database":
        raise InvalidInput("appId: a database app has no repository")
    if rotate or not app.deploy_key_public:
        private, public = generate_deploy_key(f"mist-app-{app.id}")
        app.deploy_key_private, app.deploy_key_public = box.encrypt(private), public
        session.flush()
    return app


@dataclass(frozen=True)
class Removed:
    """What a deleted app leaves outside the database, for `mist.cleanup` to remove."""

    app_id: int
    volumes: bool = False  # its Docker volumes go too, data and all
    backups: tuple[Backup, ...] = ()  # backups deleted with it, whose files go too


def prepare_removal(session: Session, app_ids: list[int], volumes: bool = False) -> list[Removed]:
    """Refuses while any of the apps deploys; else lists what their deletion leaves behind."""
    if not app_ids:
        return []
    running = session.scalar(
        select(Deployment.id).where(Deployment.app_id.in_(app_ids), Deployment.status.in_(RUNNING))
    )
    if running:
        raise Conflict(f"deployment {running} is running; wait for it to finish")
    if (job := backups.running_job(session, app_ids)) is not None:
        raise Conflict(f"{job}; wait for it to finish")
    return [Removed(app_id, volumes) for app_id in app_ids]


def delete(session: Session, user: User, app_id: int, volumes: bool = False,
           with_backups: bool = False) -> list[Removed]:
    """The app's backups stay (reached through its project) unless `with_backups`."""
    app = app_for(session, user, app_id)
    removed = prepare_removal(session, [app.id], volumes)
    if with_backups:
        removed = [Removed(app.id, volumes, tuple(backups.remove_for_app(session, app.id)))]
    session.delete(app)
    session.flush()
    return removed


def list_for_project(session: Session, user: User, project_id: int) -> list[App]:
    project = project_for(session, user, project_id)
    return list(session.scalars(select(App).where(App.project_id == project.id).order_by(App.id)))


def visible_app_ids(session: Session, user: User) -> list[int] | None:
    ids = project_ids_of(session, user)
    if ids is None:
        return None
    return list(session.scalars(select(App.id).where(App.project_id.in_(ids))))


def webhook_secret(session: Session, user: User, app_id: int, rotate: bool) -> str:
    """The app's push-to-deploy secret, made on first use; owners and admins only."""
    if not is_admin(user):
        raise PermissionDenied("only the owner and admins can see or rotate webhook secrets")
    app = app_for(session, user, app_id)
    if rotate or not app.webhook_secret:
        app.webhook_secret = secrets.token_urlsafe(32)
    return app.webhook_secret


def secret_values(app: App) -> list[str]:
    return [e.value for e in app.env_vars if e.is_secret and e.value]


class Apps:
    """What the API asks of applications. Each call is one transaction, run off the event loop;
    what a change leaves outside the database (containers, images, the git mirror, pinned host
    keys) is dealt with here too, after the rows are written, never by the route."""

    def __init__(self, db: Database, box: SecretBox, cleanup: Cleanup, git: GitRepos, runtime: str = "docker") -> None:
        self.db = db
        self.box = box
        self.cleanup = cleanup
        self.git = git
        self.runtime = runtime  # MIST_RUNTIME: only `swarm` runs more than one replica of an app

    async def create(self, user: User, fields: dict[str, Any], env: list[EnvInput]) -> App:
        return await self.db.run(create, user, fields, env, self.box, self.runtime)

    async def get(self, user: User, app_id: int) -> App:
        return await self.db.run(app_for, user, app_id)

    async def list_for_project(self, user: User, project_id: int) -> list[App]:
        return await self.db.run(list_for_project, user, project_id)

    async def update(
        self, user: User, app_id: int, fields: dict[str, Any], env: list[EnvInput] | None,
    ) -> tuple[App, str, list[str]]:
        return await self.db.run(update, user, app_id, fields, env, self.box, self.runtime)

    async def delete(self, user: User, app_id: int, volumes: bool, with_backups: bool = False) -> None:
        removed = await self.db.run(delete, user, app_id, volumes, with_backups)
        await self.cleanup.remove(removed)

    async def deploy_key(self, user: User, app_id: int, rotate: bool, forget_host_keys: bool) -> str:
        """The public half of the app's deploy key; forgetting the pinned host keys lets the next
        clone trust the server's new ones (after a legitimate change of its keys)."""
        app = await self.db.run(deploy_key, user, app_id, rotate, self.box)
        if forget_host_keys:
            await self.git.forget_host_keys(app.id)
        return app.deploy_key_public

    async def add_env(self, user: User, app_id: int, item: EnvInput) -> tuple[EnvVar, str]:
        return await self.db.run(add_env, user, app_id, item)

    async def list_env(self, user: User, app_id: int) -> list[EnvVar]:
        return await self.db.run(list_env, user, app_id)

    async def change_env(self, user: User, env_id: int, fields: dict[str, Any]) -> tuple[EnvVar, str]:
        return await self.db.run(change_env, user, env_id, fields)

    async def remove_env(self, user: User, env_id: int) -> str:
        return await self.db.run(remove_env, user, env_id)

    async def webhook_secret(self, user: User, app_id: int, rotate: bool) -> str:
        return await self.db.run(webhook_secret, user, app_id, rotate)
