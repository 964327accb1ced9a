"""mist.deploy.worker: a stop arriving between the claim of a deployment and the start of its
pipeline is kept and applied, not lost (the stop used to find the deployment neither waiting nor
running, and the deployment went on)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from mist.config import Settings
from mist.db.engine import Database
from mist.db.models import App
from mist.deploy import store, worker
from mist.deploy.events import EventBus
from mist.deploy.logs import LogStore
from mist.deploy.stages import STOPPED
from mist.deploy.worker import StopOutcome, Workers
from mist.secretbox import SecretBox


class Engine:
    """Only what a stopped deployment's clean-up asks of the engine."""

    def __init__(self) -> None:
        self.removed_images: list[str] = []

    def deployment_containers(self, deployment_id: int) -> list:
        return []

    def remove_image(self, ref: str) -> None:
        self.removed_images.append(ref)


def test_a_stop_between_claim_and_pipeline_is_applied(
    tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workers=1, proxy_enabled=False)
    with db.session() as s:
        app = App(id=4, project_id=1, name="web", app_type="service", git_repository="git://git.x/a.git",
                  git_branch="main", dockerfile_path="Dockerfile", root_directory="")
        s.add(app)
        s.flush()
        deployment_id = store.enqueue(s, app, "a" * 40, "first").id

    planning, release = threading.Event(), threading.Event()
    real_load_plan = worker.load_plan

    def slow_load_plan(*args):  # noqa: ANN002 - passed through
        planning.set()
        release.wait(10)
        return real_load_plan(*args)

    monkeypatch.setattr(worker, "load_plan", slow_load_plan)
    engine, logs = Engine(), LogStore(tmp_path / "logs")

    async def scenario() -> None:
        workers = Workers(settings, db, EventBus(), logs, engine, None, None, SecretBox(tmp_path / "secret.key"))
        await workers.start()
        try:
            await asyncio.to_thread(planning.wait, 10)
            assert db.call(store.get, deployment_id).status == "building"  # claimed, no pipeline yet
            assert await workers.request_stop(deployment_id, "Stopped by o") is StopOutcome.STOPPING
            release.set()
            await workers.wait_done(deployment_id, 10)
        finally:
            release.set()
            await workers.stop()

    asyncio.run(scenario())
    ended = db.call(store.get, deployment_id)
    assert (ended.status, ended.error_message) == (STOPPED, "Stopped by o")
    assert engine.removed_images == [f"mist-app-4:{deployment_id}"]
    assert "Deployment stopped: Stopped by o" in list(logs.iter_lines(deployment_id))
