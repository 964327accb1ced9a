"""A container's log, followed live over the Docker Engine API with asyncio (no thread per stream).

The SDK's log stream is a blocking read: each watcher held a thread of the event loop's shared
pool for as long as it watched, and a handful of watchers starved the API and the deploy
workers. Here a stream is a socket read by the event loop, so a thousand watchers cost sockets.
"""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from typing import Any

import httpx

from mist.errors import RuntimeEngineError
from mist.lines import LineSplitter

API_VERSION = "1.41"  # Docker 20.10; later engines still serve it
DEFAULT_SOCKET = "/var/run/docker.sock"
_HEADER = struct.Struct(">BxxxL")  # stream (1 stdout, 2 stderr), then the payload's length


def _client() -> httpx.AsyncClient:
    """The engine as the Docker CLI finds it: DOCKER_HOST (unix:// or tcp://), else the socket."""
    host = os.environ.get("DOCKER_HOST", "")
    # A followed log is quiet for as long as the app is: no read timeout, only a connect one.
    timeout = httpx.Timeout(None, connect=10)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=8)
    if not host or host.startswith("unix://"):
        path = host.removeprefix("unix://") or DEFAULT_SOCKET
        return httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=path), base_url="http://docker", timeout=timeout, limits=limits
        )
    if host.startswith("tcp://") and os.environ.get("DOCKER_TLS_VERIFY", "") in ("", "0"):
        return httpx.AsyncClient(base_url=f"http://{host.removeprefix('tcp://')}", timeout=timeout, limits=limits)
    raise RuntimeEngineError(f"cannot follow logs through DOCKER_HOST={host}: use unix:// or plain tcp://")


class LogStreams:
    """Opens followed log streams; one connection pool, made on first use."""

    def __init__(self) -> None:
        self._http: httpx.AsyncClient | None = None

    @property
    def http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http = _client()
        return self._http

    async def follow(self, container_id: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        """The container's log lines (stdout and stderr, each prefixed with its timestamp) until
        the container stops; nothing when it is gone. Leaving the iterator closes the socket."""
        base = f"/v{API_VERSION}/containers/{container_id}"
        params = {"follow": "1", "stdout": "1", "stderr": "1", "timestamps": "1", "tail": str(tail)}
        if since is not None:
            params["since"] = f"{since:.9f}"
        try:
            info = await self.http.get(f"{base}/json")
            if info.status_code == 404:
                return
            info.raise_for_status()
            tty = bool((info.json().get("Config") or {}).get("Tty"))
            async with self.http.stream("GET", f"{base}/logs", params=params) as response:
                if response.status_code == 404:
                    return
                if response.status_code >= 400:
                    await response.aread()
                    raise RuntimeEngineError(
                        f"cannot follow the logs of {container_id[:12]}: {_message(response)}"
                    )
                frames = response.aiter_raw() if tty else _payloads(response.aiter_raw())
                async for line in _lines(frames, tty):
                    yield line
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot follow the logs of {container_id[:12]}: {exc}") from exc

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


async def _payloads(chunks: AsyncIterator[bytes]) -> AsyncIterator[tuple[int, bytes]]:
    """Demultiplexes a non-TTY stream (8-byte headers, each followed by its payload) into
    (stream, piece) pairs as bytes arrive, however the socket cut them: memory stays bounded by
    one read, whatever size a frame announces."""
    header, stream, left = b"", 1, 0
    async for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            if not left:
                taken = chunk[pos:pos + _HEADER.size - len(header)]
                header += taken
                pos += len(taken)
                if len(header) == _HEADER.size:
                    (stream, left), header = _HEADER.unpack(header), b""
                continue
            piece = chunk[pos:pos + left]
            pos += len(piece)
            left -= len(piece)
            yield stream, piece


async def _lines(frames: AsyncIterator[Any], tty: bool) -> AsyncIterator[str]:  # raw chunks or (stream, payload)
    """Whole lines; stdout and stderr each have their own partial line."""
    splitters = {1: LineSplitter(), 2: LineSplitter()}
    async for frame in frames:
        stream, payload = (1, frame) if tty else frame
        for line in splitters.get(stream, splitters[1]).feed(payload):
            yield line
    for splitter in splitters.values():
        for line in splitter.flush():
            yield line


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message") or response.status_code)
    except ValueError:
        return str(response.status_code)
