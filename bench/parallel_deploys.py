"""Deployments per minute when 8 apps are deployed at once, for three set-ups of Mist, in one run:

  (a) SQLite, one process with 2 workers (the default);
  (b) PostgreSQL, one process with 2 workers;
  (c) PostgreSQL, two processes with 2 workers each, sharing the database, the secret key file and
      one Caddy, each with its own data directory; the triggers alternate between the processes.

Every round, each set-up starts fresh (new data directories, a new database, 8 new apps) so the
set-ups never share an engine's containers, and runs alone: fresh commits of the 8 apps are
deployed by 8 `POST /api/deployment/add` sent at once, and the time runs from the first of them until
the last deployment's WebSocket reports its final status. The order of the set-ups rotates every
round; round 0 warms everything up and is not counted.

Each app is a small busybox service, all in one project, whose build copies its sources and
runs one step that waits 1 s (a download, say) then hashes 200 MB of zeros (about 0.5 s of CPU):
on 2 cores, builds running side by side compete for the CPU, so a second process adds throughput
only as far as the builds wait rather than compute.

Checks: every deployment succeeds, and no app ever has two deployments running at once — sampled
through the API while waiting, and checked from the rows (start and finish times) afterwards, which
also give the most deployments that ran at once and, for (c), how many each process ran.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import docker
import httpx
import sqlalchemy
from harness import GitServer, MistClient, MistServer
from support.images import ensure_busybox_image
from support.postgres import PostgresServer
from support.server import free_port
from websockets.exceptions import ConnectionClosedOK
from websockets.sync.client import connect

APPS = 8
RUNNING = ("building", "deploying")
TIMEOUT = 600  # seconds a round may take before the bench gives up on it

DOCKERFILE = """\
FROM mist-test/busybox:1
COPY . /app
RUN cat /app/version.txt && sleep 1 && dd if=/dev/zero bs=1M count=200 2>/dev/null | md5sum
CMD ["sleep", "3600"]
"""


@dataclass(frozen=True)
class Setup:
    name: str
    database: str  # "sqlite" or "postgresql"
    processes: int
    workers: int = 2


SETUPS = {
    "a": Setup("sqlite 1x2", "sqlite", 1),
    "b": Setup("postgresql 1x2", "postgresql", 1),
    "c": Setup("postgresql 2x2", "postgresql", 2),
}


@dataclass
class Outcome:
    seconds: float
    peak: int  # the most deployments running at once, from the rows
    per_process: list[int]  # deployments each process ran
    sampled_overlaps: list[str] = field(default_factory=list)

    @property
    def per_minute(self) -> float:
        return APPS / self.seconds * 60


class Sampler(threading.Thread):
    """Polls every app's deployments while a round runs: an app with two running deployments in
    any sample is a broken queue."""

    def __init__(self, clients: list[MistClient], app_ids: list[int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.clients, self.app_ids, self.interval = clients, app_ids, interval
        self.overlaps: list[str] = []
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            n = 0
            while not self.done.wait(self.interval):
                for app_id in self.app_ids:
                    n += 1
                    rows = self.clients[n % len(self.clients)].deployments(app_id)
                    running = [d["id"] for d in rows if d["status"] in RUNNING]
                    if len(running) > 1:
                        self.overlaps.append(f"app {app_id}: deployments {running} running at once")
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            self.error = error


def watch(server: MistServer, cookie: str, app_id: int) -> tuple[float, dict, float]:
    """Triggers one deployment and follows its WebSocket to the end: (trigger time, deployment,
    time the final status arrived)."""
    with httpx.Client(base_url=server.url, timeout=120, cookies={"mist_session": cookie}) as http:
        began = time.perf_counter()
        deployment = MistClient(http).deploy(app_id)
    final: dict | None = None
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}",
                 additional_headers={"Cookie": f"mist_session={cookie}"}, open_timeout=30) as ws:
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                message = json.loads(ws.recv(timeout=max(deadline - time.monotonic(), 0.1)))
                if message["type"] == "status":
                    final = message["data"]
        except ConnectionClosedOK:
            pass
    ended = time.perf_counter()
    if final is None or final["status"] != "success":
        with httpx.Client(base_url=server.url, timeout=120, cookies={"mist_session": cookie}) as http:
            log = MistClient(http).logs(deployment["id"])
        raise RuntimeError(f"deployment {deployment['id']} of app {app_id} ended "
                           f"{final and final['status']}; its log:\n{log}")
    return began, deployment, ended


def trigger_all(servers: list[MistServer], cookie: str, app_ids: list[int]) -> tuple[float, list[int]]:
    """All apps at once, app i through process i mod N; seconds from the first trigger until the last
    final status, and the deployments' ids."""
    barrier = threading.Barrier(len(app_ids))
    results: list[tuple[float, dict, float] | BaseException | None] = [None] * len(app_ids)

    def one(i: int) -> None:
        barrier.wait()
        try:
            results[i] = watch(servers[i % len(servers)], cookie, app_ids[i])
        except BaseException as error:  # noqa: BLE001 - reported below
            results[i] = error

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(app_ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT + 60)
    failures = [r for r in results if not isinstance(r, tuple)]
    if failures:
        raise RuntimeError(f"{len(failures)} of {len(app_ids)} deployments did not succeed; the first: {failures[0]}")
    done = [r for r in results if isinstance(r, tuple)]
    return max(r[2] for r in done) - min(r[0] for r in done), [r[1]["id"] for r in done]


