"""Mist's deploy time over the plain sequence's, with the same cache state, alternately in one run.

Each deploy, Mist's and the baseline's, is of a fresh commit of the same Python app: the base image
layers are cached and the layers from `COPY . .` on are rebuilt, as on a real redeploy. Mist's time
runs from POST /api/deployment/add until the WebSocket reports `success`; the baseline's is
`git clone`, `docker build`, `docker rm -f`, `docker run` through the same engine API.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

import docker
from harness import SERVER_PY, MistClient, MistServer, mist_bench, until_final

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
RUN python3 -m compileall -q .
CMD ["python3", "server.py"]
"""


def mist_deploy(server: MistServer, client: MistClient, app_id: int) -> float:
    return until_final(server, client, lambda: client.deploy(app_id))[0]


BASELINE_NETWORK = "bench-baseline-net"


def baseline_deploy(engine: docker.DockerClient, url: str, workdir: Path, n: int) -> float:
    checkout = workdir / f"baseline-{n}"
    start = time.perf_counter()
    subprocess.run(["git", "clone", "--quiet", url, str(checkout)], check=True)
    for chunk in engine.api.build(path=str(checkout), tag=f"bench-baseline:{n}", rm=True, forcerm=True, decode=True):
        if "error" in chunk:
            raise SystemExit(f"baseline build failed: {chunk['error']}")
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
    args = parser.parse_args()

    with mist_bench() as bench:
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
                    print(f"round {n}: mist {mist_times[-1]:.2f} s  baseline {base_times[-1]:.2f} s")
        finally:
            try:
                engine.containers.get("bench-baseline").remove(force=True)
            except docker.errors.NotFound:
                pass
            network.remove()
    mist_median, base_median = statistics.median(mist_times), statistics.median(base_times)
    print(f"median: mist {mist_median:.2f} s  baseline {base_median:.2f} s")
    print(f"deploy_overhead ratio (mist / baseline, warm cache): {mist_median / base_median:.3f}  (target <= 1.10)")


if __name__ == "__main__":
    main()
