"""mist.deploy.worker's DeploymentReporter: a failure's error_message is redacted like the log."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from mist.db.engine import Database
from mist.db.models import App
from mist.deploy import store
from mist.deploy.events import EventBus
from mist.deploy.logs import REDACTED, LogStore, Redactor
from mist.deploy.stages import FAILED
from mist.deploy.worker import DeploymentReporter


def test_the_error_message_of_a_failure_is_redacted(db: Database, tmp_path: Path) -> None:
    with db.session() as s:
        s.add(App(id=1, project_id=1, name="a", app_type="web"))
        s.flush()
        deployment_id = store.enqueue(s, s.get(App, 1), "c" * 40, "msg").id
    assert db.call(store.claim_next, "w1", timedelta(seconds=30))[0] == deployment_id
    logs = LogStore(db)
    writer = logs.writer(deployment_id, Redactor(["s3cr3t-value"]))
    bus = EventBus()

    async def fail() -> list[dict]:
        with bus.subscribe(deployment_id) as sub:
            await DeploymentReporter(db, bus, writer, deployment_id, "w1").finish(
                FAILED, "COPY failed: stat s3cr3t-value: file does not exist")
            return [sub.queue.get_nowait().text for _ in range(sub.queue.qsize())]

    events = asyncio.run(fail())
    row = db.call(store.get, deployment_id)
    assert row.error_message == f"COPY failed: stat {REDACTED}: file does not exist"
    assert row.message == row.error_message
    assert "s3cr3t" not in repr(events) and "s3cr3t" not in b"".join(logs.iter_blocks(deployment_id)).decode()


def test_lines_logged_in_a_burst_are_stored_in_few_transactions_and_published_in_order(db: Database) -> None:
    with db.session() as s:
        s.add(App(id=1, project_id=1, name="a", app_type="web"))
        s.flush()
        deployment_id = store.enqueue(s, s.get(App, 1), "c" * 40, "msg").id
    assert db.call(store.claim_next, "w1", timedelta(seconds=30))[0] == deployment_id
    logs, bus = LogStore(db), EventBus()
    reporter = DeploymentReporter(db, bus, logs.writer(deployment_id, Redactor([])), deployment_id, "w1")
    writes: list[int] = []
    real_run = db.run

    async def counting_run(fn, *args):  # noqa: ANN001, ANN202 - Database.run's signature
        if getattr(fn, "__name__", "") == "append_many":
            writes.append(len(args[0]))
        return await real_run(fn, *args)

    db.run = counting_run  # type: ignore[method-assign]

    async def burst() -> list[dict]:
        with bus.subscribe(deployment_id) as sub:
            for n in range(50):
                await reporter.log(f"step {n}")  # the deployment does not wait for the database
            await reporter.flush()
            return [sub.queue.get_nowait().event for _ in range(sub.queue.qsize())]

    events = asyncio.run(burst())
    assert list(logs.iter_lines(deployment_id)) == [f"step {n}" for n in range(50)]
    assert [(e["seq"], e["data"]["line"]) for e in events] == [(n, f"step {n}") for n in range(50)]
    assert sum(writes) == 50 and len(writes) < 50
