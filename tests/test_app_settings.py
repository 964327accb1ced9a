"""mist.app_settings: one resolver (app, then MIST_*, then default) for the deploy plan, the container
controls and the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from mist.app_settings import AppSettings, Sourced, resolve
from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App, Deployment, Project, User
from mist.deploy.health import HealthCheck
from mist.deploy.plan import load_plan
from mist.secretbox import SecretBox


def web_app(**fields: object) -> App:
    values: dict[str, object] = dict(
        id=3, project_id=1, name="web", app_type="web", port=8000, git_repository="https://git.x/a/b",
        git_branch="main", dockerfile_path="Dockerfile", root_directory="", update_strategy="rolling",
        healthcheck_path="", healthcheck_interval=2, healthcheck_timeout=5, healthcheck_retries=15,
        healthcheck_start_period=0, restart_policy="", cpu_limit=None, memory_limit=None,
    )
    return App(**{**values, **fields})


def sources(effective: AppSettings) -> dict[str, tuple[object, str]]:
    return {row["key"]: (row["value"], row["source"]) for row in effective.rows()}  # type: ignore[misc]


def test_an_app_with_nothing_of_its_own_runs_with_the_defaults(tmp_path: Path) -> None:
    effective = resolve(web_app(), Settings(data_dir=tmp_path))
    assert sources(effective) == {
        "restartPolicy": ("unless-stopped", "default"),
        "cpuLimit": (None, "default"),
        "memoryLimit": (None, "default"),
        "updateStrategy": ("rolling", "default"),
        "healthcheckPath": ("", "default"),
        "healthcheckInterval": (2, "default"),
        "healthcheckTimeout": (5, "default"),
        "healthcheckRetries": (15, "default"),
        "healthcheckStartPeriod": (0, "default"),
        "healthStageTimeout": (300, "default"),
    }
    assert effective.health == HealthCheck()


def test_a_mist_setting_is_global_and_the_apps_own_value_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIST_RESTART_POLICY", "always")
    monkeypatch.setenv("MIST_HEALTH_TIMEOUT_SECONDS", "60")
    settings = Settings(data_dir=tmp_path)
    assert resolve(web_app(), settings).restart_policy == Sourced("always", "global")
    assert resolve(web_app(), settings).health_stage_timeout == Sourced(60, "global")

    own = resolve(web_app(restart_policy="on-failure", cpu_limit=0.5, memory_limit=256, update_strategy="recreate",
                          healthcheck_path="/health", healthcheck_retries=3), settings)
    assert own.restart_policy == Sourced("on-failure", "app")
    assert (own.cpu_limit, own.memory_limit) == (Sourced(0.5, "app"), Sourced(256, "app"))
    assert own.update_strategy == Sourced("recreate", "app")
    assert own.health == HealthCheck(path="/health", retries=3)
    assert (own.healthcheck_path.source, own.healthcheck_retries.source, own.healthcheck_interval.source) == (
        "app", "app", "default"
    )


def test_a_database_app_always_recreates(tmp_path: Path) -> None:
    db_app = web_app(app_type="database", template_name="redis", update_strategy="rolling")
    assert resolve(db_app, Settings(data_dir=tmp_path)).update_strategy == Sourced("recreate", "app type")


def test_the_deploy_plan_runs_what_the_resolver_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIST_RESTART_POLICY", "always")
    settings = Settings(data_dir=tmp_path)
    db = Database(f"sqlite:///{tmp_path / 'mist.db'}")
    db.migrate()
    try:
        with db.session() as s:
            s.add(User(id=1, username="o", email="o@x", password_hash="x", role="owner"))
            s.flush()
            s.add(Project(id=1, name="p", owner_id=1))
            s.flush()
            s.add(web_app(memory_limit=128, healthcheck_path="/up"))
            s.flush()
            s.add(Deployment(id=9, app_id=3, deployment_number=1, commit_hash="a" * 40))
        plan = db.call(load_plan, 9, settings, SecretBox(tmp_path / "secret.key"))
        effective = db.call(lambda s: resolve(s.get(App, 3), settings))
    finally:
        db.dispose()
    runtime = plan.runtime
    assert (runtime.restart_policy, runtime.strategy, runtime.health, runtime.cpu_limit, runtime.memory_limit) == (
        effective.restart_policy.value, effective.update_strategy.value, effective.health,
        effective.cpu_limit.value, effective.memory_limit.value,
    )
    assert (runtime.restart_policy, runtime.memory_limit, runtime.health.path) == ("always", 128, "/up")
