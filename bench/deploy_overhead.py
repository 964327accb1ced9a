"""Mist's deploy time over the plain sequence's, with the same cache state, alternately in one run.

Each deploy, Mist's and the baseline's, is of a fresh commit of the same Python app: the base image
layers are cached and the layers from `COPY . .` on are rebuilt, as on a real redeploy. Mist's time
runs from POST /api/deployment/add until the WebSocket reports `success`; the baseline's is
`git clone`, `docker build`, `docker rm -f`, `docker run` through the same engine API.

`--database postgresql` runs Mist on a real PostgreSQL server (SQLite by default); `--images N`
puts N untagged images on the engine first (removed at the end), as a busy engine has: unrelated
ones, or with `--image-kind siblings` ones built on the app's own base layers.

`--runtime swarm` runs Mist with MIST_RUNTIME=swarm on the engine made a single-node swarm (left
again if the run made it), with a registry on loopback, the app one replica of a Swarm service
updated start-first and health-gated. The baseline is then `git clone`, `docker build`, `docker
push` and a `docker service update` of a service of its own to the pushed digest, with the same
endpoint mode, health check and update settings as Mist's service (copied from it), done when Swarm
reports the update completed, as Mist's deployment is.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import docker
from harness import (
    SERVER_PY,
    MistClient,
    MistServer,
    database_settings,
    mist_bench,
    until_final,
)
from swarmbench import Registry, remove_network, remove_service, swarm_bench

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
RUN python3 -m compileall -q .
CMD ["python3", "server.py"]
"""


FILLER_LABEL = "mist.bench.filler"
FILLER_KINDS = ("unrelated", "siblings")


@contextmanager
def filler_images(engine: docker.DockerClient, count: int, kind: str) -> Iterator[None]:
    """`count` untagged images, each with a label of its own, so the end of the run (or the next
    run, after a crash) finds and removes them. "unrelated": imports of one tiny file (one shared
    layer, no parent). "siblings": children of the app's `WORKDIR /app` layer, as the test suite's
    leftover builds of its sample apps are, which the builder reads while it looks for a cached
    `COPY . .` step."""
    remove_fillers(engine)
    if not count:
        yield
        return
    make: Callable[[int], object] = _import_filler(engine) if kind == "unrelated" else _build_filler(engine)
    began = time.perf_counter()
    make(0)  # alone: the parallel ones then find its parent layers cached instead of racing to make them
    with ThreadPoolExecutor(8 if kind == "unrelated" else 3) as pool:
        list(pool.map(make, range(1, count)))
    made = len(engine.api.images(quiet=True, filters={"label": FILLER_LABEL}))
    print(f"made {made} {kind} filler images in {time.perf_counter() - began:.1f} s "
          f"({len(engine.api.images(all=True, quiet=True))} images on the engine)", flush=True)
    try:
        yield
    finally:
        remove_fillers(engine)


