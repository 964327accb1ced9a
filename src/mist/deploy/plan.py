"""What one deployment will do, fixed when a worker takes it: a snapshot of the app's settings,
and the engine requests derived from it. Pure values and pure functions, so tests can read them.

The part of the plan that shapes the running container is kept with the deployment as its
snapshot, so a rollback starts exactly what ran then, whatever the app's settings are now.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist import references
from mist.app_settings import resolve
from mist.config import Settings
from mist.db.models import App, Deployment, Volume
from mist.deploy.health import HealthCheck
from mist.git import GitAuth, url_origin, url_secrets
from mist.runtime.engine import APP_LABEL, DEPLOYMENT_LABEL, PROJECT_LABEL, image_repository
from mist.runtime.requests import BuildRequest, ContainerRequest
from mist.runtime.services import NetworkAttachment, ServiceHealth, ServiceRequest, service_name
from mist.secretbox import SecretBox
from mist.stacks import Overrides, base_images
from mist.templates import TEMPLATES, template_image, volume_name
from mist.volumes import checked_binds, docker_name


def network_name(project_id: int) -> str:
    """Each project's apps share one network, where each is reachable by its name."""
    return f"mist-project-{project_id}"


@dataclass(frozen=True)
class Runtime:
    """How the container runs: the snapshot a rollback reuses."""

    env: dict[str, str]
    port: int | None
    restart_policy: str
    strategy: str  # rolling | recreate
    health: HealthCheck
    command: list[str] | None = None
    volumes: dict[str, str] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    binds: dict[str, str] = field(default_factory=dict)
    read_only: tuple[str, ...] = ()
    cpu_limit: float | None = None
    memory_limit: int | None = None
    replicas: int = 1  # Swarm mode; the one engine runs one container

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Runtime:
        data = json.loads(text)
        data["health"] = HealthCheck(**data["health"])
        data["secrets"] = tuple(data["secrets"])
        data["read_only"] = tuple(data.get("read_only", ()))
        return cls(**data)


@dataclass(frozen=True)
class DeployPlan:
    deployment_id: int
    app_id: int
    app_name: str
    app_type: str
    commit_hash: str
    git_url: str
    root_directory: str
    dockerfile_path: str
    build_args: dict[str, str]
    runtime: Runtime
    template_image: str = ""  # database apps build nothing and run this
    rollback_image: str = ""  # a rollback neither clones nor builds, and runs this
    project_id: int = 0
    git_auth: GitAuth = field(default_factory=GitAuth, repr=False)
    builder: str = "auto"  # mist.stacks.BUILDERS
    commands: Overrides = field(default_factory=Overrides)
    builder_images: dict[str, str] = field(default_factory=lambda: base_images({}))

    @property
    def builds_from_source(self) -> bool:
        return not (self.template_image or self.rollback_image)

    @property
    def image_tag(self) -> str:
        return self.rollback_image or self.template_image or f"{image_repository(self.app_id)}:{self.deployment_id}"

    @property
    def labels(self) -> dict[str, str]:
        return {APP_LABEL: str(self.app_id), DEPLOYMENT_LABEL: str(self.deployment_id)}

    @property
    def secrets(self) -> tuple[str, ...]:
        return self.runtime.secrets + tuple(s for s in (self.git_auth.token,) if s)

    @property
    def network(self) -> str:
        return network_name(self.project_id)

    @property
    def network_labels(self) -> dict[str, str]:
        return {PROJECT_LABEL: str(self.project_id)}


def _runtime(session: Session, app: App, settings: Settings) -> Runtime:
    env = {e.key: e.value for e in app.env_vars if e.runtime}
    if app.port and "PORT" not in env:
        env["PORT"] = str(app.port)  # the Heroku convention many frameworks read
    env, referenced_secrets = references.resolve(session, app.project_id, env)
    template = TEMPLATES.get(app.template_name)
    volumes = {volume_name(app.id): template.data_path} if template else {}
    binds: dict[str, str] = {}
    read_only: list[str] = []
    for volume in session.scalars(select(Volume).where(Volume.app_id == app.id).order_by(Volume.id)):
        if volume.host_path:
            binds[volume.host_path] = volume.container_path
        else:
            volumes[docker_name(volume)] = volume.container_path
        if volume.read_only:
            read_only.append(volume.container_path)
    binds = checked_binds(binds, settings.data_dir, settings.mount_roots)
    effective = resolve(app, settings)  # the same values `mist status` reports
    return Runtime(
        env=env,
        port=app.port,
        restart_policy=effective.restart_policy.value,
        strategy=effective.update_strategy.value,
        health=effective.health,
        command=["sh", "-c", template.shell_command] if template and template.shell_command else None,
        volumes=volumes,
        secrets=tuple(e.value for e in app.env_vars if e.is_secret) + tuple(url_secrets(app.git_repository))
        + tuple(referenced_secrets),
        binds=binds,
        read_only=tuple(read_only),
        cpu_limit=effective.cpu_limit.value,
        memory_limit=effective.memory_limit.value,
        replicas=app.replicas,
    )


def git_auth(app: App, box: SecretBox) -> GitAuth:
    return GitAuth(
        ssh_key=box.decrypt(app.deploy_key_private) if app.deploy_key_private else "",
        token=box.decrypt(app.git_token) if app.git_token else "",
        # A token saved before origins were recorded counts as saved for the current repository.
        token_origin=app.git_token_origin or url_origin(app.git_repository or ""),
    )


