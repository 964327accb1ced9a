"""Live runtime logs of apps: one engine stream per app, however many watch it.

A hundred watchers of a chatty app used to hold a hundred streams from the engine, each line read,
split, redacted and encoded as JSON a hundred times over. A Feed follows the app's container once
(and the next one, when a restart or a deployment replaces it) and hands every watcher the same
encoded message. Watchers that want only what comes from now on share the app's feed; a watcher
that asks for earlier lines (a `tail`) gets a feed of its own, whose first request to the engine
returns those lines and then follows, in one stream: stitching a separate tail to a shared stream
by timestamps loses the rest of a long line in progress, whose pieces the engine stores as separate
entries. A watcher too slow to keep up is cut off rather than letting its queue grow without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from mist.deploy.events import Mailbox, message
from mist.deploy.logs import Redactor
from mist.errors import MistError
from mist.lines import CONTINUED
from mist.runtime.engine import Engine

log = logging.getLogger(__name__)

MAX_BACKLOG = 10_000  # messages a watcher may be behind before it is cut off
POLL_SECONDS = 1.0  # how often a feed looks for the app's next running container


class FellBehind(MistError):
    """The watcher read too slowly; it may reconnect and ask for a tail."""


@dataclass(frozen=True)
class Running:
    """The container an app runs now and the secret values its logs must not show."""

    container_id: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    stamp: str  # the engine's timestamp of a log line ("" for a status or an error)
    text: str  # the WebSocket message, encoded once for every watcher
    error: MistError | None = None


def log_message(line: str, redact: Redactor, stamp: str) -> tuple[str, str]:
    """(the line's timestamp, its encoded message) for a line as the engine gives it: "STAMP text",
    or the rest of an over-long line, which carries the stamp of its beginning."""
    if not line.startswith(CONTINUED):
        stamp, _, line = line.partition(" ")
    return stamp, json.dumps(message("log", {"timestamp": stamp, "line": redact(line)}))


class Follower(Mailbox[Item]):
    """One watcher's place in a feed."""

    def __init__(self, feed: Feed) -> None:
        super().__init__(MAX_BACKLOG)
        self.feed = feed

    async def items(self) -> AsyncIterator[Item]:
        while True:
            item = await self.get()
            if self.overflowed:
                raise FellBehind("too far behind the container's log; reconnect to resume")
            if item.error is not None:
                raise item.error
            yield item

    def close(self) -> None:
        self.feed.leave(self)


class Feed:
    """Follows one app's running container for its followers; ends when the last one leaves."""

    def __init__(self, app_id: int, engine: Engine, running: Callable[[int], Awaitable[Running]],
                 on_end: Callable[[Feed], None], tail: int = 0) -> None:
        self.app_id = app_id
        self.engine = engine
        self.running = running
        self.on_end = on_end
        self.tail = tail  # lines from before the first stream, for a watcher's own feed
        self.followers: set[Follower] = set()
        self.task = asyncio.create_task(self._run(), name=f"mist-log-feed-{app_id}")

    def join(self) -> Follower:
        follower = Follower(self)
        self.followers.add(follower)
        return follower

    def leave(self, follower: Follower) -> None:
        self.followers.discard(follower)
        if not self.followers:
            self.task.cancel()
            self.on_end(self)

    def _publish(self, item: Item) -> None:
        for follower in tuple(self.followers):
            follower.offer(item)

    async def _run(self) -> None:
        try:
            current = await self.running(self.app_id)
            tail: int | str = self.tail
            since: float | None = None
            while True:
                if current.container_id:
                    since = await self._follow(current, tail, since)
                current, since = await self._next(current.container_id, since)
                tail = "all"  # the same container resumes after `since`; a new one from its start
        except asyncio.CancelledError:
            raise
        except MistError as exc:
            self._end_with(exc)
        except Exception as exc:  # noqa: BLE001 - logged, and every watcher is told
            log.exception("the log feed of app %s failed", self.app_id)
            self._end_with(MistError(f"internal error following the logs of app {self.app_id}: {exc}"))

    async def _follow(self, current: Running, tail: int | str, since: float | None) -> float:
        """Publishes the container's lines until it stops, then its state; returns when it stopped."""
        redact, stamp = Redactor(current.secrets), ""
        async for line in self.engine.follow_logs(current.container_id, tail, since):
            stamp, text = log_message(line, redact, stamp)
            self._publish(Item(stamp, text))
        stopped = time.time()
        state = await self.engine.inspect(current.container_id)
        self._publish(Item("", json.dumps(message("status", {"state": state.status if state else "removed"}))))
        return stopped

    async def _next(self, previous: str, since: float | None) -> tuple[Running, float | None]:
        """Waits until the app runs a container again: the same one restarted continues after what
        was sent; a new one (a deployment) is followed from its start."""
        while True:
            await asyncio.sleep(POLL_SECONDS)
            current = await self.running(self.app_id)
            if not current.container_id:
                continue
            state = await self.engine.inspect(current.container_id)
            if state is not None and state.status == "running":
                return current, (since if current.container_id == previous else None)

    def _end_with(self, error: MistError) -> None:
        self._publish(Item("", json.dumps(message("error", {"message": error.message})), error=error))
        self.on_end(self)


class Feeds:
    """The feeds of the apps someone is watching. Must be used from the event loop's thread."""

    def __init__(self, engine: Engine, running: Callable[[int], Awaitable[Running]]) -> None:
        self.engine = engine
        self.running = running
        self._feeds: dict[int, Feed] = {}

    def join(self, app_id: int, tail: int = 0) -> Follower:
        """From now on, on the app's shared feed; with a `tail`, on a feed of the watcher's own."""
        if tail:
            return Feed(app_id, self.engine, self.running, lambda _feed: None, tail).join()
        feed = self._feeds.get(app_id)
        if feed is None:
            feed = self._feeds[app_id] = Feed(app_id, self.engine, self.running, self._ended)
        return feed.join()

    def _ended(self, feed: Feed) -> None:
        if self._feeds.get(feed.app_id) is feed:
            del self._feeds[feed.app_id]
