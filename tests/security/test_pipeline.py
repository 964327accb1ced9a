"""Attacks on the deployment pipeline through the real server and engine: stops that hang or leak,
and repositories that make Mist read what is not theirs or eat its memory and disk."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable

import docker
import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.server import MistServer

pytestmark = pytest.mark.docker

FINAL = ("success", "failed", "stopped", "rolled_back")

# A build step that takes a moment and a health check that waits a moment, so random offsets land
# in every stage: pending, being claimed, cloning, building, starting, health-checking.
SMALL_WEB = """\
FROM mist-test/busybox:1
RUN echo {nonce} && sleep 1
CMD ["httpd", "-f", "-p", "8000"]
"""


def _leftovers(engine: docker.DockerClient, app_id: int, deployment_id: int) -> list[str]:
    containers = engine.containers.list(all=True, filters={"label": f"mist.deployment={deployment_id}"})
    images = engine.images.list(name=f"mist-app-{app_id}")
    tag = f"mist-app-{app_id}:{deployment_id}"
    return [c.name for c in containers] + [t for i in images for t in i.tags if t == tag]


def test_stop_at_any_moment_ends_the_deployment_promptly_and_leaves_nothing(
    engine_server_factory: Callable[..., MistServer], images: dict[str, str], git_server: GitServer,
    engine: docker.DockerClient,
) -> None:
    server = engine_server_factory(workers=2)
    repo = f"stoppable-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": SMALL_WEB.format(nonce=uuid.uuid4().hex)})
    rng = random.Random(9)  # seeded: a failing offset reproduces
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "stoppable", git_server.url_for(repo), port=8000,
                        healthcheckStartPeriod=1)
        # One version serves first, so that later ones start beside it as in real life.
        serving = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], serving["id"])["status"] == "success", owner.logs(serving["id"])
        for attempt in range(15):
            offset = rng.uniform(0, 3)
            # A new commit each time, so the build really runs (no cache hit on the slow step).
            git_server.commit(repo, {"Dockerfile": SMALL_WEB.format(nonce=uuid.uuid4().hex)}, f"try {attempt}")
            deployment = owner.deploy(app["id"])
            time.sleep(offset)
            before = owner.deployment(app["id"], deployment["id"])
            started = time.monotonic()
            answer = http.post("/api/deployment/stop", json={"deploymentId": deployment["id"]})
            elapsed = time.monotonic() - started
            ended = owner.wait_final(app["id"], deployment["id"], timeout=30)
            where = (attempt, round(offset, 2), before["status"], before["stage"], answer.status_code,
                     answer.text[:300], ended["status"], ended["stage"])
            assert elapsed < 5, where  # the stated bound on a stop, not a benchmark
            if answer.status_code == 200:
                assert answer.json()["data"]["status"] == "stopped", where
                assert ended["status"] == "stopped", where
                assert not _leftovers(engine, app["id"], deployment["id"]), where
            else:
                # Too late: it had already finished, or was already switching traffic.
                assert answer.status_code == 409, where
                assert ended["status"] in FINAL, where


QUIET = 'FROM mist-test/busybox:1\nCMD ["sleep", "3600"]\n'


def _peak_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _repo_with_symlink(git_server: GitServer, files: dict[str, str | bytes], link: str, target: str) -> str:
    """A repository whose head commit holds `link` as a symlink to `target` (committed as such)."""
    repo = f"hostile-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, files)
    (git_server.work_path(repo) / link).symlink_to(target)
    git_server.commit(repo, {}, f"{link} -> {target}")
    return repo


def test_a_repository_cannot_make_mist_read_outside_it_or_pack_an_unbounded_context(
    engine_server_factory: Callable[..., MistServer], images: dict[str, str], git_server: GitServer,
) -> None:
    server = engine_server_factory(workers=1, build_context_max_mb="1")
    repos = {
        # Read whole by the SDK before the fix: the server's memory filled up.
        "zero": (_repo_with_symlink(git_server, {"Dockerfile": QUIET}, ".dockerignore", "/dev/zero"),
                 "'.dockerignore' in the repository is a symlink pointing outside it"),
        "passwd": (_repo_with_symlink(git_server, {"README": "x"}, "Dockerfile", "/etc/passwd"),
                   "'Dockerfile' in the repository is a symlink pointing outside it"),
        # No Dockerfile: detection reads the manifests, and must not follow one out of the checkout.
        "manifest": (_repo_with_symlink(git_server, {"app.py": "x"}, "requirements.txt", "/etc/passwd"),
                     "'requirements.txt' in the repository is a symlink pointing outside it"),
        "big": (None, "the build context is larger than the limit of 1 MiB"),
    }
    big = f"big-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(big, {"Dockerfile": QUIET, "blob.bin": random.Random(2).randbytes(2 * 2**20)})
    repos["big"] = (big, repos["big"][1])
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        project = owner.project()
        for name, (repo, reason) in repos.items():
            app = owner.app(project["id"], name, git_server.url_for(repo), appType="service")
            deployment = owner.deploy(app["id"])
            ended = owner.wait_final(app["id"], deployment["id"], timeout=120)
            assert ended["status"] == "failed", (name, ended)
            assert reason in ended["error_message"], (name, ended["error_message"])
            assert reason in owner.logs(deployment["id"]), name
            assert "root:x:0:0" not in owner.logs(deployment["id"]), name  # nothing of the file was read out
            if name == "big":
                assert "MIST_BUILD_CONTEXT_MAX_MB" in ended["error_message"]
        assert server.proc is not None and server.proc.poll() is None, server.output()
        assert owner.get("/api/auth/me")["data"]["username"] == "owner"
        # Bounded: a read of /dev/zero or a context packed whole in memory would be far above this.
        assert _peak_rss_mib(server.proc.pid) < 400
