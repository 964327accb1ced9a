"""A command run in a container (`docker exec`), its stdin and stdout streamed over the Docker
Engine API with asyncio: no thread, and memory bounded whatever the size of what flows through.

A database dump of hundreds of megabytes passes through here on its way to a backup file, and a
backup on its way back in. So nothing is ever gathered whole: stdout is yielded piece by piece as
the consumer asks for it (the socket is not read faster than that, so the engine and the command
wait for a slow consumer), stdin is written as the engine takes it, and of stderr only the last
STDERR_TAIL bytes are kept, to quote when the command fails.

The Engine API's exec: `POST /containers/{id}/exec` makes it, `POST /exec/{id}/start` with
`Upgrade: tcp` turns the connection into the raw stream (stdin one way; stdout and stderr framed
with 8-byte headers the other way), half-closing our side tells the command its stdin ended, and
`GET /exec/{id}/json` gives the exit code once the stream is over. httpx cannot hand over a
hijacked connection, so the start speaks HTTP/1.1 on a socket of its own.

The engine never ends an exec whose client left: the command blocks for good on its next write
(a pg_dump then holds its locks and its snapshot until the container stops). So each exec carries
a random marker in its environment, and a consumer leaving before the end has the command killed
by it (the Engine API has no call to kill an exec).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from mist.errors import ExecFailed, RuntimeEngineError
from mist.runtime.logstream import API_VERSION, DEFAULT_SOCKET, LogStreams, _payloads

STDERR_TAIL = 64 * 1024  # bytes of stderr kept to quote in ExecFailed
QUOTED_LINES = 10  # of that tail, the lines the error message quotes
READ_BYTES = 64 * 1024
_HEAD_BYTES = 64 * 1024  # the start's response head; an error body is cut at this size too
_EXIT_POLLS = 50  # the stream can end a moment before the engine records the exit code
MARKER = "MIST_EXEC"  # in each exec's environment: a random value naming it
# Needs only sh and cat, which every database image has. Environments are NUL-separated: the
# shell drops the NULs, and the fixed-length random value still matches whatever follows it.
_KILL = ('for p in /proc/[0-9]*; do case "$(cat "$p/environ" 2>/dev/null)" in '
         '*"$1=$2"*) kill "${p#/proc/}" 2>/dev/null;; esac; done')


async def _connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection of its own to the engine, found as logstream finds it (DOCKER_HOST)."""
    host = os.environ.get("DOCKER_HOST", "")
    try:
        if not host or host.startswith("unix://"):
            return await asyncio.open_unix_connection(host.removeprefix("unix://") or DEFAULT_SOCKET,
                                                      limit=READ_BYTES)
        if host.startswith("tcp://") and os.environ.get("DOCKER_TLS_VERIFY", "") in ("", "0"):
            address, _, port = host.removeprefix("tcp://").rstrip("/").rpartition(":")
            return await asyncio.open_connection(address.strip("[]"), int(port), limit=READ_BYTES)
    except (OSError, ValueError) as exc:
        raise RuntimeEngineError(f"cannot reach the Docker engine at {host or DEFAULT_SOCKET}: {exc}") from exc
    raise RuntimeEngineError(f"cannot run commands in containers through DOCKER_HOST={host}: "
                             "use unix:// or plain tcp://")


