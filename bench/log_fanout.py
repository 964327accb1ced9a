"""Log fan-out: many watchers on one server, and what they cost the API and the server's memory.

One deployment whose build prints 3000 numbered lines (in bursts of 100, about 3 s) is watched by
100 deployment-log WebSockets, while 100 container-log WebSockets follow a chatty app (50 lines a
second) and a separate process times API requests (GET /api/auth/me, POST
/api/deployment/getByAppId, one after the other). Checks that every deployment watcher got every
line, whole and in order, and every container watcher an unbroken run of the chatty app's lines.
Prints the API's p99 latency under that load over its p99 idle, and the server's resident memory
(VmRSS sampled, VmHWM at the end) idle and at its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import statistics
import time
import uuid
from pathlib import Path

import httpx
from harness import Memory, mist_bench
from support.images import ensure_busybox_image
from websockets.asyncio.client import connect

LINES = 3000
PADDING = "padding-" * 8
PRINTER = """\
FROM mist-test/busybox:1
RUN echo nonce-{nonce}; i=1; while [ $i -le {lines} ]; do echo "fanout-line-$i {padding}"; \
[ $((i % 100)) -eq 0 ] && sleep 0.1; i=$((i+1)); done
CMD ["sleep", "3600"]
"""
CHATTY = """\
FROM mist-test/busybox:1
CMD ["sh", "-c", "i=0; while true; do i=$((i+1)); echo chatty-$i; sleep 0.02; done"]
"""
CHATTY_LINE = re.compile(r"chatty-(\d+)")


def probe(url: str, cookies: dict[str, str], app_id: int, stop, out) -> None:  # noqa: ANN001 - a multiprocessing Event, Connection
    """In its own process, so the watchers' work in this one does not slow the timing down."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, cookies=cookies, timeout=120) as http:
        while not stop.is_set():
            for call in (lambda: http.get("/api/auth/me"),
                         lambda: http.post("/api/deployment/getByAppId", json={"appId": app_id})):
                began = time.perf_counter()
                response = call()
                latencies.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise SystemExit(f"API answered {response.status_code}: {response.text}")
            time.sleep(0.01)
    out.send(latencies)


def timed(url: str, cookies: dict[str, str], app_id: int, around) -> tuple[list[float], object]:  # noqa: ANN001
    """API latencies measured in a separate process while `around()` runs; and its result."""
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    receive, send = ctx.Pipe(duplex=False)
    prober = ctx.Process(target=probe, args=(url, cookies, app_id, stop, send))
    prober.start()
    try:
        result = around()
    finally:
        stop.set()
    latencies = receive.recv()
    prober.join()
    return latencies, result


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def dockerd_pid() -> int | None:
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "dockerd":
                return int(comm.parent.name)
        except OSError:
            continue
    return None


async def watch_deployment(ws_url: str, headers: dict[str, str], deployment_id: int) -> list[str]:
    async with connect(f"{ws_url}/ws/deployment/logs?deploymentId={deployment_id}",
                       additional_headers=headers, open_timeout=120, max_queue=None) as ws:
        return [m["data"]["line"] for m in map(json.loads, [raw async for raw in ws]) if m["type"] == "log"]


async def watch_container(ws_url: str, headers: dict[str, str], app_id: int, until: asyncio.Event,
                          opened: list[int]) -> list[int]:
    numbers: list[int] = []
    async with connect(f"{ws_url}/ws/container/logs?appId={app_id}&tail=0",
                       additional_headers=headers, open_timeout=120, max_queue=None) as ws:
        opened.append(1)
        while not until.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            message = json.loads(raw)
            if message["type"] == "log" and (found := CHATTY_LINE.fullmatch(message["data"]["line"])):
                numbers.append(int(found.group(1)))
    return numbers


async def fan_out(  # noqa: ANN001 - bench is a harness.Bench
    bench, watchers: int, chatty_id: int, printer_id: int,
) -> tuple[list[list[str]], list[list[int]], dict]:
    client, server = bench.client, bench.server
    # The 200 watchers stand for browsers on other machines: on these 2 shared cores their own
    # reading must not take the CPU from the server and the API prober it is measured with.
    os.nice(10)
    headers = {"Cookie": f"mist_session={client.http.cookies['mist_session']}"}
    done, opened = asyncio.Event(), []
    followers = [asyncio.create_task(watch_container(server.ws_url, headers, chatty_id, done, opened))
                 for _ in range(watchers)]
    while len(opened) < watchers:
        await asyncio.sleep(0.1)
    deployment = await asyncio.to_thread(client.deploy, printer_id)
    readers = [asyncio.create_task(watch_deployment(server.ws_url, headers, deployment["id"]))
               for _ in range(watchers)]
    deployment_lines = await asyncio.gather(*readers)
    await asyncio.sleep(2)  # the container watchers keep following a little longer
    done.set()
    return deployment_lines, await asyncio.gather(*followers), deployment


