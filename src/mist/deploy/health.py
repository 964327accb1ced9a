"""Is a freshly started container ready for traffic?

An HTTP health path must answer below 400; without one, the port must accept connections. The
container must keep running meanwhile: one that exits fails at once, with its last output.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from mist.errors import RuntimeEngineError
from mist.runtime.engine import Engine
from mist.runtime.requests import ContainerState


@dataclass(frozen=True)
class HealthCheck:
    path: str = ""  # "" means: the port accepts a TCP connection
    interval: float = 2
    timeout: float = 5
    retries: int = 15
    start_period: float = 0


class Unhealthy(RuntimeEngineError):
    """The new container never became healthy, or it exited; carries its last output lines."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output


async def probe(ip: str, port: int, check: HealthCheck) -> str | None:
    """None when healthy, else why not."""
    if check.path:
        url = f"http://{ip}:{port}/{check.path.lstrip('/')}"
        try:
            async with httpx.AsyncClient(timeout=check.timeout) as client:
                response = await client.get(url)
        except httpx.HTTPError as exc:
            return f"GET {check.path} failed: {type(exc).__name__}"
        return None if response.status_code < 400 else f"GET {check.path} answered {response.status_code}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), check.timeout)
    except (OSError, TimeoutError) as exc:
        return f"port {port} does not accept connections ({type(exc).__name__})"
    writer.close()
    return None


async def wait_healthy(engine: Engine, state: ContainerState, port: int, check: HealthCheck) -> int:
    """Returns the number of probes it took; raises Unhealthy.

    The container gets start_period + retries x interval seconds. Probes start 0.02 s apart and
    back off gently (x1.25) to the interval: a quick app is switched to within about a fifth of
    the time it took to start, and a slow one is not probed more than a few times a second.
    """
    loop = asyncio.get_running_loop()
    if check.start_period:
        await asyncio.sleep(check.start_period)
    window = max(1, check.retries) * check.interval
    deadline = loop.time() + window
    reason: str | None  # why the last probe failed
    delay, attempt, reason = 0.02, 0, "no probe ran"
    current: ContainerState | None = state  # just inspected by whoever started it
    while True:
        # Look at the container before every verdict: a probe may have failed because it exited.
        if attempt:
            current = await engine.inspect(state.id)
        if current is None or current.crashed:
            status = "exited" if current else "was removed"
            code = f" with exit code {current.exit_code}" if current else ""
            raise Unhealthy(
                f"the new container {status}{code} before it became healthy",
                await engine.tail(state.id),
            )
        if attempt and loop.time() > deadline:
            raise Unhealthy(
                f"the new container did not become healthy within {check.start_period + window:g} s "
                f"({attempt} checks): {reason}",
                await engine.tail(state.id),
            )
        attempt += 1
        reason = await probe(current.ip_address or state.ip_address, port, check)
        if reason is None:
            return attempt
        await asyncio.sleep(delay)
        delay = min(delay * 1.25, check.interval)