class ExecStreams:
    """Runs commands in containers; creating and inspecting an exec go through the shared pool."""

    def __init__(self, streams: LogStreams) -> None:
        self.streams = streams

    async def run(
        self,
        container_id: str,
        command: list[str],
        env: dict[str, str] | None = None,
        stdin: AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        """`Engine.exec`: yields stdout as it comes, raises ExecFailed on a non-zero exit."""
        what = f"`{command[0] if command else ''}` in {container_id[:12]}"
        marker = secrets.token_hex(16)
        exec_id = await self._create(container_id, command, {**(env or {}), MARKER: marker}, stdin is not None,
                                     what)
        reader, writer = await self._start(exec_id, what)
        feeding: asyncio.Task[None] | None = None
        stdin_failed = asyncio.Event()
        stderr = bytearray()
        ended = False
        try:
            if stdin is not None:
                async def stop() -> None:
                    await self._kill(container_id, marker)
                    await self._ended(exec_id)

                feeding = asyncio.create_task(_feed(stdin, writer, stop, stdin_failed))
            async for stream, piece in _payloads(_chunks(reader, what)):
                if stream == 1:
                    yield piece
                elif stream == 2:
                    stderr += piece
                    del stderr[:-STDERR_TAIL]
            ended = True
            if feeding is not None:
                # The command is done with its output; stdin it never read is of no use to it. But
                # one that ended because reading stdin failed: that failure is the story to tell.
                if not feeding.done() and not stdin_failed.is_set():
                    feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await feeding  # raises what reading the caller's stdin raised
        finally:
            if feeding is not None and not feeding.done():
                feeding.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await feeding
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            if not ended:  # the consumer left (or the stream broke): the command would block for good
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._kill(container_id, marker))
        exit_code = await self._exit_code(exec_id, what)
        if exit_code != 0:
            tail = stderr.decode(errors="replace").rstrip()
            quoted = "\n".join(tail.splitlines()[-QUOTED_LINES:])
            raise ExecFailed(f"{what} exited with code {exit_code}" + (f": {quoted}" if quoted else ""),
                             exit_code, tail)

    async def _create(self, container_id: str, command: list[str], env: dict[str, str], attach_stdin: bool,
                      what: str) -> str:
        body = {
            "AttachStdin": attach_stdin, "AttachStdout": True, "AttachStderr": True, "Tty": False,
            "Cmd": command, "Env": [f"{key}={value}" for key, value in env.items()],
        }
        try:
            response = await self.streams.http.post(
                f"/v{API_VERSION}/containers/{container_id}/exec", json=body, timeout=httpx.Timeout(60)
            )
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot run {what}: {exc}") from exc
        if response.status_code >= 400:
            raise RuntimeEngineError(f"cannot run {what}: {_message(response.content, response.status_code)}")
        return str(response.json()["Id"])

    async def _start(self, exec_id: str, what: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await _connect()
        try:
            body = json.dumps({"Detach": False, "Tty": False}).encode()
            writer.write(
                f"POST /v{API_VERSION}/exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
                "Content-Type: application/json\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *headers = head.decode("latin-1").split("\r\n")
            parts = status_line.split(" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            # 101: switched to the raw stream; 200: an engine that streams without switching.
            if status in (101, 200):
                return reader, writer
            length = next((int(h.split(":", 1)[1]) for h in headers if h.lower().startswith("content-length:")
                           and h.split(":", 1)[1].strip().isdigit()), _HEAD_BYTES)
            error = await reader.read(min(length, _HEAD_BYTES))
            raise RuntimeEngineError(f"cannot run {what}: {_message(error, status)}")
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            writer.close()
            raise RuntimeEngineError(f"cannot run {what}: the engine broke off the exec ({exc!r})") from exc
        except BaseException:
            writer.close()
            raise

    async def _kill(self, container_id: str, marker: str) -> None:
        """Kills the exec carrying `marker` (best effort: the container may be gone by now)."""
        kill_id = await self._create(container_id, ["sh", "-c", _KILL, "sh", MARKER, marker], {}, False,
                                     f"the kill of an exec in {container_id[:12]}")
        await self.streams.http.post(f"/v{API_VERSION}/exec/{kill_id}/start", json={"Detach": True},
                                     timeout=httpx.Timeout(60))

    async def _exit_code(self, exec_id: str, what: str) -> int:
        try:
            exit_code = await self._ended(exec_id)
        except (httpx.HTTPError, RuntimeEngineError) as exc:
            raise RuntimeEngineError(f"cannot tell how {what} ended: {exc}") from exc
        if exit_code is None:
            # Its output closed but it runs on (it closed stdout itself, or forked): it has not failed yet.
            raise RuntimeEngineError(f"{what} closed its output but did not exit")
        return exit_code

    async def _ended(self, exec_id: str) -> int | None:
        """The exit code once the command has ended; None if it still runs after a few seconds."""
        for _ in range(_EXIT_POLLS):
            response = await self.streams.http.get(f"/v{API_VERSION}/exec/{exec_id}/json", timeout=httpx.Timeout(60))
            if response.status_code >= 400:
                raise RuntimeEngineError(_message(response.content, response.status_code))
            info: dict[str, Any] = response.json()
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            await asyncio.sleep(0.1)
        return None


async def _chunks(reader: asyncio.StreamReader, what: str) -> AsyncIterator[bytes]:
    while True:
        try:
            chunk = await reader.read(READ_BYTES)
        except OSError as exc:
            raise RuntimeEngineError(f"the engine broke off {what}: {exc}") from exc
        if not chunk:
            return
        yield chunk


async def _feed(stdin: AsyncIterable[bytes], writer: asyncio.StreamWriter,
                stop: Callable[[], Awaitable[None]], failed: asyncio.Event) -> None:
    """Writes stdin as fast as the engine takes it, then half-closes: the command reads EOF. A
    command that exits without reading it all resets the connection, which is not an error here
    (its exit code tells). An error reading `stdin` is (a backup file failing its checksum at its
    end): the command is killed while it still waits for more, before any EOF could make it take
    a cut stream for a whole one and commit it; then the connection is cut, and the error is
    raised to the caller instead of an exit code."""
    try:
        async for chunk in stdin:
            writer.write(chunk)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError:
        return
    except Exception:
        failed.set()
        with contextlib.suppress(Exception):
            await stop()
        writer.transport.abort()
        raise


def _message(body: bytes, status: int) -> str:
    try:
        return str(json.loads(body).get("message") or status)
    except (ValueError, AttributeError):
        return f"HTTP {status}"