def rows(database_url: str, ids: list[int]) -> list[sqlalchemy.Row]:
    """The deployments' rows, read from the database itself: the API shows times to the second."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(sqlalchemy.text(
                "SELECT id, app_id, status, claimed_by, started_at, finished_at FROM deployments"
                " WHERE id IN :ids").bindparams(sqlalchemy.bindparam("ids", expanding=True)), {"ids": ids}))
    finally:
        engine.dispose()


def peak_and_overlaps(found: list[sqlalchemy.Row]) -> tuple[int, list[str]]:
    """The most deployments running at one moment, and any app whose deployments' runs overlap."""
    events = sorted([(r.started_at, 1) for r in found] + [(r.finished_at, -1) for r in found],
                    key=lambda e: (e[0], e[1]))  # a finish before a start at the same instant
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    overlaps = []
    by_app: dict[int, list[sqlalchemy.Row]] = {}
    for r in found:
        by_app.setdefault(r.app_id, []).append(r)
    for app_id, runs in by_app.items():
        runs.sort(key=lambda r: r.started_at)
        overlaps += [f"app {app_id}: deployments {a.id} and {b.id} overlap"
                     for a, b in pairwise(runs) if b.started_at < a.finished_at]
    return peak, overlaps


class Bench:
    def __init__(self, workdir: Path, engine: docker.DockerClient, git: GitServer,
                 postgres: PostgresServer | None) -> None:
        self.workdir, self.engine, self.git, self.postgres = workdir, engine, git, postgres
        self.runs = 0
        self.networks: set[str] = set()
        # Images tagged mist-app-* before the bench began are someone else's: left alone.
        self.images_before = {image.id for image in engine.images.list()}

    @contextmanager
    def mist(self, setup: Setup) -> Iterator[tuple[list[MistServer], str]]:
        """A fresh Mist of this set-up: its servers and database URL; all of it removed afterwards."""
        self.runs += 1
        run_dir = self.workdir / f"run-{self.runs}"
        database_url = (self.postgres.create_database() if setup.database == "postgresql"
                        else f"sqlite:///{run_dir / 'p0' / 'data' / 'mist.db'}")
        # Warnings and errors only: the sampler's requests would bury them in access lines.
        settings = {"log_level": "warning"}
        if setup.database == "postgresql":
            settings["database_url"] = database_url
        if setup.processes > 1:
            settings["secret_key_file"] = str(run_dir / "secret.key")
        proxy = {"proxy_port": free_port(), "proxy_admin_port": free_port()}
        servers: list[MistServer] = []
        try:
            for n in range(setup.processes):  # one after the other: the first migrates the database
                (run_dir / f"p{n}").mkdir(parents=True)
                servers.append(MistServer(run_dir / f"p{n}" / "data", workers=setup.workers, **proxy,
                                          **settings).start())
            yield servers, database_url
        finally:
            for server in servers:
                server.stop()
            if servers:
                servers[0].stop_proxy()  # the one Caddy they shared
            self.clean_engine()
            if setup.database == "postgresql":
                self.postgres.drop_database(database_url)

    def clean_engine(self) -> None:
        """Every container, network and app image the run made: the next set-up's apps get the
        same ids, hence the same names, and images left behind would slow the engine down."""
        for container in self.engine.containers.list(all=True, filters={"label": "mist.app"}):
            container.remove(force=True)
        for network in self.engine.networks.list(names=sorted(self.networks)):
            if network.name in self.networks:
                network.remove()
        for image in self.engine.images.list():
            if image.id not in self.images_before:
                for tag in image.tags:
                    if tag.startswith("mist-app-"):
                        self.engine.images.remove(tag, force=True)

    def round(self, setup: Setup, n: int) -> Outcome:
        with self.mist(setup) as (servers, database_url), ExitStack() as stack:
            https = [stack.enter_context(httpx.Client(base_url=s.url, timeout=120)) for s in servers]
            clients = [MistClient(http) for http in https]
            clients[0].signup()
            cookie = https[0].cookies["mist_session"]
            for http in https[1:]:
                http.cookies.set("mist_session", cookie)  # sessions live in the shared database
            app_ids = []
            # One project: the first deployments of its apps, run at once, all create its network
            # (as a team's first deploy of a new project would).
            project = clients[0].project("bench")["id"]
            self.networks.add(f"mist-project-{project}")
            for i in range(APPS):
                self.git.commit(f"app-{i}", {"version.txt": f"{setup.name} round {n} {time.time_ns()}"},
                                message=f"round {n}")
                app_ids.append(clients[0].app(project, f"app-{i}", self.git.url_for(f"app-{i}"),
                                              appType="service", updateStrategy="recreate")["id"])
            sampler = Sampler(clients, app_ids)
            sampler.start()
            try:
                seconds, ids = trigger_all(servers, cookie, app_ids)
            except RuntimeError as error:
                outputs = "\n".join(f"--- process {i}'s output:\n{s.output()}" for i, s in enumerate(servers))
                raise SystemExit(f"{setup.name}, round {n}: {error}\n{outputs}") from error
            finally:
                sampler.done.set()
                sampler.join()
            if sampler.error is not None:
                raise SystemExit(f"{setup.name}, round {n}: sampling failed: {sampler.error!r}")
            found = rows(database_url, ids)
            if len(found) != APPS or any(r.status != "success" for r in found):
                raise SystemExit(f"{setup.name}, round {n}: not every deployment succeeded: "
                                 f"{[(r.id, r.status) for r in found]}")
            peak, overlaps = peak_and_overlaps(found)
            if overlaps or sampler.overlaps:
                raise SystemExit(f"{setup.name}, round {n}: an app ran two deployments at once: "
                                 f"{overlaps + sampler.overlaps}")
            pids = Counter(r.claimed_by.split("-", 1)[0] for r in found)
            per_process = [pids.get(str(s.proc.pid), 0) for s in servers]
            return Outcome(seconds, peak, per_process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--setups", default="abc",
                        help="which set-ups to run, e.g. 'ab' (default 'abc': all three)")
    args = parser.parse_args()
    chosen = [SETUPS[key] for key in args.setups]

    engine = docker.from_env()
    ensure_busybox_image(engine)
    # The apps' containers are named mist-app-{appId} and the clean-up between set-ups removes them
    # by label: another Mist on this engine (the tests, another bench) would collide with ours.
    if others := engine.containers.list(all=True, filters={"label": "mist.app"}):
        raise SystemExit(f"containers labelled mist.app exist ({', '.join(c.name for c in others)}): "
                         "another Mist uses this Docker engine; stop it or remove them first")
    results: dict[str, list[Outcome]] = {setup.name: [] for setup in chosen}
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mist-bench-")))
        git = stack.enter_context(GitServer(workdir / "git"))
        postgres = (stack.enter_context(PostgresServer())
                    if any(s.database == "postgresql" for s in chosen) else None)
        for i in range(APPS):
            git.create_repo(f"app-{i}", {"Dockerfile": DOCKERFILE, "version.txt": "0"})
        bench = Bench(workdir, engine, git, postgres)
        stack.callback(bench.clean_engine)
        for n in range(args.rounds + 1):  # round 0 warms up and is not counted
            order = chosen[n % len(chosen):] + chosen[:n % len(chosen)]
            for setup in order:
                outcome = bench.round(setup, n)
                if n:
                    results[setup.name].append(outcome)
                split = "+".join(map(str, outcome.per_process))
                print(f"round {n}{' (warm-up)' if not n else ''}: {setup.name:15} {outcome.seconds:6.2f} s  "
                      f"{outcome.per_minute:5.1f} deploys/min  at most {outcome.peak} at once"
                      f"{f'  per process {split}' if len(outcome.per_process) > 1 else ''}", flush=True)
    medians = {name: statistics.median(o.per_minute for o in outcomes) for name, outcomes in results.items()}
    for name, outcomes in results.items():
        print(f"median: {name:15} {statistics.median(o.seconds for o in outcomes):6.2f} s  "
              f"{medians[name]:5.1f} deploys/min")
    a, b, c = (medians.get(SETUPS[key].name) for key in "abc")
    if a and b:
        print(f"parallel_deploys ratio postgresql 1x2 / sqlite 1x2 (deploys per minute): {b / a:.3f}")
    if b and c:
        print(f"parallel_deploys ratio postgresql 2x2 / postgresql 1x2 (deploys per minute): {c / b:.3f}")
    print("every deployment succeeded; no app ever ran two deployments at once")


if __name__ == "__main__":
    main()
