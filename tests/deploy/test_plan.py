"""mist.deploy.plan: what a deployment asks of the engine, as plain values."""

from __future__ import annotations

from pathlib import Path

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment, EnvVar
from mist.deploy.plan import Runtime, build_request, container_request, load_plan
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
