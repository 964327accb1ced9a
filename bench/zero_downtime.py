"""Requests lost while an app is redeployed under load, zero-downtime ("rolling") against "recreate".

One Mist server with its own Caddy serves two copies of a small Python web app, one per update
strategy, each under its own domain. For each strategy in turn (rolling first, then recreate), N
threads send steady keep-alive GETs through the proxy (Host header set, 10 ms apart) while the app is
redeployed --deploys times, each a fresh commit v2, v3, ...; the load stops 1 s after the last deploy.

A request FAILS when it gets a 5xx, a wrong body (anything but "vN <strategy> 8000" for a version of
that app), a timeout (5 s), or no response even after one retry. The retry is what every HTTP client
does for an idempotent request whose idle keep-alive connection the server closed: Caddy 2.6 closes
idle client connections on every config load, which Mist makes at each traffic switch. So a
transport error other than a timeout is retried once on a fresh connection and counted as a retry,
not a failure, if the retry gets an answer (which is then classified like any other). Latency is
per request as the client sees it, retry included. Target: 0 failed requests with "rolling";
"recreate" stops the old container before starting the new one, so it is expected to fail some.

`--runtime swarm` then measures the same on Swarm mode in the same run, after the docker runtime's
phases (unchanged): a fresh Mist with MIST_RUNTIME=swarm on the engine made a single-node swarm (left
again if the run made it), a registry on loopback and Caddy in its container, serving a third copy of
the app with 2 replicas (a Swarm service updated start-first, health-gated, one replica at a time).
Its failures and latency are printed beside the docker runtime's rolling ones. Target: 0 failed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import threading
import time
from dataclasses import dataclass, field

import httpx
from harness import SERVER_PY, GitServer, MistClient, MistServer, mist_bench
from swarmbench import swarm_bench
from websockets.sync.client import connect

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
CMD ["python3", "server.py"]
"""
STRATEGIES = ("rolling", "recreate")
SWARM = "swarm"  # the row, app, domain and greeting of the Swarm mode phase
SWARM_REPLICAS = 2
REQUEST_TIMEOUT = 5.0
PAUSE = 0.01               # between two requests of one thread
MAX_REQUESTS = 200_000     # hard cap over the whole run
MAX_SECONDS = 600          # hard cap on the whole run's wall time
KINDS = ("5xx", "wrong body", "timeout", "no response")


@dataclass
class Load:
    """Results of one load phase; every thread appends to its own lists, merged after join."""

    latencies: list[float] = field(default_factory=list)  # ms, every request
    failures: list[tuple[float, str, str, float]] = field(default_factory=list)  # (t, kind, detail, ms)
    retries: list[tuple[float, str]] = field(default_factory=list)  # (t, error that was retried)
    capped: bool = False


def files(n: int) -> dict[str, str]:
    return {"server.py": SERVER_PY, "Dockerfile": DOCKERFILE, "version.txt": f"v{n}"}


def classify(response: httpx.Response, valid: set[str]) -> tuple[str, str] | None:
    if response.status_code >= 500:
        return "5xx", f"HTTP {response.status_code} {response.text[:80]!r}"
    if response.status_code != 200 or response.text not in valid:
        return "wrong body", f"HTTP {response.status_code} {response.text[:80]!r}"
    return None


def load_thread(url: str, domain: str, valid: set[str], stop: threading.Event, deadline: float,
                counter: itertools.count, t0: float, out: Load) -> None:
    with httpx.Client(headers={"Host": domain}, timeout=REQUEST_TIMEOUT) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            if next(counter) >= MAX_REQUESTS:
                out.capped = True
                return
            start = time.perf_counter()
            failure: tuple[str, str] | None
            try:
                failure = classify(client.get(url), valid)
            except httpx.TimeoutException as exc:
                failure = "timeout", type(exc).__name__  # slow, not a closed connection: no retry
            except httpx.TransportError as exc:
                # Most likely an idle keep-alive connection Caddy closed at a config load.
                out.retries.append((start - t0, f"{type(exc).__name__}: {exc}"))
                try:
                    failure = classify(httpx.get(url, headers={"Host": domain}, timeout=REQUEST_TIMEOUT), valid)
                except httpx.TimeoutException as exc2:
                    failure = "timeout", f"on retry: {type(exc2).__name__}"
                except httpx.TransportError as exc2:
                    failure = "no response", f"{type(exc).__name__}, then {type(exc2).__name__}: {exc2}"
            ms = (time.perf_counter() - start) * 1000
            out.latencies.append(ms)
            if failure:
                out.failures.append((start - t0, *failure, ms))
            time.sleep(PAUSE)


