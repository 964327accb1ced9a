"""mist.notifications.crashes with the FakeEngine: a die that nobody asked for, of the container the
app runs now, is one `container.crashed`; stops, restarts, replacements and other processes' leads
write nothing, and a restart loop tells once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from sqlalchemy import select

from mist.db.engine import Database
from mist.db.models import Deployment, NotificationDelivery
from mist.notifications.crashes import LOOP_WINDOW, CrashWatch
from mist.runtime import eventstream
from mist.runtime.eventstream import ContainerEvents
from mist.runtime.logstream import LogStreams
from mist.runtime.requests import ContainerEvent, ContainerState
from mist.runtime.services import TASK_SERVICE_LABEL
from tests.support.fake_engine import FakeEngine


class Lead:
    def __init__(self, leading: bool = True) -> None:
        self.leading = leading
        self.released = False

    async def claim(self) -> bool:
        return self.leading

    async def release(self) -> None:
        self.released = True


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def _deploy(db: Database, engine: FakeEngine, number: int) -> ContainerState:
    """A deployment of app 4 that is now the active one, with its running container."""
    with db.session() as s:
        for old in s.scalars(select(Deployment).where(Deployment.is_active.is_(True))):
            old.is_active = False
        deployment = Deployment(app_id=4, deployment_number=number, status="success", is_active=True)
        s.add(deployment)
        s.flush()
        container = engine.add_container(f"web-{number}", 4, deployment.id)
        deployment.container_id = container.id
        return container


def _payloads(db: Database) -> list[dict]:
    with db.session() as s:
        rows = s.scalars(select(NotificationDelivery).order_by(NotificationDelivery.id))
        return [json.loads(row.payload) for row in rows if row.event == "container.crashed"]


def _drain(watch: CrashWatch, engine: FakeEngine) -> int:
    """Hands the watch every event told so far; answers how many writes it made."""
    async def run() -> int:
        written = 0
        while not engine.events.empty():
            written += await watch.handle(engine.events.get_nowait())
        return written
    return asyncio.run(run())


def test_a_crash_of_the_running_container_is_one_delivery(db: Database, engine: FakeEngine,
                                                         notification: Callable) -> None:
    subscribed = notification(["container.crashed"])
    notification(["deployment.failed"])
    container = _deploy(db, engine, 3)
    watch = CrashWatch(db, engine, Lead())
    engine.crash(container.id, exit_code=137)
    assert _drain(watch, engine) == 1
    [payload] = _payloads(db)
    with db.session() as s:
        deployment = s.scalars(select(Deployment).where(Deployment.is_active.is_(True))).one()
        assert s.scalars(select(NotificationDelivery.notification_id)).all() == [subscribed]
    assert payload == {
        "event": "container.crashed", "at": payload["at"],
        "project": {"id": 1, "name": "shop"}, "app": {"id": 4, "name": "web"},
        "container": {"id": container.id, "name": "web-3", "exitCode": 137, "restarts": 1, "restartLoop": False},
        "deployment": {"id": deployment.id, "number": 3}, "url": None,
    }
    assert "s3cr3t" not in json.dumps(payload)


def test_stops_restarts_and_removals_asked_for_tell_nobody(db: Database, engine: FakeEngine,
                                                           notification: Callable) -> None:
    notification(["container.crashed"])
    container = _deploy(db, engine, 1)
    watch = CrashWatch(db, engine, Lead())

    async def operate() -> None:
        await engine.restart(container.id)
        await engine.stop(container.id)
        await engine.start(container.id)

    asyncio.run(operate())
    assert _drain(watch, engine) == 0
    # A deployment replaces it: the new one is active, the old one is removed.
    new = _deploy(db, engine, 2)
    asyncio.run(engine.remove(container.id))
    assert _drain(watch, engine) == 0
    assert _payloads(db) == []
    # ... and the watch still tells of a crash after all that.
    engine.crash(new.id)
    assert _drain(watch, engine) == 1


def test_a_container_that_is_not_the_running_one_is_not_told_of(db: Database, engine: FakeEngine,
                                                                notification: Callable) -> None:
    notification(["container.crashed"])
    old = _deploy(db, engine, 1)
    _deploy(db, engine, 2)  # a newer deployment is active: the old container is on its way out
    starting = engine.add_container("web-3", 4, 99)  # a deployment's container not yet switched to
    watch = CrashWatch(db, engine, Lead())
    engine.crash(old.id)
    engine.crash(starting.id)
    assert _drain(watch, engine) == 0 and _payloads(db) == []


def test_a_restart_loop_tells_once_per_window(db: Database, engine: FakeEngine, notification: Callable) -> None:
    notification(["container.crashed"])
    container = _deploy(db, engine, 1)
    watch = CrashWatch(db, engine, Lead())
    for _ in range(5):
        engine.crash(container.id)
    assert _drain(watch, engine) == 1
    assert [p["container"]["restarts"] for p in _payloads(db)] == [5]

    def die(at: float) -> ContainerEvent:
        return ContainerEvent(container.id, "web-1", "die", 1, {}, at)

    async def later() -> list[bool]:  # still dying once the window has passed: told again, as a loop
        return [await watch.handle(die(LOOP_WINDOW + n)) for n in (1, 2, 3)]

    assert asyncio.run(later()) == [True, False, False]
    assert [p["container"]["restartLoop"] for p in _payloads(db)] == [False, True]


def test_in_swarm_mode_a_task_of_the_active_deployment_dying_is_a_crash_once_per_window(
    db: Database, engine: FakeEngine, notification: Callable,
) -> None:
    notification(["container.crashed"])
    old = _deploy(db, engine, 1)
    _deploy(db, engine, 2)
    with db.session() as s:  # Swarm mode records the app's service as what runs it
        active = s.scalars(select(Deployment).where(Deployment.is_active.is_(True))).one()
        active.container_id = "mist-app-4"
        active_id = active.id
    watch = CrashWatch(db, engine, Lead())

    def die(task: str, deployment: int, at: float) -> ContainerEvent:
        labels = {"mist.app": "4", "mist.deployment": str(deployment), TASK_SERVICE_LABEL: "mist-app-4"}
        return ContainerEvent(task, f"mist-app-4.1.{task}", "die", 2, labels, at)

    async def events() -> list[bool]:
        return [
            await watch.handle(die("task-of-old", int(old.labels["mist.deployment"]), 1)),  # an update's leftover
            await watch.handle(die("task-a", active_id, 2)),  # the running version crashed
            await watch.handle(die("task-b", active_id, 3)),  # Swarm's replacement crashed too: the same loop
        ]

    assert asyncio.run(events()) == [False, True, False]
    [payload] = _payloads(db)
    assert payload["container"]["id"] == "task-a" and payload["deployment"]["id"] == active_id


def test_only_the_leading_process_writes(db: Database, engine: FakeEngine, notification: Callable) -> None:
    notification(["container.crashed"])
    container = _deploy(db, engine, 1)
    follower, leader = CrashWatch(db, engine, Lead(False)), CrashWatch(db, engine, Lead(True))
    engine.crash(container.id)
    event = engine.events.get_nowait()

    async def both() -> list[bool]:
        return [await follower.handle(event), await leader.handle(event)]

    assert asyncio.run(both()) == [False, True]
    assert len(_payloads(db)) == 1


def test_the_watch_follows_the_engine_in_the_background(db: Database, engine: FakeEngine,
                                                        notification: Callable) -> None:
    notification(["container.crashed"])
    container = _deploy(db, engine, 1)
    lead = Lead()

    async def run() -> None:
        watch = CrashWatch(db, engine, lead)
        await watch.start()
        engine.crash(container.id)
        for _ in range(500):
            if _payloads(db):
                break
            await asyncio.sleep(0.01)
        await watch.stop()

    asyncio.run(run())
    assert len(_payloads(db)) == 1 and lead.released


def test_docker_events_are_read_as_plain_values() -> None:
    raw = {"status": "die", "id": "abc", "from": "mist-app-4:1", "Type": "container", "Action": "die",
           "Actor": {"ID": "abc", "Attributes": {"exitCode": "3", "image": "mist-app-4:1", "name": "web-1",
                                                 "mist.app": "4", "mist.deployment": "7"}},
           "scope": "local", "time": 1700000000, "timeNano": 1700000000123456789}
    nanos, event = eventstream.parse(raw) or (0, None)
    assert nanos == 1700000000123456789
    assert event == ContainerEvent("abc", "web-1", "die", 3, {"mist.app": "4", "mist.deployment": "7"},
                                   1700000000.1234567)
    assert eventstream.parse({**raw, "Action": "exec_start: sh", "status": "exec_start: sh"}) is None


def test_a_dropped_event_stream_is_opened_again_from_the_last_event_seen() -> None:
    def line(action: str, nanos: int) -> bytes:
        return json.dumps({"Type": "container", "Action": action, "timeNano": nanos,
                           "Actor": {"ID": "abc", "Attributes": {"name": "web-1", "mist.app": "4"}}}).encode() + b"\n"

    class Stream(httpx.AsyncByteStream):
        def __init__(self, body: bytes) -> None:
            self.body = body

        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield self.body

    asked: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        if len(asked) == 1:
            return httpx.Response(200, stream=Stream(line("start", 5_000_000_000) + line("kill", 6_000_000_001)))
        if len(asked) == 2:
            return httpx.Response(500, json={"message": "engine restarting"})
        # `since` is inclusive: the last event seen comes again, and is not told twice.
        return httpx.Response(200, stream=Stream(line("kill", 6_000_000_001) + line("die", 7_000_000_000)))

    streams = LogStreams()
    streams._http = httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://docker")

    async def read() -> list[str]:
        told = []
        async for event in ContainerEvents(streams, reconnect_seconds=0).follow():
            told.append(event.action)
            if len(told) == 3:
                break
        await streams.aclose()
        return told

    assert asyncio.run(read()) == ["start", "kill", "die"]
    assert "since" not in asked[0] and asked[2]["since"] == "6.000000001"
    assert json.loads(asked[0]["filters"]) == {"type": ["container"], "label": ["mist.app"],
                                               "event": ["start", "kill", "die"]}
