"""Mist's deploy time over the plain sequence's, with the same cache state, alternately in one run.

Each deploy, Mist's and the baseline's, is of a fresh commit of the same Python app: the base image
layers are cached and the layers from `COPY . .` on are rebuilt, as on a real redeploy. Mist's time
runs from POST /api/deployment/add until the WebSocket reports `success`; the baseline's is
`git clone`, `docker build`, `docker rm -f`, `docker run` through the same engine API.

`--database postgresql` runs Mist on a real PostgreSQL server (SQLite by default); `--images N`
puts N untagged images on the engine first (removed at the end), as a busy engine has: unrelated
ones, or with `--image-kind siblings` ones built on the app's own base layers.
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
    checkout = workdir / f"baseline-{n}"
    start = time.perf_counter()
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
    try:
        engine.containers.get("bench-baseline").remove(force=True)
    except docker.errors.NotFound:
        pass
    # On a network of its own, reachable by name: what Mist gives every app of a project.
    engine.containers.run(f"bench-baseline:{n}", name="bench-baseline", detach=True,
                          restart_policy={"Name": "unless-stopped"}, network=BASELINE_NETWORK,
                          networking_config={BASELINE_NETWORK: engine.api.create_endpoint_config(aliases=["bench"])})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--images", type=int, default=0, metavar="N",
                        help="untagged images to put on the engine before measuring (removed at the end)")
    parser.add_argument("--image-kind", choices=FILLER_KINDS, default="unrelated",
                        help="what those images are (see filler_images)")
    args = parser.parse_args()
    fillers = f"{args.images} {args.image_kind} filler images" if args.images else "no filler images"
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
