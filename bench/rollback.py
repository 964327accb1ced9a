"""A rollback's time over a full deploy's, for the same app, alternately in one run.

The app is the test suite's small Python web app with one real build step: byte-compiling the
standard library at three optimisation levels, four times over (about 10 s here; once took 10 s on
the machines of 2026-11-29, 2.6 s on those of 2026-11-30) — the fast end of real builds,
where installing dependencies or compiling assets takes tens of seconds to minutes. A full deploy
clones a fresh commit, builds, starts the new container beside the old one, waits for it to be
healthy, switches traffic, drains and stops the old one. A rollback does the same from "starts"
on, with the image and configuration of an earlier deployment: no clone, no build. Both run with
the zero-downtime strategy and are timed from the API call until the deployment reports success.
"""

from __future__ import annotations

import argparse
import statistics
import time

from harness import SERVER_PY, mist_bench, until_final

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
RUN for round in 1 2 3 4; do \
      python3 -m compileall -q -f -o 0 -o 1 -o 2 /usr/lib/python3.11 > /dev/null 2>&1 || true; done
CMD ["python3", "server.py"]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    deploys, rollbacks = [], []
    with mist_bench() as bench:
        client, git, server = bench.client, bench.git, bench.server
        git.create_repo("app", {"server.py": SERVER_PY, "Dockerfile": DOCKERFILE, "version.txt": "v0"})
        app = client.app(client.project("bench")["id"], "app", git.url_for("app"), port=8000)
        previous = client.deploy(app["id"])
        client.wait_final(app["id"], previous["id"], timeout=600)
        for n in range(1, args.rounds + 1):
            # Each commit changes the copied sources, so every full deploy rebuilds from COPY on.
            git.commit("app", {"version.txt": f"v{n}-{time.time_ns()}"}, message=f"v{n}")
            elapsed, current = until_final(server, client, lambda: client.deploy(app["id"]))
            deploys.append(elapsed)
            target = previous["id"]
            rollbacks.append(until_final(server, client, lambda: client.post(
                "/api/deployment/rollback", {"deploymentId": target})["data"])[0])  # noqa: B023 - called at once
            print(f"round {n}: full deploy {deploys[-1]:.2f} s  rollback {rollbacks[-1]:.2f} s")
            previous = current
    deploy_median, rollback_median = statistics.median(deploys), statistics.median(rollbacks)
    print(f"median: full deploy {deploy_median:.2f} s  rollback {rollback_median:.2f} s")
    print(f"rollback ratio (rollback / full deploy): {rollback_median / deploy_median:.3f}  (target <= 0.2)")


if __name__ == "__main__":
    main()