def _import_filler(engine: docker.DockerClient) -> Callable[[int], object]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("filler.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"filler"))
    data = buffer.getvalue()
    return lambda n: engine.api.import_image_from_data(data, changes=[f"LABEL {FILLER_LABEL}={n}"])


def _build_filler(engine: docker.DockerClient) -> Callable[[int], None]:
    base = DOCKERFILE.split("COPY", 1)[0]  # FROM and WORKDIR, cached

    def build(n: int) -> None:
        dockerfile = io.BytesIO(f"{base}LABEL {FILLER_LABEL}={n}\n".encode())
        for chunk in engine.api.build(fileobj=dockerfile, rm=True, forcerm=True, decode=True):
            if "error" in chunk:
                raise SystemExit(f"filler build failed: {chunk['error']}")
    return build


def remove_fillers(engine: docker.DockerClient) -> None:
    ids = engine.api.images(quiet=True, filters={"label": FILLER_LABEL})
    with ThreadPoolExecutor(8) as pool:
        # noprune: a sibling's parent layers are the app's and other builds' too; they stay.
        list(pool.map(lambda image: engine.api.remove_image(image, force=True, noprune=True), ids))


def mist_deploy(server: MistServer, client: MistClient, app_id: int) -> float:
    return until_final(server, client, lambda: client.deploy(app_id))[0]


BASELINE_NETWORK = "bench-baseline-net"


def baseline_deploy(engine: docker.DockerClient, url: str, workdir: Path, n: int) -> float:
    start = time.perf_counter()
    build_baseline(engine, url, workdir, n)
    try:
        engine.containers.get("bench-baseline").remove(force=True)
    except docker.errors.NotFound:
        pass
    # On a network of its own, reachable by name: what Mist gives every app of a project.
    engine.containers.run(f"bench-baseline:{n}", name="bench-baseline", detach=True,
                          restart_policy={"Name": "unless-stopped"}, network=BASELINE_NETWORK,
                          networking_config={BASELINE_NETWORK: engine.api.create_endpoint_config(aliases=["bench"])})
    return time.perf_counter() - start


def build_baseline(engine: docker.DockerClient, url: str, workdir: Path, n: int) -> None:
    """`git clone` and `docker build` of the branch head as `bench-baseline:{n}`."""
    checkout = workdir / f"baseline-{n}"
    subprocess.run(["git", "clone", "--quiet", url, str(checkout)], check=True)
    for attempt in (1, 2):
        errors = [chunk["error"] for chunk in engine.api.build(
            path=str(checkout), tag=f"bench-baseline:{n}", rm=True, forcerm=True, decode=True) if "error" in chunk]
        # Mist prunes its old images right after a deployment; the engine's cache lookup can meet one
        # being removed. Mist builds once more then, and so does the baseline.
        if not errors or attempt == 2 or "unable to find image" not in errors[0]:
            break
    if errors:
        raise SystemExit(f"baseline build failed: {errors[0]}")


# --------------------------------------------------------------------------- --runtime swarm

BASELINE_SERVICE = "bench-baseline"
POLL = 0.1  # the baseline's look at its update; Mist's own follows the update every 0.5 s


class SwarmBaseline:
    """The plain sequence on a swarm: clone, build, push to the registry, and the service made or
    updated to the pushed digest, until Swarm reports the update completed (or, on creation, the new
    task runs: healthy, as it has a health check). Its service is a copy of Mist's app service's
    settings (endpoint mode, health check, update and rollback config, restart policy, init, stop
    grace period) on an attachable overlay of its own with an alias, as Mist's is on its project's."""

    def __init__(self, engine: docker.DockerClient, registry: Registry, workdir: Path, mist_service: str) -> None:
        self.engine = engine
        self.registry = registry
        self.workdir = workdir
        self.mist_service = mist_service
        self.parts: list[tuple[float, float, float]] = []  # (clone + build, push, service) per deploy

    def deploy(self, url: str, n: int) -> float:
        start = time.perf_counter()
        build_baseline(self.engine, url, self.workdir, n)
        built = time.perf_counter()
        reference = self.registry.push(self.engine, f"bench-baseline:{n}", "bench/baseline")
        pushed = time.perf_counter()
        try:
            service = self.engine.api.inspect_service(BASELINE_SERVICE)
        except docker.errors.NotFound:
            self._create(reference)
        else:
            self._update(service, reference)
        end = time.perf_counter()
        self.parts.append((built - start, pushed - built, end - pushed))
        return end - start

    def _create(self, reference: str) -> None:
        spec = self.engine.api.inspect_service(self.mist_service)["Spec"]
        template = spec["TaskTemplate"]
        mist = template["ContainerSpec"]
        container = {key: mist[key] for key in ("Healthcheck", "Init", "StopGracePeriod") if key in mist}
        self.engine.api.create_service(
            {"ContainerSpec": {"Image": reference, **container},
             "RestartPolicy": template.get("RestartPolicy"),
             "Networks": [{"Target": BASELINE_NETWORK, "Aliases": ["bench"]}]},
            name=BASELINE_SERVICE, mode={"Replicated": {"Replicas": 1}},
            update_config=spec["UpdateConfig"], rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec["EndpointSpec"])
        deadline = time.monotonic() + 120
        while not any(t["Status"]["State"] == "running" for t in self.engine.api.tasks(
                filters={"service": BASELINE_SERVICE, "desired-state": "running"})):
            if time.monotonic() > deadline:
                tasks = self.engine.api.tasks(filters={"service": BASELINE_SERVICE})
                raise SystemExit(f"the baseline service never ran: {[t['Status'] for t in tasks]}")
            time.sleep(POLL)

    def _update(self, service: dict, reference: str) -> None:
        template = service["Spec"]["TaskTemplate"]
        template["ContainerSpec"]["Image"] = reference
        before = (service.get("UpdateStatus") or {}).get("StartedAt")
        self.engine.api.update_service(service["ID"], service["Version"]["Index"], task_template=template,
                                       fetch_current_spec=True)
        deadline = time.monotonic() + 300
        while True:
            status = self.engine.api.inspect_service(service["ID"]).get("UpdateStatus") or {}
            if status.get("StartedAt") != before:
                if status.get("State") == "completed":
                    return
                if status.get("State") in ("paused", "rollback_started", "rollback_paused", "rollback_completed"):
                    raise SystemExit(f"the baseline's update ended {status['State']}: {status.get('Message')}")
            if time.monotonic() > deadline:
                raise SystemExit(f"the baseline's update did not complete in 300 s: {status}")
            time.sleep(POLL)

    def remove(self) -> None:
        remove_service(self.engine, BASELINE_SERVICE)
        for image in self.engine.images.list(name="bench-baseline"):
            for tag in image.tags:
                try:
                    self.engine.images.remove(tag)
                except docker.errors.APIError:
                    pass  # an image the service's last task still used; the tag alone is gone then


def mist_parts(lines: list[tuple[float, str]], total: float) -> tuple[float, float, float]:
    """(until the push starts, the push, the rest) of a swarm-mode deployment, from when its log lines
    "Pushing ..." and "Pushed as ..." arrived."""
    pushing = next(t for t, line in lines if line.startswith("Pushing "))
    pushed = next(t for t, line in lines if line.startswith("Pushed as "))
    return pushing, pushed - pushing, total - pushed


PARTS = ("build", "push", "service")


def split(parts: tuple[float, float, float]) -> str:
    return " + ".join(f"{name} {seconds:.2f}" for name, seconds in zip(PARTS, parts, strict=True))


def swarm_main(args: argparse.Namespace, fillers: str) -> None:
    print(f"deploy_overhead: runtime swarm (single-node swarm, registry on loopback, 1 replica, start-first, "
          f"health-gated), {args.rounds} rounds, database {args.database}, {fillers}", flush=True)
    mist_times: list[float] = []
    mist_split: list[tuple[float, float, float]] = []
    with database_settings(args.database) as settings, swarm_bench(**settings) as (bench, registry), \
            filler_images(bench.engine, args.images, args.image_kind):
        engine, git, server, client = bench.engine, bench.git, bench.server, bench.client
        git.create_repo("bench", {"server.py": SERVER_PY, "Dockerfile": DOCKERFILE, "version.txt": "0"})
        url = git.url_for("bench")
        # Start-first and health-gated, Swarm mode's way for an app without volumes; a health check
        # every second, as a deploy waits for the first one.
        app = client.app(client.project("bench")["id"], "bench", url, port=8000, replicas=1,
                         updateStrategy="rolling", healthcheckInterval=1)
        baseline = SwarmBaseline(engine, registry, bench.workdir, f"mist-app-{app['id']}")
        engine.networks.create(BASELINE_NETWORK, driver="overlay", attachable=True)
        try:
            for n in range(args.rounds + 1):  # round 0 warms both up (Mist's first, which the baseline copies)
                order = ("mist", "base") if n % 2 == 0 else ("base", "mist")
                for who in order:
                    git.commit("bench", {"version.txt": f"{who}-{n}-{time.time_ns()}"}, message=f"{who} {n}")
                    if who == "mist":
                        lines: list[tuple[float, str]] = []
                        t = until_final(server, client, lambda: client.deploy(app["id"]), lines)[0]
                        if n:
                            mist_times.append(t)
                            mist_split.append(mist_parts(lines, t))
                    else:
                        baseline.deploy(url, n)
                if n:
                    print(f"round {n}: mist {mist_times[-1]:.2f} s ({split(mist_split[-1])})  "
                          f"baseline {sum(baseline.parts[-1]):.2f} s ({split(baseline.parts[-1])})", flush=True)
        finally:
            baseline.remove()
            remove_network(engine, BASELINE_NETWORK)
    base_times = [sum(p) for p in baseline.parts[1:]]
    mist_median, base_median = statistics.median(mist_times), statistics.median(base_times)

    def medians(parts: list[tuple[float, float, float]]) -> tuple[float, float, float]:
        build, push, service = (statistics.median(p[i] for p in parts) for i in range(3))
        return build, push, service

    print(f"median: mist {mist_median:.2f} s ({split(medians(mist_split))})  "
          f"baseline {base_median:.2f} s ({split(medians(baseline.parts[1:]))})")
    print("  mist: build = deployment/add until the push starts (fetch, clone, build); service = the push's end until "
          "success (service update, Swarm's monitor period, route, outcome)")
    print("  baseline: build = git clone + docker build; service = docker service update until Swarm reports completed")
    print(f"  mist - baseline: {mist_median - base_median:+.2f} s (both wait out Swarm's monitor period)")
    print(f"deploy_overhead ratio (mist / baseline, warm cache; swarm, {args.database}, {fillers}): "
          f"{mist_median / base_median:.3f}  (target <= 1.15)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--images", type=int, default=0, metavar="N",
                        help="untagged images to put on the engine before measuring (removed at the end)")
    parser.add_argument("--image-kind", choices=FILLER_KINDS, default="unrelated",
                        help="what those images are (see filler_images)")
    parser.add_argument("--runtime", choices=("docker", "swarm"), default="docker",
                        help="swarm: Mist with MIST_RUNTIME=swarm against clone + build + push + service update")
    args = parser.parse_args()
    fillers = f"{args.images} {args.image_kind} filler images" if args.images else "no filler images"
    if args.runtime == "swarm":
        swarm_main(args, fillers)
        return
    print(f"deploy_overhead: {args.rounds} rounds, database {args.database}, {fillers}", flush=True)

    with database_settings(args.database) as settings, mist_bench(**settings) as bench, \
            filler_images(bench.engine, args.images, args.image_kind):
        engine, git, server, client = bench.engine, bench.git, bench.server, bench.client
        git.create_repo("bench", {"server.py": SERVER_PY, "Dockerfile": DOCKERFILE, "version.txt": "0"})
        url = git.url_for("bench")
        # The baseline stops, then starts: compare Mist doing the same (its zero-downtime strategy
        # adds a health check and a drain on purpose; bench/zero_downtime measures that one).
        app = client.app(client.project("bench")["id"], "bench", url, port=8000, updateStrategy="recreate")
        mist_times, base_times = [], []
        network = engine.networks.create(BASELINE_NETWORK, driver="bridge")
        try:
            for n in range(args.rounds + 1):  # round 0 warms both up and is not counted
                order = ("mist", "base") if n % 2 == 0 else ("base", "mist")
                for who in order:
                    git.commit("bench", {"version.txt": f"{who}-{n}-{time.time_ns()}"}, message=f"{who} {n}")
                    if who == "mist":
                        t = mist_deploy(server, client, app["id"])
                        (mist_times if n else []).append(t)
                    else:
                        t = baseline_deploy(engine, url, bench.workdir, n)
                        (base_times if n else []).append(t)
                if n:
                    print(f"round {n}: mist {mist_times[-1]:.2f} s  baseline {base_times[-1]:.2f} s", flush=True)
        finally:
            try:
                engine.containers.get("bench-baseline").remove(force=True)
            except docker.errors.NotFound:
                pass
            network.remove()
    mist_median, base_median = statistics.median(mist_times), statistics.median(base_times)
    print(f"median: mist {mist_median:.2f} s  baseline {base_median:.2f} s")
    print(f"deploy_overhead ratio (mist / baseline, warm cache; {args.database}, {fillers}): "
          f"{mist_median / base_median:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
