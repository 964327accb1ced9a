"""mist.db.locks on SQLite and PostgreSQL: one leader at a time, taken over when it goes; a lock
section run by one holder at a time, given back when its holder is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from mist.db.engine import Database
from mist.db.locks import Leadership, Lock

KEY = 0x6D69737400FF


def test_one_leader_at_a_time_and_another_takes_over_when_it_goes(migrated: Callable[..., Database]) -> None:
    db = migrated()

    async def scenario() -> None:
        first, second = Leadership(db, KEY), Leadership(db, KEY)
        try:
            if db.is_sqlite:  # one process per SQLite database: it always leads
                assert await first.claim() and await second.claim()
                return
            assert await first.claim() and not await second.claim()
            assert await first.claim()  # still held: checked, not claimed twice
            await first.release()  # as when the leading process dies: its connection closes
            for _ in range(200):  # the server ends the closed session on its own time
                if await second.claim():
                    break
                await asyncio.sleep(0.05)
            assert await second.claim() and not await first.claim()
        finally:
            await first.release()
            await second.release()

    asyncio.run(scenario())


def test_a_lock_section_has_one_holder_at_a_time(migrated: Callable[..., Database]) -> None:
    db = migrated()
    inside, overlaps = [0], []

    async def hold(lock: Lock) -> None:
        for _ in range(5):
            async with lock:
                inside[0] += 1
                overlaps.append(inside[0])
                await asyncio.sleep(0.01)
                inside[0] -= 1

    async def scenario() -> None:
        # On PostgreSQL two Lock objects for one key stand for two processes; a SQLite database has
        # one process, whose tasks share its one Lock.
        lock = Lock(db, KEY)
        locks = [lock, lock] if db.is_sqlite else [lock, Lock(db, KEY)]
        await asyncio.gather(*(hold(each) for each in locks))

    asyncio.run(scenario())
    assert overlaps == [1] * 10


def test_a_holder_cancelled_while_waiting_leaves_the_lock_free(migrated: Callable[..., Database]) -> None:
    db = migrated()
    if db.is_sqlite:
        pytest.skip("on SQLite the lock is an asyncio.Lock: waiting is cancelled by asyncio itself")

    async def scenario() -> None:
        first, second = Lock(db, KEY), Lock(db, KEY)
        async with first:
            waiter = asyncio.ensure_future(second.__aenter__())
            await asyncio.sleep(0.2)
            waiter.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        await asyncio.sleep(0.3)  # the cancelled waiter's thread takes the lock, then gives it back
        async with asyncio.timeout(10):
            async with second:
                pass
            async with first:
                pass

    asyncio.run(scenario())
