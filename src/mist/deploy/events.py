"""Event bus: the pipeline publishes each deployment's messages, watchers subscribe.

On PostgreSQL the bus also forwards what is published here to the other Mist processes (see
mist.db.channel), and publishes what they send with `deliver`.

Watchers never poll the database for lines: a subscription is an asyncio queue fed by `publish`.
A watcher too slow to keep up is cut off rather than letting its queue grow without bound. An
event is encoded to JSON once, however many watch it.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_BACKLOG = 10_000


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(kind: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A WebSocket message as the contract shapes it: type, timestamp, data."""
    return {"type": kind, "timestamp": now_iso(), "data": data, **extra}


class Published:
    """One event as every watcher of it gets it; its JSON text is made once, on first use."""

    __slots__ = ("event", "_text")

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            # As Starlette's send_json encodes.
            self._text = json.dumps(self.event, separators=(",", ":"), ensure_ascii=False)
        return self._text


class Mailbox(Generic[T]):
    """One watcher's queue: the publisher never waits for it, and a watcher too slow to keep up is
    marked overflowed (and then cut off by its reader) rather than letting the queue grow."""

    def __init__(self, size: int) -> None:
        self.queue: asyncio.Queue[T] = asyncio.Queue(size)
        self.overflowed = False

    def offer(self, item: T) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> T:
        return await self.queue.get()


class Subscription(Mailbox[Published]):
    def __init__(self, bus: EventBus, deployment_id: int) -> None:
        super().__init__(MAX_BACKLOG)
        self.bus = bus
        self.deployment_id = deployment_id

    def close(self) -> None:
        self.bus._unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Must be used from the event loop's thread."""

    def __init__(self) -> None:
        self._subs: dict[int, set[Subscription]] = defaultdict(set)
        self.forward: Callable[[int, dict[str, Any]], None] | None = None

    def subscribe(self, deployment_id: int) -> Subscription:
        sub = Subscription(self, deployment_id)
        self._subs[deployment_id].add(sub)
        return sub

    def publish(self, deployment_id: int, event: dict[str, Any]) -> None:
        if self.forward is not None:
            self.forward(deployment_id, event)
        self.deliver(deployment_id, event)

    def deliver(self, deployment_id: int, event: dict[str, Any]) -> None:
        """To this process's watchers only."""
        subs = tuple(self._subs.get(deployment_id, ()))
        if subs:
            published = Published(event)
            for sub in subs:
                sub.offer(published)

    def watchers(self, deployment_id: int) -> int:
        return len(self._subs.get(deployment_id, ()))

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.deployment_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.deployment_id]
