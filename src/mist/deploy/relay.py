"""Joins this process's event bus and workers to the other Mist processes' through the database's
channel: deployment events both ways, and "a deployment was queued" so idle workers claim it at once."""

from __future__ import annotations

from typing import Any

from mist.db.channel import Channel
from mist.db.engine import Database
from mist.deploy import store
from mist.deploy.events import EventBus, message
from mist.deploy.logs import LogStore
from mist.deploy.worker import Workers


def relay(db: Database, bus: EventBus, logs: LogStore, workers: Workers) -> Channel:
    """A channel that carries what `bus` publishes to the other processes and publishes theirs on it."""

    async def fetch(deployment_id: int, ref: dict[str, Any]) -> dict[str, Any] | None:
        """An event too large to be sent whole, read back from what it was made of."""
        if ref["type"] == "log":
            line = await db.run(logs.line, deployment_id, int(ref["seq"]))
            return None if line is None else message("log", {"line": line}, seq=int(ref["seq"]))
        row = await db.run(store.get, deployment_id)
        if row is None:
            return None
        if ref["type"] == "error":
            return message("error", {"message": row.error_message})
        return message("status", store.status_data(row))

    channel = Channel(db.url, workers.instance, bus.deliver, fetch)
    bus.forward = channel.send
    channel.on_wake = workers.wake_up
    workers.announce = channel.wake
    return channel
