"""Schemathesis over the OpenAPI schema, with the owner's session, against a real server: no route answers
a 5xx, whatever the body, query or path. `PUT /api/apps/update` answered 500 on a null field.

Generated ids are drawn mostly from ids that exist (apps, a project, env vars, a domain, a volume, a
deployment), so that requests get past the 404 of an unknown id into the routes' logic.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from support.client import MistClient
from support.gitserver import GitServer
from support.server import MistServer

pytestmark = pytest.mark.fuzz

# The same cases every run, so that a failure is reproducible; MIST_FUZZ_SEED and MIST_FUZZ_EXAMPLES
# explore further. 25 examples per operation and phase keep the test within a minute or two on 2 cores.
SEED = int(os.environ.get("MIST_FUZZ_SEED", "20261130"))
MAX_EXAMPLES = int(os.environ.get("MIST_FUZZ_EXAMPLES", "25"))
RUN_TIMEOUT = 600  # a hang is a failure too, but the run normally takes well under a minute

# Not fuzzed: a deployment and the generated Dockerfile resolve their commit on the remote, and a backup
# destination is tried on its endpoint (the fuzzer would point them anywhere on the network), the webhook
# route is signed by the git host, and sign-out takes no input but would end the session the fuzzer works with.
NOT_FUZZED = ["--exclude-path", "/api/deployment/add", "--exclude-path", "/api/apps/dockerfile",
              "--exclude-path", "/api/backups/destinations/create",
              "--exclude-path-regex", r"^/api/webhooks/",
              "--exclude-path", "/api/auth/logout"]
# This server has no Docker engine on purpose (the fuzzer must not stop or remove other tests'
# containers): the routes that need it answer 503 "cannot reach the Docker engine", by design.
NEEDS_THE_ENGINE = r"^/api/apps/container/|^/api/apps/volumes/delete$|^/api/nodes"
# Fuzzed last: they can end the owner's own session or delete what the other routes work on.
DESTRUCTIVE = ["/api/users/update", "/api/users/delete", "/api/users/revokeSessions", "/api/apps/delete",
               "/api/projects/delete"]


def _config(path: Path, ids: dict[str, list[int]]) -> Path:
    """A schemathesis.toml: id fields are drawn from existing ids 80 % of the time."""
    lines = []
    for name, values in ids.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines += ["[[operations]]", f"include-path-regex = {json.dumps(NEEDS_THE_ENGINE)}",
              'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]', ""]
    lines.append("[parameters]")
    for key, dictionary in (
        ("body.appId", "apps"), ("query.appId", "apps"), ("body.projectId", "projects"),
        ("query.id", "projects"), ("body.id", "rows"), ("body.deploymentId", "deployments"),
        ("path.deployment_id", "deployments"), ("body.userIds[*]", "users"),
    ):
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = 0.8 }}')
    path.write_text("\n".join(lines) + "\n")
    return path


def _schemathesis(server: MistServer, cookie: str, config: Path, cwd: Path, *filters: str) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "--config-file", str(config),
        "run", f"{server.url}/openapi.json", "--checks", "not_a_server_error",
        "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
        "--warnings", "off", "--header", f"Cookie: mist_session={cookie}", *NOT_FUZZED, *filters,
    ]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=RUN_TIMEOUT,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-4000:]


def test_the_owner_cannot_make_any_route_fail_with_a_server_error(
    server_factory: Callable[..., MistServer], git_server: GitServer, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # An engine address nothing listens on: the server must not touch the machine's real containers.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'no-engine.sock'}")
    server = server_factory()
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        member = owner.create_user("member")
        project = owner.project("shop")
        owner.put("/api/projects/updateMembers", {"userIds": [member["id"]]}, id=project["id"])
        git_server.create_repo("fuzz-web", {"Dockerfile": "FROM scratch\n"})
        web = owner.app(project["id"], "web", repo=git_server.url_for("fuzz-web"), appType="web", port=8000,
                        envVars=[{"key": "GREETING", "value": "hello"},
                                 {"key": "API_KEY", "value": "s3cr3t", "secret": True}])
        db = owner.app(project["id"], "db", appType="database", templateName="postgres")
        owner.post("/api/apps/domains/create", {"appId": web["id"], "domain": "shop.example.test"})
        owner.post("/api/apps/volumes/create", {"appId": web["id"], "name": "data", "containerPath": "/data"})
        owner.post("/api/tokens/create", {"name": "ci", "scope": "deploy"})
        deployment = owner.deploy(web["id"])  # it fails at the build, for want of an engine
        cookie = http.cookies["mist_session"]

    config = _config(tmp_path / "schemathesis.toml", {
        "apps": [web["id"], db["id"]], "projects": [project["id"]], "deployments": [deployment["id"]],
        "users": [member["id"]], "rows": [1, 2, 3],
    })
    excluded = [arg for path in DESTRUCTIVE for arg in ("--exclude-path", path)]
    _schemathesis(server, cookie, config, tmp_path, *excluded)
    included = [arg for path in DESTRUCTIVE for arg in ("--include-path", path)]
    _schemathesis(server, cookie, config, tmp_path, *included)
