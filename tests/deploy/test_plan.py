"""mist.deploy.plan: what a deployment asks of the engine, as plain values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment, EnvVar, Volume
from mist.deploy.health import HealthCheck
from mist.deploy.plan import (
    DeployPlan,
    Runtime,
    build_request,
    container_request,
    image_repository_name,
    load_plan,
    service_request,
)
from mist.errors import InvalidInput
from mist.secretbox import SecretBox


def with_deployment(db: Database, app: App) -> Database:
    with db.session() as s:
        s.add(app)
        s.flush()
        s.add(Deployment(id=9, app_id=app.id, deployment_number=1, commit_hash="a" * 40))
    return db


def test_source_app_builds_from_its_root_and_runs_with_its_env(tmp_path: Path, db: Database) -> None:
    app = App(
        id=3, project_id=1, name="web", app_type="web", git_repository="https://u:tok3n@git.x/a/b",
        git_branch="main", dockerfile_path="docker/Dockerfile.prod", root_directory="services/api", port=8000,
        env_vars=[
            EnvVar(key="API_KEY", value="sekrit-value", is_secret=True, build_time=False, runtime=True),
            EnvVar(key="NODE_ENV", value="production", is_secret=False, build_time=True, runtime=True),
            EnvVar(key="BUILD_ONLY", value="1", is_secret=False, build_time=True, runtime=False),
        ],
    )
    settings = Settings(data_dir=tmp_path)
    plan = with_deployment(db, app).call(load_plan, 9, settings, SecretBox(tmp_path / "secret.key"))

    build = build_request(plan, tmp_path / "checkout")
    assert build.context_dir == tmp_path / "checkout" / "services/api"
    assert build.dockerfile == "docker/Dockerfile.prod"
    assert build.tag == "mist-app-3:9"
    assert build.build_args == {"NODE_ENV": "production", "BUILD_ONLY": "1"}

    run = container_request(plan, build.tag)
    assert run.name == "mist-app-3"
    assert container_request(plan, build.tag, beside_current=True).name == "mist-app-3-next-9"
    assert plan.runtime.strategy == "rolling"
    assert run.labels == {"mist.app": "3", "mist.deployment": "9"}
    assert run.env == {"API_KEY": "sekrit-value", "NODE_ENV": "production", "PORT": "8000"}
    assert run.restart_policy == "unless-stopped"
    assert set(plan.secrets) == {"sekrit-value", "tok3n"}


def test_database_app_uses_the_configured_image_a_volume_and_no_password_in_argv(
    tmp_path: Path, db: Database
) -> None:
    app = App(
        id=4, project_id=1, name="cache", app_type="database", template_name="redis", port=6379,
        env_vars=[EnvVar(key="REDIS_PASSWORD", value="pw-123456", is_secret=True, build_time=False, runtime=True)],
    )
    settings = Settings(data_dir=tmp_path, template_images={"redis": "local/redis:7"})
    plan = with_deployment(db, app).call(load_plan, 9, settings, SecretBox(tmp_path / "secret.key"))
    assert not plan.builds_from_source
    assert plan.runtime.strategy == "recreate"
    run = container_request(plan, plan.template_image)
    assert run.image == "local/redis:7"
    assert run.volumes == {"mist-app-4-data": "/data"}
    assert run.command and "pw-123456" not in " ".join(run.command)
    assert run.env["REDIS_PASSWORD"] == "pw-123456"
    # The snapshot a rollback starts again is the same container, secrets included for redaction.
    assert Runtime.from_json(plan.runtime.to_json()) == plan.runtime


def with_host_mount(db: Database, host_path: str) -> Database:
    """App 5 with deployment 9, mounting host_path (or nothing when it is empty)."""
    with_deployment(db, App(id=5, project_id=1, name="files", app_type="service", git_repository="https://git.x/a/b",
                            git_branch="main", dockerfile_path="Dockerfile", root_directory=""))
    if host_path:
        with db.session() as s:
            s.add(Volume(app_id=5, name="shared", container_path="/mnt/shared", host_path=host_path))
    return db


def test_host_mounts_are_checked_again_when_a_deployment_starts(tmp_path: Path, db: Database) -> None:
    root = tmp_path / "allowed"
    (root / "shared").mkdir(parents=True)
    box = SecretBox(tmp_path / "secret.key")
    allowed = Settings(data_dir=tmp_path / "data", host_mount_roots=str(root))
    with_host_mount(db, str(root / "shared"))
    plan = db.call(load_plan, 9, allowed, box)
    assert container_request(plan, "img").binds == {str(root / "shared"): "/mnt/shared"}

    # The setting no longer allows it: the deployment cannot be planned, and says why.
    with pytest.raises(InvalidInput, match="host mount at /mnt/shared is no longer allowed.*disabled"):
        db.call(load_plan, 9, Settings(data_dir=tmp_path / "data"), box)
    # The directory was swapped for a link out of the root since the volume was created.
    (root / "shared").rmdir()
    (root / "shared").symlink_to("/etc")
    with pytest.raises(InvalidInput, match="no longer allowed.*outside the allowed roots"):
        db.call(load_plan, 9, allowed, box)


def test_a_rollback_never_brings_back_a_host_mount_that_is_no_longer_allowed(tmp_path: Path, db: Database) -> None:
    root = tmp_path / "allowed"
    (root / "shared").mkdir(parents=True)
    box = SecretBox(tmp_path / "secret.key")
    with_host_mount(db, "")  # the app mounts nothing now
    # Deployment 9 ran with a host mount, and with one that was never allowed (an old denylist's).
    snapshot = Runtime(env={}, port=None, restart_policy="no", strategy="recreate",
                       health=HealthCheck(path="", interval=1, timeout=1, retries=1, start_period=0),
                       binds={str(root / "shared"): "/mnt/shared"})
    with db.session() as s:
        old = s.get(Deployment, 9)
        old.status, old.snapshot, old.image = "success", snapshot.to_json(), "mist-app-5:9"
        s.add(Deployment(id=10, app_id=5, deployment_number=2, rollback_of=9))
    allowed = Settings(data_dir=tmp_path / "data", host_mount_roots=str(root))
    plan = db.call(load_plan, 10, allowed, box)
    assert plan.rollback_image == "mist-app-5:9" and not plan.builds_from_source
    assert container_request(plan, plan.image_tag).binds == {str(root / "shared"): "/mnt/shared"}

    with pytest.raises(InvalidInput, match="no longer allowed"):
        db.call(load_plan, 10, Settings(data_dir=tmp_path / "data", host_mount_roots=str(tmp_path / "other")), box)
    with db.session() as s:
        s.get(Deployment, 9).snapshot = replace(snapshot, binds={"/root": "/mnt/root"}).to_json()
    with pytest.raises(InvalidInput, match="/mnt/root is no longer allowed"):
        db.call(load_plan, 10, allowed, box)


def test_a_git_token_goes_only_to_the_origin_it_was_saved_for(tmp_path: Path, db: Database) -> None:
    box = SecretBox(tmp_path / "secret.key")
    app = App(id=6, project_id=1, name="web", app_type="service", git_repository="https://git.example.com/a/b.git",
              git_branch="main", dockerfile_path="Dockerfile", root_directory="",
              git_token=box.encrypt("tok-123"), git_token_origin="https://git.example.com:443")
    plan = with_deployment(db, app).call(load_plan, 9, Settings(data_dir=tmp_path), box)
    assert plan.git_auth.token == "tok-123" and plan.git_auth.token_origin == "https://git.example.com:443"
    assert "tok-123" in plan.secrets
    # A token saved before origins were recorded is bound to the repository it is used with.
    with db.session() as s:
        s.get(App, 6).git_token_origin = ""
    assert db.call(load_plan, 9, Settings(data_dir=tmp_path), box).git_auth.token_origin == "https://git.example.com:443"


def swarm_plan(template_image: str = "", **runtime: object) -> DeployPlan:
    values: dict = dict(env={"PORT": "8000"}, port=8000, restart_policy="always", strategy="rolling",
                        health=HealthCheck(path="/up"), replicas=3)
    return DeployPlan(
        deployment_id=9, app_id=3, app_name="web", app_type="web", commit_hash="a" * 40, git_url="",
        root_directory="", dockerfile_path="Dockerfile", build_args={},
        runtime=Runtime(**{**values, **runtime}), template_image=template_image, project_id=2,
    )


@pytest.mark.parametrize(("template", "repository"), [
    ("", "mist/app-3"),
    ("redis:7", "redis"),
    ("registry.local:5000/library/postgres:16", "library/postgres"),
    ("localhost/team/cache@sha256:" + "0" * 64, "team/cache"),
    ("team/cache", "team/cache"),
])
def test_the_registry_repository_is_the_apps_own_or_the_database_images_name(template: str, repository: str) -> None:
    assert image_repository_name(swarm_plan(template)) == repository


def test_a_service_request_carries_the_snapshot_and_pins_only_an_app_with_a_volume() -> None:
    web = service_request(swarm_plan(), "reg/mist/app-3@sha256:x")
    assert (web.name, web.image, web.replicas, web.order, web.constraints) == (
        "mist-app-3", "reg/mist/app-3@sha256:x", 3, "start-first", ())
    assert web.networks[0].network == "mist-project-2" and web.networks[0].aliases == ("web",)
    assert web.health is not None and web.health.path == "/up" and web.restart_policy == "always"
    assert web.labels == {"mist.app": "3", "mist.deployment": "9"}

    db = service_request(swarm_plan(volumes={"mist-app-3-data": "/data"}), "img", ("node.labels.x == true",))
    assert (db.replicas, db.order, db.constraints) == (1, "stop-first", ("node.labels.x == true",))
    assert service_request(swarm_plan(port=None), "img").health is None  # a worker has nothing to probe