def load_plan(session: Session, deployment_id: int, settings: Settings, box: SecretBox) -> DeployPlan:
    deployment = session.get_one(Deployment, deployment_id)
    app = session.get_one(App, deployment.app_id)
    build_args, _ = references.resolve(
        session, app.project_id, {e.key: e.value for e in app.env_vars if e.build_time}
    )
    rollback_image = ""
    if deployment.rollback_of is not None:
        source = session.get_one(Deployment, deployment.rollback_of)
        runtime, rollback_image = Runtime.from_json(source.snapshot), source.image
        # The snapshot's host mounts were allowed then; a rollback must not bring back one refused now.
        runtime = replace(runtime, binds=checked_binds(runtime.binds, settings.data_dir, settings.mount_roots))
    else:
        runtime = _runtime(session, app, settings)
    plan = DeployPlan(
        deployment_id=deployment.id, app_id=app.id, app_name=app.name, app_type=app.app_type,
        commit_hash=deployment.commit_hash, git_url=app.git_repository,
        root_directory=app.root_directory, dockerfile_path=app.dockerfile_path,
        build_args=build_args,
        runtime=runtime,
        rollback_image=rollback_image,
        project_id=app.project_id,
        git_auth=git_auth(app, box),
        builder=app.builder,
        commands=Overrides(app.build_command, app.start_command, app.release_command),
        builder_images=base_images(settings.builder_images),
    )
    if app.template_name and deployment.rollback_of is None:
        return replace(plan, template_image=template_image(app.template_name, settings.template_images))
    return plan


# The name a generated Dockerfile has inside the build context (the engine leaves it out of COPY).
GENERATED_DOCKERFILE = ".mist.Dockerfile"


def build_root(plan: DeployPlan, checkout: Path) -> Path:
    return checkout / plan.root_directory if plan.root_directory else checkout


def build_request(plan: DeployPlan, checkout: Path, generated: str = "") -> BuildRequest:
    """The build of the checkout: with the repository's Dockerfile, or with the `generated` one."""
    return BuildRequest(
        context_dir=build_root(plan, checkout),
        dockerfile=GENERATED_DOCKERFILE if generated else plan.dockerfile_path,
        tag=plan.image_tag,
        build_args=plan.build_args,
        dockerfile_text=generated,
    )


def release_request(plan: DeployPlan, image: str, command: str) -> ContainerRequest:
    """The one-off container of the new image that runs the release command: the app's env,
    network and volumes, no alias (nobody should reach it), no restart. The deployment label lets
    a stop or a recovery find and remove it."""
    return replace(
        container_request(plan, image), name=f"mist-release-{plan.deployment_id}",
        labels={DEPLOYMENT_LABEL: str(plan.deployment_id)}, aliases=(), restart_policy="no",
        command=["sh", "-c", command],
    )


def container_name(plan: DeployPlan, beside_current: bool = False) -> str:
    """The app's container is `mist-app-{appId}`; one started beside it gets a temporary name
    until the old one is gone."""
    base = f"mist-app-{plan.app_id}"
    return f"{base}-next-{plan.deployment_id}" if beside_current else base


def container_request(plan: DeployPlan, image: str, beside_current: bool = False) -> ContainerRequest:
    return ContainerRequest(
        name=container_name(plan, beside_current),
        image=image,
        labels=plan.labels,
        env=plan.runtime.env,
        port=plan.runtime.port,
        restart_policy=plan.runtime.restart_policy,
        volumes=plan.runtime.volumes,
        binds=plan.runtime.binds,
        read_only=plan.runtime.read_only,
        command=plan.runtime.command,
        network=plan.network,
        aliases=(plan.app_name,),
        cpu_limit=plan.runtime.cpu_limit,
        memory_limit=plan.runtime.memory_limit,
    )


def image_repository_name(plan: DeployPlan) -> str:
    """The repository an image is pushed to in the registry: the app's own (`mist/app-3`), or, for an
    image Mist did not build (a database's), its own name without registry and tag."""
    if not plan.template_image:  # built, now or for the deployment rolled back to
        return f"mist/app-{plan.app_id}"
    name = plan.template_image.partition("@")[0]
    last = name.rpartition("/")[2]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.partition(":")[0]
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        name = rest  # another registry's host is no part of the name in ours
    return name


def volume_label(plan: DeployPlan) -> str:
    """The node label naming the node that holds the app's volumes (Swarm mode)."""
    return f"mist.volumes.app-{plan.app_id}"


def service_request(plan: DeployPlan, image: str, constraints: tuple[str, ...] = ()) -> ServiceRequest:
    """The app as a Swarm service: `image` by digest, the snapshot's settings, the project's overlay with
    the app's name as alias. An app with volumes runs one replica at a time (stop-first) on the node that
    holds them (`constraints`); the others update start-first, each new replica healthy before an old one
    stops."""
    runtime = plan.runtime
    pinned = bool(runtime.volumes or runtime.binds)
    return ServiceRequest(
        name=service_name(plan.app_id),
        image=image,
        labels=plan.labels,
        env=runtime.env,
        replicas=1 if pinned else runtime.replicas,
        networks=(NetworkAttachment(plan.network, (plan.app_name,)),),
        port=runtime.port,
        health=ServiceHealth(**asdict(runtime.health)) if runtime.port else None,
        command=runtime.command,
        volumes=runtime.volumes,
        binds=runtime.binds,
        read_only=runtime.read_only,
        constraints=constraints,
        order="stop-first" if pinned or runtime.strategy == "recreate" else "start-first",
        cpu_limit=runtime.cpu_limit,
        memory_limit=runtime.memory_limit,
        restart_policy=runtime.restart_policy,
    )
