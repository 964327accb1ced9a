"""mist.runtime.docker.DockerEngine: how the async port bridges to the blocking SDK, with the SDK
calls replaced (no Docker): build lines arrive in order, a cancelled build is cut off and waited
for, calls run in the engine's own threads, and the build read timeout follows the setting."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from mist.config import Settings
from mist.errors import BuildFailed
from mist.runtime.docker import BuildHandle, DockerEngine
from mist.runtime.requests import BuildRequest
from mist.services import build_services

REQUEST = BuildRequest(context_dir=Path("."), dockerfile="Dockerfile", tag="mist-app-1:1")


def test_build_lines_reach_the_caller_in_order_then_the_image_id() -> None:
    engine = DockerEngine()

    def build(request: BuildRequest, on_line, handle: BuildHandle) -> str:  # noqa: ANN001
        for n in range(100):
            on_line(f"line {n}")
        return "sha256:1"

    engine._docker.build = build
    seen: list[str] = []

    async def on_line(line: str) -> None:
        seen.append(line)

    async def scenario() -> str:
        try:
            return await engine.build(REQUEST, on_line)
        finally:
            await engine.aclose()

    assert asyncio.run(scenario()) == "sha256:1"
    assert seen == [f"line {n}" for n in range(100)]


def test_a_cancelled_build_is_cut_off_and_ends_before_the_cancellation_returns() -> None:
    engine = DockerEngine()
    started, ended = threading.Event(), threading.Event()

    def build(request: BuildRequest, on_line, handle: BuildHandle) -> str:  # noqa: ANN001
        on_line("Step 1/2 : RUN sleep 3600")
        started.set()
        while not handle.cancelled:  # the engine's stream, until the socket is cut
            threading.Event().wait(0.01)
        ended.set()
        handle.check()
        return ""

    engine._docker.build = build

    async def scenario() -> None:
        async def on_line(line: str) -> None:
            pass

        task = asyncio.create_task(engine.build(REQUEST, on_line))
        await asyncio.to_thread(started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set()  # the build thread had ended when the call returned
        await engine.aclose()

    asyncio.run(scenario())


def test_calls_run_in_the_engines_own_bounded_pool() -> None:
    engine = DockerEngine(call_threads=2)
    engine._docker.inspect = lambda container_id: threading.current_thread().name

    async def scenario() -> set[str]:
        names = await asyncio.gather(*(engine.inspect("c1") for _ in range(20)))
        await engine.aclose()
        return set(names)

    names = asyncio.run(scenario())
    assert len(names) <= 2 and all(name.startswith("mist-engine") for name in names)


def test_the_build_read_timeout_follows_the_setting(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=tmp_path, build_timeout_seconds=120, proxy_enabled=False))
    assert services.engine._docker._build_timeout == 120


@pytest.mark.parametrize("error, attempts", [
    ('Failed to build Docker image: unable to find image "sha256:' + "a" * 64 + '"', 2),
    ("Failed to build Docker image: The command '/bin/sh -c exit 3' returned a non-zero code: 3", 1),
])
def test_a_build_that_lost_a_cached_layer_to_a_removal_runs_once_more_and_no_other(
    error: str, attempts: int
) -> None:
    docker = DockerEngine()._docker
    calls: list[int] = []

    def build(request: BuildRequest, on_line, handle: BuildHandle) -> str:  # noqa: ANN001
        calls.append(1)
        if len(calls) == 1:
            raise BuildFailed(error)
        return "sha256:2"

    docker._build = build  # type: ignore[method-assign]
    lines: list[str] = []
    if attempts == 2:
        assert docker.build(REQUEST, lines.append, BuildHandle()) == "sha256:2"
        assert "building again" in lines[0]
    else:
        with pytest.raises(BuildFailed):
            docker.build(REQUEST, lines.append, BuildHandle())
    assert len(calls) == attempts
