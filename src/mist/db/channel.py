"""Deployment events between the Mist processes sharing one PostgreSQL: LISTEN/NOTIFY.

Each process publishes its events on its own event bus, and also sends them here; every other
process receives them and publishes them on its bus, so a watcher of a deployment that another
process runs gets its lines and status changes live. Lines are stored before they are sent: a watcher
replays what is stored and the channel brings what follows (the `seq` numbers join the two).

A notification holds at most 8000 bytes. An event too large for one (a long line, a long error) is
sent as a reference, and the receiver reads it from the database. Sending and listening each use a
connection of their own; a connection lost is made again within seconds (events sent meanwhile are
not seen by the other processes' watchers, who still find every line stored).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

CHANNEL = "mist_events"
MAX_PAYLOAD = 7900  # PostgreSQL's limit is 8000 bytes
SEND_BATCH = 200  # events sent in one statement
MAX_QUEUED = 100_000  # events waiting to be sent; past that they are dropped (and said so)
RECONNECT_SECONDS = 1.0

Event = dict[str, Any]
# Reads an event sent as a reference from the database: (deployment id, the reference) -> the event.
Fetch = Callable[[int, dict[str, Any]], Awaitable[Event | None]]
Deliver = Callable[[int, Event], None]


def libpq_url(url: str) -> str:
    """SQLAlchemy's `postgresql+psycopg://` URL as libpq takes it."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def encode(instance: str, deployment_id: int, event: Event) -> str:
    text = json.dumps({"o": instance, "d": deployment_id, "e": event}, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) <= MAX_PAYLOAD:
        return text
    ref = {"type": event["type"]}
    if "seq" in event:
        ref["seq"] = event["seq"]
    return json.dumps({"o": instance, "d": deployment_id, "ref": ref}, separators=(",", ":"))


class Channel:
    def __init__(self, url: str, instance: str, deliver: Deliver, fetch: Fetch) -> None:
        self.url = libpq_url(url)
        self.instance = instance
        self.deliver = deliver
        self.fetch = fetch
        self._queue: asyncio.Queue[str] = asyncio.Queue(MAX_QUEUED)
        self._dropped = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        # Called when another process queued a deployment, so that idle workers here claim it now.
        self.on_wake: Callable[[], None] | None = None

    async def start(self) -> None:
        """Listens before returning, so that nothing sent after start-up is missed."""
        self._tasks = [asyncio.create_task(self._listen(), name="mist-channel-listen"),
                       asyncio.create_task(self._send(), name="mist-channel-send")]
        await asyncio.wait({asyncio.ensure_future(self._listening.wait())}, timeout=10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)
        self._tasks = []

    def send(self, deployment_id: int, event: Event) -> None:
        """Never waits: called as the event is published."""
        try:
            self._queue.put_nowait(encode(self.instance, deployment_id, event))
        except asyncio.QueueFull:
            self._dropped += 1
            if self._dropped == 1:
                log.error("deployment events pile up unsent to the other Mist processes; dropping them")

    def wake(self) -> None:
        """Tells the other processes that a deployment was queued."""
        try:
            self._queue.put_nowait(json.dumps({"o": self.instance, "wake": 1}))
        except asyncio.QueueFull:
            pass  # their workers find it at their next poll, within a second

    async def _send(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    while True:
                        batch = [await self._queue.get()]
                        while len(batch) < SEND_BATCH and not self._queue.empty():
                            batch.append(self._queue.get_nowait())
                        # In one statement, in order: notifications of one transaction arrive in the
                        # order they were sent.
                        await conn.execute(
                            "SELECT pg_notify(%s, p) FROM unnest(%s::text[]) WITH ORDINALITY AS t(p, n) ORDER BY n",
                            (CHANNEL, batch))
            except psycopg.Error as exc:
                log.warning("cannot send deployment events to the other Mist processes: %s", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    async for notice in conn.notifies():
                        await self._receive(notice.payload)
            except psycopg.Error as exc:
                log.warning("cannot hear the other Mist processes' deployment events: %s", exc)
                await asyncio.sleep(RECONNECT_SECONDS)

    async def _receive(self, payload: str) -> None:
        try:
            note = json.loads(payload)
            if note.get("o") == self.instance:
                return
            if note.get("wake"):
                if self.on_wake is not None:
                    self.on_wake()
                return
            deployment_id = int(note["d"])
            event = note.get("e")
            if event is None:
                event = await self.fetch(deployment_id, note["ref"])
        except Exception:
            log.exception("a deployment event from another Mist process could not be read")
            return
        if event is not None:
            self.deliver(deployment_id, event)
