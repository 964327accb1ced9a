"""mist.db.channel on a real PostgreSQL: events cross from one process's channel to another's, in
order, never back to their sender; one too large for a notification arrives through the database;
"a deployment was queued" wakes the other processes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from mist.db.channel import MAX_PAYLOAD, Channel, encode
from mist.db.engine import Database


def test_a_large_event_is_sent_as_a_reference() -> None:
    small = encode("a", 7, {"type": "log", "seq": 3, "data": {"line": "x"}})
    assert '"line":"x"' in small
    large = encode("a", 7, {"type": "log", "seq": 4, "data": {"line": "é" * MAX_PAYLOAD}})
    assert large == '{"o":"a","d":7,"ref":{"type":"log","seq":4}}'


def test_events_reach_the_other_processes_in_order_and_not_their_sender(migrated: Callable[..., Database]) -> None:
    db = migrated()
    if db.is_sqlite:
        pytest.skip("one process per SQLite database: nothing to carry")
    got: dict[str, list[tuple[int, dict[str, Any]]]] = {"a": [], "b": []}
    woken: list[str] = []
    fetched: list[dict[str, Any]] = []

    async def fetch(deployment_id: int, ref: dict[str, Any]) -> dict[str, Any]:
        fetched.append(ref)
        return {"type": "log", "seq": ref["seq"], "data": {"line": "read from the database"}}

    async def scenario() -> None:
        a = Channel(db.url, "a", lambda d, e: got["a"].append((d, e)), fetch)
        b = Channel(db.url, "b", lambda d, e: got["b"].append((d, e)), fetch)
        a.on_wake, b.on_wake = (lambda: woken.append("a")), (lambda: woken.append("b"))
        await a.start()
        await b.start()
        try:
            for seq in range(300):
                a.send(7, {"type": "log", "seq": seq, "data": {"line": f"line {seq}"}})
            a.send(7, {"type": "log", "seq": 300, "data": {"line": "z" * 10_000}})
            a.send(7, {"type": "status", "data": {"status": "success"}})
            a.wake()  # a deployment was queued through a
            for _ in range(200):
                if len(got["b"]) == 302 and woken:
                    break
                await asyncio.sleep(0.05)
        finally:
            await a.stop()
            await b.stop()

    asyncio.run(scenario())
    assert got["a"] == []
    assert [e["seq"] for _, e in got["b"][:301]] == list(range(301))
    assert got["b"][300][1]["data"]["line"] == "read from the database" and fetched == [{"type": "log", "seq": 300}]
    assert got["b"][301] == (7, {"type": "status", "data": {"status": "success"}})
    assert woken == ["b"]
