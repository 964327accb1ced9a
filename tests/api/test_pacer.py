"""mist.api.pacer: log sends share the loop within a budget per window, in turn, and every send happens."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

from mist.api.pacer import Pacer


def busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_sends_past_the_budget_wait_for_the_next_window() -> None:
    windows: list[float] = []
    sent: list[tuple[str, int]] = []

    async def run() -> None:
        pacer = Pacer(window=0.020, share=0.25)  # 5 ms of sends in every 20 ms

        async def watcher(name: str) -> None:
            for i in range(10):
                async def send() -> None:
                    windows.append(pacer._window_end)
                    sent.append((name, i))  # noqa: B023 - awaited at once
                    busy(0.001)
                await pacer.send(send)

        await asyncio.gather(*(watcher(n) for n in "abc"))

    asyncio.run(run())
    per_window = Counter(windows)
    # The budget is checked before a send, so a window holds at most budget / cost + 1 sends.
    assert max(per_window.values()) <= 6 and len(per_window) >= 5, per_window
    for name in "abc":
        assert [i for n, i in sent if n == name] == list(range(10))


def test_other_tasks_run_between_two_sends_of_one_watcher() -> None:
    order: list[str] = []

    async def run() -> None:
        pacer = Pacer(window=1.0, share=1.0)

        async def watcher(name: str) -> None:
            for i in range(3):
                async def send() -> None:
                    order.append(f"{name}{i}")  # noqa: B023 - awaited at once
                await pacer.send(send)

        await asyncio.gather(watcher("a"), watcher("b"))

    asyncio.run(run())
    assert order == ["a0", "b0", "a1", "b1", "a2", "b2"]


def test_a_watcher_leaving_while_it_waits_does_not_hold_up_the_others() -> None:
    sent: list[str] = []

    async def run() -> None:
        pacer = Pacer(window=0.010, share=0.1)

        async def send_as(name: str) -> None:
            async def send() -> None:
                sent.append(name)
                busy(0.002)  # past the 1 ms budget: everyone after waits for the next window
            await pacer.send(send)

        first = asyncio.create_task(send_as("first"))
        await asyncio.sleep(0)
        leaving = asyncio.create_task(send_as("leaving"))
        staying = asyncio.create_task(send_as("staying"))
        await asyncio.sleep(0)
        leaving.cancel()
        await asyncio.wait_for(asyncio.gather(first, staying), 5)

    asyncio.run(run())
    assert sent == ["first", "staying"]


def test_a_watchers_start_waits_for_a_moment_without_requests_but_not_forever() -> None:
    order: list[str] = []

    async def run() -> None:
        pacer = Pacer()
        pacer.request_started()

        async def watcher() -> None:
            await pacer.between_requests(limit=5)
            order.append("watcher starts")

        waiting = asyncio.create_task(watcher())
        await asyncio.sleep(0.05)
        order.append("request ends")
        pacer.request_ended()
        await asyncio.wait_for(waiting, 5)

        # Requests that never stop do not keep a watcher out past the limit.
        pacer.request_started()
        await asyncio.wait_for(pacer.between_requests(limit=0.01), 5)
        order.append("watcher starts anyway")
        pacer.request_ended()
        await asyncio.wait_for(pacer.between_requests(limit=60), 5)  # nothing in flight: at once

    asyncio.run(run())
    assert order == ["request ends", "watcher starts", "watcher starts anyway"]
