"""Shares the event loop between the API and the log streams.

Log streams are bulk traffic: a hundred watchers of a chatty app ask for thousands of messages a
second, and every send runs on the one event loop that also answers API requests (and hands the
workers' results back). Left alone they keep the loop busy, and each API request waits behind
hundreds of sends at every step it takes. So every WebSocket send takes its turn through one Pacer:
within each short window, sends may use at most `share` of the loop's time. Past that, senders queue
(first come, first served) until the next window, and the API gets the rest. Watchers still get
every line, in order, only later when they are many; a lone watcher never reaches the budget.

While an API request is in flight, the streams' share drops to `BUSY_SHARE`: a request is short,
and it gets a nearly idle loop for its few milliseconds (`Priority` counts them). A watcher's own
start (its access checks, the replay's reads) waits for a moment without requests too, up to
`YIELD_SECONDS`: a hundred watchers connecting at once then fill the gaps between requests instead
of competing with them for the interpreter.

Waiting senders are released one at a time, each by the send before it, so a window costs one
wake-up per send, never a wake-up of every waiting watcher.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

WINDOW_SECONDS = 0.002
SHARE = 0.5
BUSY_SHARE = 0.1
YIELD_SECONDS = 0.05  # longest a watcher's start waits for the API to be idle


class Pacer:
    """Must be used from the event loop's thread."""

    def __init__(self, window: float = WINDOW_SECONDS, share: float = SHARE, busy_share: float = BUSY_SHARE,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.window = window
        self.budget = window * share
        self.busy_budget = window * busy_share
        self.requests = 0  # API requests in flight
        self.clock = clock
        self._window_end = 0.0
        self._used = 0.0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._quiet: list[asyncio.Future[None]] = []  # waiting for no request in flight

    async def between_requests(self, limit: float = YIELD_SECONDS) -> None:
        """Returns once no API request is in flight, or after `limit` seconds (requests that never
        stop must not keep watchers out)."""
        if not self.requests:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._quiet.append(waiter)
        try:
            await asyncio.wait({waiter}, timeout=limit)
        finally:
            if not waiter.done():
                waiter.cancel()

    def request_started(self) -> None:
        self.requests += 1

    def request_ended(self) -> None:
        self.requests -= 1
        if not self.requests and self._quiet:
            quiet, self._quiet = self._quiet, []
            for waiter in quiet:
                if not waiter.done():
                    waiter.set_result(None)

    async def send(self, send: Callable[[], Awaitable[None]]) -> None:
        """Runs one send when its turn comes, counting its time against the window's budget."""
        if self._waiting or not self._has_budget():
            turn = asyncio.get_running_loop().create_future()
            self._waiting.append(turn)
            self._schedule()
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._next()  # our turn was given: pass it on
                raise
        began = self.clock()
        try:
            await send()
        finally:
            self._used += self.clock() - began
            self._next()
        if not self._waiting:
            await asyncio.sleep(0)  # the other tasks' turn: one watcher never sends its backlog at once

    def _has_budget(self) -> bool:
        now = self.clock()
        if now >= self._window_end:
            self._window_end, self._used = now + self.window, 0.0
        return self._used < (self.busy_budget if self.requests else self.budget)

    def _next(self) -> None:
        """Hands the turn to the first waiting sender if the window allows, else at its end."""
        while self._waiting and self._waiting[0].done():  # cancelled while waiting
            self._waiting.popleft()
        if not self._waiting:
            return
        if self._has_budget():
            self._waiting.popleft().set_result(None)
        else:
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None:
            delay = max(0.0, self._window_end - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_window)

    def _on_window(self) -> None:
        self._timer = None
        self._next()


class Priority:
    """ASGI middleware: counts the HTTP requests in flight for the pacer (WebSockets are not counted:
    they are what the pacer slows down)."""

    def __init__(self, app: ASGIApp, pacer: Pacer) -> None:
        self.app = app
        self.pacer = pacer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        self.pacer.request_started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.pacer.request_ended()