def deploy(server: MistServer, client: MistClient, app_id: int, deadline: float) -> tuple[float, float, float]:
    """Deploys the app's branch head, waits on the WebSocket for the final status; (start, end, seconds)."""
    cookie = f"mist_session={client.http.cookies['mist_session']}"
    start = time.perf_counter()
    deployment = client.deploy(app_id)
    final = None
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}",
                 additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
        while final is None:
            if time.monotonic() > deadline:
                raise SystemExit(f"deployment {deployment['id']} still running at the {MAX_SECONDS} s cap")
            message = json.loads(ws.recv(timeout=max(1.0, deadline - time.monotonic())))
            if message.get("type") == "status" and message["data"]["status"] in ("success", "failed", "stopped"):
                final = message["data"]
    end = time.perf_counter()
    if final["status"] != "success":
        raise SystemExit(f"deployment {deployment['id']} ended {final['status']}:\n{client.logs(deployment['id'])}")
    return start, end, end - start


def wait_for_body(server: MistServer, domain: str, want: str, deadline: float) -> float:
    """Seconds from now until a fresh request through the proxy answers `want` (0 if at once)."""
    start = time.monotonic()
    while True:
        try:
            if httpx.get(server.proxy_url, headers={"Host": domain}, timeout=REQUEST_TIMEOUT).text == want:
                return time.monotonic() - start
        except httpx.HTTPError:
            pass
        if time.monotonic() > min(deadline, start + 20):
            raise SystemExit(f"{domain} never answered {want!r} through the proxy")
        time.sleep(0.05)


def phase(server: MistServer, client: MistClient, git: GitServer, app: dict, strategy: str,
          deploys: int, threads: int, counter: itertools.count, deadline: float) -> tuple[Load, list[float]]:
    domain = f"{strategy}.bench"
    valid = {f"v{n} {strategy} 8000" for n in range(1, deploys + 2)}
    stop = threading.Event()
    t0 = time.perf_counter()
    outs = [Load() for _ in range(threads)]
    workers = [threading.Thread(target=load_thread, args=(server.proxy_url, domain, valid, stop, deadline,
                                                          counter, t0, out)) for out in outs]
    for w in workers:
        w.start()
    times = []
    try:
        time.sleep(1)  # some steady-state requests before the first deploy
        for n in range(2, deploys + 2):
            git.commit(strategy, files(n), message=f"v{n}")
            start, end, seconds = deploy(server, client, app["id"], deadline)
            lag = wait_for_body(server, domain, f"v{n} {strategy} 8000", deadline)
            times.append(seconds)
            print(f"{strategy}: v{n} deployed in {seconds:.2f} s (+{start - t0:.2f}..+{end - t0:.2f} s)"
                  + (f", new body seen {lag:.2f} s after success" if lag > 0.2 else ""), flush=True)
        time.sleep(1)  # requests after the last switch too
    finally:
        stop.set()
        for w in workers:
            w.join()
    merged = Load(capped=any(o.capped for o in outs))
    for o in outs:
        merged.latencies += o.latencies
        merged.failures += o.failures
        merged.retries += o.retries
    merged.failures.sort()
    merged.retries.sort()
    return merged, times


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def bursts(times: list[float], gap: float = 0.5) -> list[tuple[float, float, int]]:
    """Sorted event times grouped into (first, last, count) runs no more than `gap` s apart."""
    runs: list[list[float]] = []
    for t in times:
        if runs and t - runs[-1][1] <= gap:
            runs[-1][1:] = [t, runs[-1][2] + 1]
        else:
            runs.append([t, t, 1])
    return [(a, b, int(n)) for a, b, n in runs]