def check(deployment_lines: list[list[str]], container_numbers: list[list[int]], stored: list[str]) -> None:
    expected = [f"fanout-line-{n} {PADDING}" for n in range(1, LINES + 1)]
    if [line for line in stored if line.startswith("fanout-line-")] != expected:
        raise SystemExit("the stored log does not hold the 3000 lines whole and in order")
    for n, lines in enumerate(deployment_lines):
        if lines != stored:
            raise SystemExit(f"deployment watcher {n} did not get every stored line once, in order")
    for n, numbers in enumerate(container_numbers):
        if not numbers or numbers != list(range(numbers[0], numbers[0] + len(numbers))):
            gaps = [(a, b) for a, b in zip(numbers, numbers[1:], strict=False) if b != a + 1][:5]
            bad = sum(1 for ns in container_numbers if not ns or ns != list(range(ns[0], ns[0] + len(ns))))
            raise SystemExit(f"container watcher {n} missed or reordered lines of the chatty app: after/before "
                             f"{gaps}; {bad} of {len(container_numbers)} watchers did")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--watchers", type=int, default=100, help="of each kind")
    parser.add_argument("--idle-seconds", type=float, default=10)
    args = parser.parse_args()

    with mist_bench() as bench:
        ensure_busybox_image(bench.engine)
        client, git, server = bench.client, bench.git, bench.server
        cookies = dict(client.http.cookies)
        project = client.project("bench")
        git.create_repo("chatty", {"Dockerfile": CHATTY})
        git.create_repo("printer", {"Dockerfile": PRINTER.format(nonce=uuid.uuid4().hex, lines=LINES, padding=PADDING)})
        chatty = client.app(project["id"], "chatty", git.url_for("chatty"), appType="service")
        printer = client.app(project["id"], "printer", git.url_for("printer"), appType="service")
        first = client.deploy(chatty["id"])
        if client.wait_final(chatty["id"], first["id"], timeout=600)["status"] != "success":
            raise SystemExit(client.logs(first["id"]))

        memory = Memory(server.proc.pid)
        idle_rss = memory.read("VmRSS")
        idle, _ = timed(server.url, cookies, printer["id"], lambda: time.sleep(args.idle_seconds))
        engine_pid = dockerd_pid()
        cpu_before = cpu_seconds(server.proc.pid), cpu_seconds(engine_pid) if engine_pid else 0.0
        began = time.perf_counter()
        with memory:
            loaded, (deployment_lines, container_numbers, deployment) = timed(
                server.url, cookies, printer["id"],
                lambda: asyncio.run(fan_out(bench, args.watchers, chatty["id"], printer["id"])),
            )
        elapsed = time.perf_counter() - began
        server_cpu = cpu_seconds(server.proc.pid) - cpu_before[0]
        engine_cpu = (cpu_seconds(engine_pid) if engine_pid else 0.0) - cpu_before[1]
        final = client.deployment(printer["id"], deployment["id"])
        if final["status"] != "success":
            raise SystemExit(client.logs(deployment["id"]))
        check(deployment_lines, container_numbers, client.logs(deployment["id"]).splitlines())
        hwm = memory.read("VmHWM")

    mib = 1024 * 1024
    received = sum(len(n) for n in container_numbers)
    print(f"watchers: {args.watchers} on the deployment ({LINES} build lines each, all whole and in order), "
          f"{args.watchers} on the chatty container ({received} lines in all, none missed)")
    print(f"API p99 idle {p99(idle) * 1000:.1f} ms ({len(idle)} requests), under load {p99(loaded) * 1000:.1f} ms "
          f"({len(loaded)} requests); median {statistics.median(idle) * 1000:.1f} / "
          f"{statistics.median(loaded) * 1000:.1f} ms")
    print(f"API p99 ratio (load / idle): {p99(loaded) / p99(idle):.2f}  (target <= 3)")
    print(f"load phase {elapsed:.1f} s: CPU used by Mist {server_cpu:.1f} s, by dockerd {engine_cpu:.1f} s")
    print(f"server RSS: idle {idle_rss / mib:.0f} MiB, peak under load {memory.peak / mib:.0f} MiB, "
          f"VmHWM {hwm / mib:.0f} MiB  (target <= 250 MiB)")


if __name__ == "__main__":
    main()
