"""DockerEngine.exec against the real engine: stdout streamed as it comes, stdin fed and closed,
memory bounded whatever flows through (the socket is read only as fast as the consumer takes), a
failing command raising ExecFailed with the end of its stderr, credentials passed in the
environment and nowhere else, and an iterator left early closing its stream."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import docker
import pytest
from support.images import ensure_python_image

from mist.errors import ExecFailed, RuntimeEngineError
from mist.runtime.docker import DockerEngine
from mist.runtime.execstream import STDERR_TAIL

pytestmark = pytest.mark.docker
T = TypeVar("T")


@pytest.fixture(scope="module")
def box(engine: docker.DockerClient) -> Iterator[str]:
    """A running container with no network, to run commands in."""
    container = engine.containers.run(
        ensure_python_image(engine), ["sleep", "infinity"], detach=True, network_mode="none",
        name=f"mist-test-exec-{secrets.token_hex(4)}", labels={"mist.verify": "1"}, init=True,
    )
    yield container.id
    container.remove(force=True, v=True)


def run(scenario: Callable[[DockerEngine], Awaitable[T]]) -> T:
    """The scenario with an engine of its own; the timeout only says "it did not hang"."""
    async def main() -> T:
        engine = DockerEngine()
        try:
            return await scenario(engine)
        finally:
            await engine.aclose()
    return asyncio.run(asyncio.wait_for(main(), 120))


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def test_stdout_is_yielded_as_the_command_prints_it_not_when_it_ends(box: str) -> None:
    async def scenario(engine: DockerEngine) -> list[bytes]:
        first_seen = asyncio.Event()

        async def stdin() -> AsyncIterator[bytes]:
            await first_seen.wait()  # the command cannot end before the first line reached us
            yield b"go\n"

        seen = []
        async for chunk in engine.exec(box, ["sh", "-c", "echo first; read answer; echo second $answer"],
                                       stdin=stdin()):
            seen.append(chunk)
            first_seen.set()
        return seen

    seen = run(scenario)
    assert seen[0] == b"first\n"
    assert b"".join(seen) == b"first\nsecond go\n"


def test_stdin_of_several_megabytes_round_trips_and_its_end_closes_the_commands_stdin(box: str) -> None:
    data = os.urandom(6 * 1024 * 1024 + 12345)

    async def stdin() -> AsyncIterator[bytes]:
        for start in range(0, len(data), 100_000):
            yield data[start:start + 100_000]

    async def scenario(engine: DockerEngine) -> tuple[bytes, int]:
        largest, out = 0, bytearray()
        async for chunk in engine.exec(box, ["cat"], stdin=stdin()):
            largest = max(largest, len(chunk))
            out += chunk
        return bytes(out), largest

    out, largest = run(scenario)
    assert hashlib.sha256(out).hexdigest() == hashlib.sha256(data).hexdigest()
    assert largest <= 64 * 1024  # pieces of a read, never the whole


def test_a_large_output_to_a_slow_consumer_keeps_memory_bounded(box: str) -> None:
    size = 128 * 1024 * 1024

    async def scenario(engine: DockerEngine) -> tuple[int, int]:
        total = 0
        tracemalloc.start()
        try:
            async for chunk in engine.exec(box, ["head", "-c", str(size), "/dev/zero"]):
                if not total:
                    await asyncio.sleep(1)  # a producer not held back would pile the output up meanwhile
                total += len(chunk)
            return total, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    total, peak = run(scenario)
    assert total == size
    assert peak < 8 * 1024 * 1024, f"peak {peak} bytes"


def test_an_error_reading_stdin_kills_the_command_before_it_sees_an_end_and_is_raised(box: str) -> None:
    flag = f"/tmp/completed-{secrets.token_hex(4)}"

    async def stdin() -> AsyncIterator[bytes]:
        yield b"x" * 100_000
        raise ValueError("the file does not match its checksum")  # found once it was all read

    async def scenario(engine: DockerEngine) -> str:
        with pytest.raises(ValueError, match="checksum"):
            await collect(engine.exec(box, ["sh", "-c", f"cat > /dev/null && touch {flag}"], stdin=stdin()))
        # The error comes once the command has ended.
        return (await collect(engine.exec(box, ["sh", "-c", f"ls {flag} 2>/dev/null || echo absent"]))).decode()

    assert run(scenario).strip().endswith("absent")  # cat never saw an EOF: nothing took it for whole


def test_a_non_zero_exit_raises_exec_failed_quoting_the_end_of_a_bounded_stderr(box: str) -> None:
    script = 'echo out; i=0; while [ $i -lt 20000 ]; do echo "error line $i" >&2; i=$((i+1)); done; exit 7'

    async def scenario(engine: DockerEngine) -> tuple[bytes, ExecFailed]:
        out = bytearray()
        with pytest.raises(ExecFailed) as failed:
            async for chunk in engine.exec(box, ["sh", "-c", script]):
                out += chunk
        return bytes(out), failed.value

    out, exc = run(scenario)
    assert out == b"out\n"
    assert exc.exit_code == 7
    assert "exited with code 7" in exc.message
    assert exc.message.endswith("error line 19999")
    assert "error line 0\n" not in exc.message
    assert len(exc.stderr.encode()) <= STDERR_TAIL


def test_env_reaches_the_command_and_never_its_arguments(engine: docker.DockerClient, box: str) -> None:
    secret = secrets.token_hex(16)

    async def scenario(engine: DockerEngine) -> bytes:
        # Every process's argument list in the container, while this one runs.
        command = ["sh", "-c", 'printenv MIST_TEST_SECRET; cat /proc/[0-9]*/cmdline | tr "\\0" " "']
        return await collect(engine.exec(box, command, env={"MIST_TEST_SECRET": secret}))

    out = run(scenario).decode()
    assert out.splitlines()[0] == secret
    assert out.count(secret) == 1  # printed by printenv, in no process's arguments
    for exec_id in engine.containers.get(box).attrs.get("ExecIDs") or []:
        assert secret not in json.dumps(engine.api.exec_inspect(exec_id)["ProcessConfig"])


def test_leaving_the_iterator_early_closes_the_stream_and_ends_the_command(box: str) -> None:
    processes = ["sh", "-c", 'for p in /proc/[0-9]*; do cat "$p/comm"; done']

    async def scenario(engine: DockerEngine) -> bytes:
        async for chunk in engine.exec(box, ["yes"]):  # never ends on its own
            first = chunk
            break
        # The engine would leave it blocked on its next write for good: it was killed instead.
        for _ in range(100):
            if b"yes" not in (await collect(engine.exec(box, processes))).split():
                return first
            await asyncio.sleep(0.1)
        raise AssertionError("yes still runs")

    assert run(scenario).startswith(b"y\n")


def test_a_command_in_a_missing_container_is_an_engine_error() -> None:
    async def scenario(engine: DockerEngine) -> None:
        await collect(engine.exec("mist-no-such-container", ["true"]))

    with pytest.raises(RuntimeEngineError, match="No such container"):
        run(scenario)
