"""Attacks on push-to-deploy through the real server: a captured, correctly signed push replayed
under a fresh delivery id (which nothing signs) must not deploy again."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Callable

import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer, git
from support.server import MistServer

pytestmark = pytest.mark.docker

QUIET = 'FROM mist-test/busybox:1\nRUN echo {nonce}\nCMD ["sleep", "3600"]\n'


def push_body(sha: str, message: str) -> bytes:
    return json.dumps({"ref": "refs/heads/main", "after": sha, "head_commit": {"id": sha, "message": message},
                       "commits": [{"id": sha, "message": message}]}).encode()


def github_headers(secret: str, body: bytes) -> dict[str, str]:
    """A correctly signed GitHub push, under a delivery id of the sender's choosing."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": "push", "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_a_replayed_push_of_a_deployed_or_older_commit_does_not_deploy(
    engine_server_factory: Callable[..., MistServer], images: dict[str, str], git_server: GitServer,
) -> None:
    server = engine_server_factory(workers=1)
    repo = f"hooked-{uuid.uuid4().hex[:8]}"
    first = git_server.create_repo(repo, {"Dockerfile": QUIET.format(nonce=uuid.uuid4().hex)}, message="first")
    with httpx.Client(base_url=server.url, timeout=60) as http, \
            httpx.Client(base_url=server.url, timeout=60) as hook:  # the git host: no session
        owner = MistClient(http)
        owner.signup()
        app = owner.app(owner.project()["id"], "hooked", git_server.url_for(repo), appType="service")
        secret = owner.post("/api/apps/webhook", {"appId": app["id"]})["data"]["secret"]

        def deliver(sha: str, message: str) -> dict:
            body = push_body(sha, message)
            response = hook.post(f"/api/webhooks/{app['id']}", content=body, headers=github_headers(secret, body))
            assert response.status_code == 200, response.text
            return response.json()

        deployed = deliver(first, "first")["data"]
        assert owner.wait_final(app["id"], deployed["id"])["status"] == "success", owner.logs(deployed["id"])

        # The attack: the same signed body again, under a fresh delivery id.
        replay = deliver(first, "first")
        assert replay["data"] is None, replay
        assert f"commit {first[:7]} is already deployed" in replay["message"]
        assert len(owner.deployments(app["id"])) == 1

        # Two new commits, the newest pushed: that deploys as always.
        middle = git_server.commit(repo, {"Dockerfile": QUIET.format(nonce=uuid.uuid4().hex)}, "middle")
        newest = git_server.commit(repo, {"Dockerfile": QUIET.format(nonce=uuid.uuid4().hex)}, "newest")
        current = deliver(newest, "newest")["data"]
        assert current["commit_hash"] == newest
        assert owner.wait_final(app["id"], current["id"])["status"] == "success", owner.logs(current["id"])

        # A replay of an older push (of a commit never deployed on its own) does not go back in time.
        older = deliver(middle, "middle")
        assert older["data"] is None, older
        assert f"commit {middle[:7]} is older than the active deployment's commit {newest[:7]}" in older["message"]
        assert len(owner.deployments(app["id"])) == 2

        # A force-push to another history is not a replay: it deploys.
        work = git_server.work_path(repo)
        git("checkout", "--quiet", "--orphan", "rewritten", cwd=work)
        git("commit", "--quiet", "-m", "rewritten history", cwd=work)
        rewritten = git("rev-parse", "HEAD", cwd=work)
        git("push", "--quiet", "--force", "origin", "HEAD:refs/heads/main", cwd=work)
        forced = deliver(rewritten, "rewritten history")["data"]
        assert forced is not None and forced["commit_hash"] == rewritten
        owner.wait_final(app["id"], forced["id"])

        ignored = [e for e in owner.get("/api/audit-logs", limit=100)["data"]["logs"]
                   if e["action"] == "webhook.replay_ignored"]
        assert [e["details"]["outcome"] for e in ignored] == [older["message"], replay["message"]]
        assert all(e["target"] == f"app:{app['id']}" and e["details"]["provider"] == "github" for e in ignored)
