"""mist.feeds and Containers.follow: one engine stream per app shared by every watcher, a late
watcher's tail stitched to the live lines, slow watchers cut off, the next container followed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from mist import feeds as feeds_module
from mist.config import Settings
from mist.containers import Containers, Target
from mist.feeds import Feeds, FellBehind, Running
from mist.runtime.requests import ContainerState


class ScriptedEngine:
    """follow_logs streams what the test pushes, until the test ends the stream."""

    def __init__(self) -> None:
        self.streams: dict[str, asyncio.Queue[str | None]] = {}
        self.follows: list[tuple[str, int | str, float | None]] = []
        self.closed: list[str] = []
        self.states: dict[str, str] = {}
        self.history: dict[str, list[str]] = {}
        self.during_logs: list[tuple[str, str]] = []  # lines written while a tail is being read

    def push(self, container: str, *lines: str) -> None:
        for line in lines:
            self.history.setdefault(container, []).append(line)
            self.streams.setdefault(container, asyncio.Queue()).put_nowait(line)

    def end(self, container: str, state: str = "exited") -> None:
        self.states[container] = state
        self.streams.setdefault(container, asyncio.Queue()).put_nowait(None)

    async def follow_logs(self, container_id: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        self.follows.append((container_id, tail, since))
        queue = self.streams.setdefault(container_id, asyncio.Queue())
        try:
            while (line := await queue.get()) is not None:
                yield line
        finally:
            self.closed.append(container_id)

    async def inspect(self, container_id: str) -> ContainerState | None:
        return ContainerState(id=container_id, name="x", status=self.states.get(container_id, "running"),
                              exit_code=0, ip_address="", labels={})

    async def logs(self, container_id: str, tail: int) -> list[str]:
        for container, line in self.during_logs:
            self.push(container, line)
        await asyncio.sleep(0.05)  # the feed reads those meanwhile
        return self.history.get(container_id, [])[-tail:]


def texts(messages: list[str]) -> list[tuple[str, str]]:
    out = []
    for raw in messages:
        m = json.loads(raw)
        out.append((m["type"], m["data"].get("line") or m["data"].get("state") or m["data"].get("message")))
    return out


async def take(stream: AsyncIterator, n: int) -> list:
    return [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(n)]


def stamp(n: int) -> str:
    return f"2026-11-30T12:00:00.{n:03d}Z"  # the engine drops trailing zeros: .001Z, .01Z, .1Z


def test_every_watcher_of_an_app_shares_one_engine_stream() -> None:
    async def run() -> None:
        engine = ScriptedEngine()

        async def running(_app_id: int) -> Running:
            return Running("c1", secrets=("hunter2",))

        feeds = Feeds(engine, running)
        one, two = feeds.join(7), feeds.join(7)
        engine.push("c1", f"{stamp(1)} hello", f"{stamp(2)} password=hunter2")
        first, second = one.items(), two.items()
        got_one = [i.text for i in await take(first, 2)]
        got_two = [i.text for i in await take(second, 2)]
        assert got_one == got_two  # the same encoded messages
        assert texts(got_one) == [("log", "hello"), ("log", "password=********")]
        assert [c for c, _, _ in engine.follows] == ["c1"]

        one.close()
        assert engine.closed == []  # one watcher is left
        two.close()
        await asyncio.sleep(0)
        assert engine.closed == ["c1"]  # the last one leaving ends the engine stream

    asyncio.run(run())


def test_a_slow_watcher_is_cut_off_and_the_others_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds_module, "MAX_BACKLOG", 3)

    async def run() -> None:
        engine = ScriptedEngine()

        async def running(_app_id: int) -> Running:
            return Running("c1", secrets=())

        feeds = Feeds(engine, running)
        slow, fast = feeds.join(1), feeds.join(1)
        fast_items = fast.items()
        for n in range(5):
            engine.push("c1", f"{stamp(n)} line-{n}")
            await take(fast_items, 1)
        with pytest.raises(FellBehind):
            await take(slow.items(), 1)
        engine.push("c1", f"{stamp(9)} line-9")
        assert texts([i.text for i in await take(fast_items, 1)]) == [("log", "line-9")]
        slow.close()
        fast.close()

    asyncio.run(run())


def test_a_stopped_container_is_reported_and_the_next_one_followed_from_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(feeds_module, "POLL_SECONDS", 0.01)

    async def run() -> None:
        engine = ScriptedEngine()
        current = {"id": "c1"}

        async def running(_app_id: int) -> Running:
            return Running(current["id"], secrets=())

        feeds = Feeds(engine, running)
        follower = feeds.join(1)
        items = follower.items()
        engine.push("c1", f"{stamp(1)} old version")
        got = await take(items, 1)
        engine.end("c1")
        current["id"] = "c2"  # a deployment replaced it
        engine.push("c2", f"{stamp(2)} new version")
        got = texts([i.text for i in got + await take(items, 2)])
        assert got == [("log", "old version"), ("status", "exited"), ("log", "new version")]
        # The shared feed starts with what comes from now on; a new container is followed from its start.
        assert engine.follows == [("c1", 0, None), ("c2", "all", None)]
        follower.close()

    asyncio.run(run())


def test_a_watcher_asking_for_a_tail_gets_one_stream_of_its_own_with_it() -> None:
    async def run() -> None:
        engine = ScriptedEngine()
        containers = Containers.__new__(Containers)  # only follow() and its feeds are used here
        containers.engine = engine

        async def running(_app_id: int) -> Running:
            return Running("c1", secrets=())

        containers.feeds = Feeds(engine, running)
        target = Target(app_id=3, port=None, health_path="", cpu_limit=None, memory_limit=None,
                        restart_policy="", deployment_id=1, deployment_number=1, container_id="c1", deploying=False)
        live, shared = containers.follow(target, 0), containers.follow(target, 0)
        with_tail = containers.follow(target, 50)
        first = [asyncio.ensure_future(w.__anext__()) for w in (live, shared)]
        await asyncio.sleep(0.01)  # both joined
        engine.push("c1", f"{stamp(1)} hello")
        assert texts(await asyncio.wait_for(asyncio.gather(*first), 5)) == [("log", "hello")] * 2
        # The tail's own request returns the earlier lines and follows, in one: nothing of a line in
        # progress falls between a tail and a separate live stream.
        pending = asyncio.ensure_future(with_tail.__anext__())
        await asyncio.sleep(0.01)
        assert engine.follows == [("c1", 0, None), ("c1", 50, None)]  # one stream for both live watchers
        pending.cancel()
        await asyncio.gather(pending, return_exceptions=True)
        for watcher in (live, shared, with_tail):
            await watcher.aclose()

    asyncio.run(run())


def test_containers_wires_a_feed_per_app(tmp_path) -> None:  # noqa: ANN001
    containers = Containers(db=None, engine=ScriptedEngine(), router=None,  # type: ignore[arg-type]
                            settings=Settings(data_dir=tmp_path))
    assert isinstance(containers.feeds, Feeds)