def report(results: dict[str, tuple[Load, list[float]]]) -> None:
    header = ("strategy", "requests", "failed", "5xx", "body", "timeout", "no resp", "retries",
              "p50 ms", "p95 ms", "p99 ms", "max ms", "deploy s")
    print()
    print(("{:<9}" + "{:>9}" * (len(header) - 1)).format(*header))
    for strategy, (load, times) in results.items():
        lat = sorted(load.latencies)
        kinds = [sum(1 for f in load.failures if f[1] == k) for k in KINDS]
        row = [strategy, len(lat), len(load.failures), *kinds, len(load.retries),
               *(f"{percentile(lat, p):.1f}" for p in (50, 95, 99)), f"{lat[-1]:.1f}",
               f"{sum(times) / len(times):.2f}"]
        print(("{:<9}" + "{:>9}" * (len(row) - 1)).format(*row))
    for strategy, (load, _) in results.items():
        if load.capped:
            print(f"{strategy}: stopped at the {MAX_REQUESTS} request cap")
        # When they happened (seconds into the phase, to line up with the deploy times above) and
        # the slowest failure of each kind, each kind of error retried.
        for what, events in (("failures", load.failures), ("retries", load.retries)):
            if events:
                print(f"{strategy} {what}: " + ", ".join(
                    f"+{a:.2f}..{b:.2f} s x{n}" for a, b, n in bursts([e[0] for e in events])))
        for kind in KINDS:
            if examples := [f for f in load.failures if f[1] == kind]:
                slowest = max(examples, key=lambda f: f[3])
                print(f"{strategy} slowest {kind}: {slowest[2]} after {slowest[3]:.0f} ms")
        for error in sorted({r[1] for r in load.retries}):
            print(f"{strategy} e.g. retried: {error}")
    rolling, recreate = (len(results[s][0].failures) for s in STRATEGIES)
    print(f"zero_downtime: rolling failed={rolling} (target 0); recreate failed={recreate}")
    if SWARM in results:
        swarm, docker = sorted(results[SWARM][0].latencies), sorted(results["rolling"][0].latencies)
        print(f"zero_downtime --runtime swarm: {SWARM_REPLICAS} replicas failed={len(results[SWARM][0].failures)} "
              f"(target 0); p50 {percentile(swarm, 50):.1f} ms, p99 {percentile(swarm, 99):.1f} ms against the "
              f"docker runtime's rolling p50 {percentile(docker, 50):.1f} ms, p99 {percentile(docker, 99):.1f} ms "
              f"(p99 ratio {percentile(swarm, 99) / percentile(docker, 99):.2f})")


def swarm_phase(deploys: int, threads: int) -> tuple[Load, list[float]]:
    """The same load and redeploys on Mist in Swarm mode: an app with SWARM_REPLICAS replicas behind
    Caddy's container. Its own time cap, as it starts after the docker runtime's phases."""
    deadline = time.monotonic() + MAX_SECONDS
    with swarm_bench() as (bench, _):
        server, client, git = bench.server, bench.client, bench.git
        git.create_repo(SWARM, files(1), message="v1")
        # A health check every second (the default is 2 s): each replica's update waits for its first one.
        app = client.app(client.project("bench")["id"], SWARM, git.url_for(SWARM), port=8000,
                         envVars={"GREETING": SWARM}, replicas=SWARM_REPLICAS, healthcheckInterval=1)
        client.post("/api/apps/domains/create", {"appId": app["id"], "domain": f"{SWARM}.bench"})
        first = client.deploy(app["id"])
        done = client.wait_final(app["id"], first["id"], timeout=300)
        if done["status"] != "success":
            raise SystemExit(f"{SWARM} v1 failed:\n{client.logs(done['id'])}")
        wait_for_body(server, f"{SWARM}.bench", f"v1 {SWARM} 8000", deadline)
        tasks = bench.engine.services.get(f"mist-app-{app['id']}").tasks(filters={"desired-state": "running"})
        print(f"{SWARM}: v1 runs on {sum(t['Status']['State'] == 'running' for t in tasks)} replicas", flush=True)
        return phase(server, client, git, app, SWARM, deploys, threads, itertools.count(), deadline)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deploys", type=int, default=5, help="redeploys per strategy (default 5)")
    parser.add_argument("--threads", type=int, default=4, help="load threads (default 4)")
    parser.add_argument("--runtime", choices=("docker", SWARM), default="docker",
                        help="swarm: measure Swarm mode too, after the docker runtime, in the same run")
    args = parser.parse_args()
    deadline = time.monotonic() + MAX_SECONDS

    with mist_bench() as bench:
        server, client, git = bench.server, bench.client, bench.git
        project = client.project("bench")["id"]
        apps, first = {}, {}
        for strategy in STRATEGIES:
            git.create_repo(strategy, files(1), message="v1")
            apps[strategy] = client.app(project, strategy, git.url_for(strategy), port=8000,
                                        envVars={"GREETING": strategy}, updateStrategy=strategy)
            client.post("/api/apps/domains/create",
                        {"appId": apps[strategy]["id"], "domain": f"{strategy}.bench"})
            first[strategy] = client.deploy(apps[strategy]["id"])  # both v1 builds run in parallel
        for strategy in STRATEGIES:
            done = client.wait_final(apps[strategy]["id"], first[strategy]["id"], timeout=300)
            if done["status"] != "success":
                raise SystemExit(f"{strategy} v1 failed:\n{client.logs(done['id'])}")
            wait_for_body(server, f"{strategy}.bench", f"v1 {strategy} 8000", deadline)
        counter = itertools.count()
        results = {s: phase(server, client, git, apps[s], s, args.deploys, args.threads, counter, deadline)
                   for s in STRATEGIES}
    if args.runtime == SWARM:
        try:
            results[SWARM] = swarm_phase(args.deploys, args.threads)
        except BaseException:
            report(results)  # the docker runtime's figures, measured already, before the error
            raise
    report(results)


if __name__ == "__main__":
    main()
