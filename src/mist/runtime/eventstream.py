"""The engine's container events, followed over the Docker Engine API with asyncio (no thread).

`GET /events` answers one JSON object a line for as long as it is read. A stream that breaks (the
engine restarted, the socket dropped) is opened again with `since` set to the last event seen, so
what happened in between is replayed; events already seen are skipped by their timestamp.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from mist.errors import RuntimeEngineError
from mist.lines import LineSplitter
from mist.runtime.engine import APP_LABEL
from mist.runtime.logstream import API_VERSION, LogStreams
from mist.runtime.requests import ContainerEvent

log = logging.getLogger(__name__)

ACTIONS = ("start", "kill", "die")
RECONNECT_SECONDS = 1.0
MAX_RECONNECT_SECONDS = 60.0
_LINE_BYTES = 256 * 1024  # one event, with all its container's labels


def parse(raw: dict[str, Any]) -> tuple[int, ContainerEvent] | None:
    """The event as a plain value, with its time in nanoseconds (what `since` compares); None for
    one that is not about a container's life."""
    action = str(raw.get("Action") or raw.get("status") or "")
    if raw.get("Type", "container") != "container" or action not in ACTIONS:
        return None
    actor = raw.get("Actor") or {}
    attributes = {str(k): str(v) for k, v in (actor.get("Attributes") or {}).items()}
    nanos = int(raw.get("timeNano") or int(raw.get("time") or 0) * 1_000_000_000)
    try:
        exit_code = int(attributes.pop("exitCode", "0"))
    except ValueError:
        exit_code = -1
    name = attributes.pop("name", "")
    for key in ("image", "signal"):  # what is left are the container's labels
        attributes.pop(key, None)
    return nanos, ContainerEvent(container_id=str(actor.get("ID") or raw.get("id") or ""), name=name,
                                 action=action, exit_code=exit_code, labels=attributes, at=nanos / 1e9)


class ContainerEvents:
    def __init__(self, streams: LogStreams, reconnect_seconds: float = RECONNECT_SECONDS) -> None:
        self.streams = streams  # shares its connection pool with the followed logs
        self.reconnect_seconds = reconnect_seconds

    async def follow(self) -> AsyncIterator[ContainerEvent]:
        last: int | None = None  # the newest event seen, in nanoseconds; None: from now on
        delay = self.reconnect_seconds
        while True:
            connected = False
            try:
                async for told in self._once(last):
                    connected, delay = True, self.reconnect_seconds  # the engine answers again
                    if told is None:
                        continue
                    nanos, event = told
                    if last is None or nanos > last:
                        last = nanos
                        yield event
            except RuntimeEngineError as exc:
                # A stream that broke is worth a line; an engine that stays unreachable was told of
                # at start-up (and by every deployment), not again at each try.
                log.log(logging.WARNING if connected else logging.DEBUG,
                        "container events: %s; reconnecting in %g s", exc.message, delay)
            await asyncio.sleep(delay)
            # An engine that is down is asked less and less often.
            delay = min(delay * 2, MAX_RECONNECT_SECONDS)

    async def _once(self, since: int | None) -> AsyncIterator[tuple[int, ContainerEvent] | None]:
        """The events of one stream; None first, once the engine has answered."""
        filters = {"type": ["container"], "label": [APP_LABEL], "event": list(ACTIONS)}
        params = {"filters": json.dumps(filters)}
        if since is not None:  # inclusive: the event last seen comes again, and is skipped
            params["since"] = f"{since // 1_000_000_000}.{since % 1_000_000_000:09d}"
        splitter = LineSplitter(_LINE_BYTES)
        try:
            async with self.streams.http.stream("GET", f"/v{API_VERSION}/events", params=params) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise RuntimeEngineError(f"cannot follow the engine's events: HTTP {response.status_code}")
                yield None
                async for chunk in response.aiter_raw():
                    for line in splitter.feed(chunk):
                        event = _decode(line)
                        if event is not None:
                            yield event
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot follow the engine's events: {exc}") from exc


def _decode(line: str) -> tuple[int, ContainerEvent] | None:
    try:
        raw = json.loads(line)
    except ValueError:
        return None
    return parse(raw) if isinstance(raw, dict) else None
