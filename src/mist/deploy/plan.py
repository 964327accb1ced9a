"""What one deployment will do, fixed when a worker takes it: a snapshot of the app's settings,
and the engine requests derived from it. Pure values and pure functions, so tests can read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from mist.config import Settings
from mist.db.models import App, Deployment
from mist.git import url_secrets
from mist.runtime.docker import APP_LABEL, DEPLOYMENT_LABEL, image_repository
from mist.runtime.requests import BuildRequest, ContainerRequest
from mist.templates import TEMPLATES, template_image, volume_name


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
    port: int | None
    runtime_env: dict[str, str]
    build_args: dict[str, str]
    secrets: tuple[str, ...]
    restart_policy: str
    template_image: str = ""  # set for database apps, which build nothing
    command: list[str] | None = None
    volumes: dict[str, str] = field(default_factory=dict)

    @property
    def builds_from_source(self) -> bool:
        return not self.template_image

    @property
    def image_tag(self) -> str:
        return f"{image_repository(self.app_id)}:{self.deployment_id}"

    @property
    def labels(self) -> dict[str, str]:
        return {APP_LABEL: str(self.app_id), DEPLOYMENT_LABEL: str(self.deployment_id)}


def load_plan(session: Session, deployment_id: int, settings: Settings) -> DeployPlan:
    deployment = session.get(Deployment, deployment_id)
    app = session.get(App, deployment.app_id)
    runtime_env = {e.key: e.value for e in app.env_vars if e.runtime}
    if app.port and "PORT" not in runtime_env:
        runtime_env["PORT"] = str(app.port)  # the Heroku convention many frameworks read
    secrets = [e.value for e in app.env_vars if e.is_secret] + url_secrets(app.git_repository)
    common = dict(
        deployment_id=deployment.id, app_id=app.id, app_name=app.name, app_type=app.app_type,
        commit_hash=deployment.commit_hash, git_url=app.git_repository,
        root_directory=app.root_directory, dockerfile_path=app.dockerfile_path, port=app.port,
        runtime_env=runtime_env,
        build_args={e.key: e.value for e in app.env_vars if e.build_time},
        secrets=tuple(secrets), restart_policy=settings.restart_policy,
    )
    if app.app_type == "database":
        template = TEMPLATES[app.template_name]
        return DeployPlan(
            **common,
            template_image=template_image(template.name, settings.template_images),
            command=["sh", "-c", template.shell_command] if template.shell_command else None,
            volumes={volume_name(app.id): template.data_path},
        )
    return DeployPlan(**common)


def build_request(plan: DeployPlan, checkout: Path) -> BuildRequest:
    return BuildRequest(
        context_dir=checkout / plan.root_directory if plan.root_directory else checkout,
        dockerfile=plan.dockerfile_path,
        tag=plan.image_tag,
        build_args=plan.build_args,
    )


def container_request(plan: DeployPlan, image: str) -> ContainerRequest:
    return ContainerRequest(
        name=f"mist-app-{plan.app_id}",
        image=image,
        labels=plan.labels,
        env=plan.runtime_env,
        port=plan.port,
        restart_policy=plan.restart_policy,
        volumes=plan.volumes,
        command=plan.command,
    )
