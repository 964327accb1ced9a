"""The running container on the real engine: runtime logs over REST and a live WebSocket, stop, start
and restart, limits and restart policy applied and visible in `docker inspect`."""

from __future__ import annotations

import json
import time
import uuid

import docker
from conftest import container_of, http_get
from support.client import MistClient
from support.gitserver import GitServer
from support.server import MistServer
from websockets.sync.client import connect

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
CMD ["python3", "-u", "server.py"]
"""

# Prints one line per request (with its secret, which Mist must redact) and answers with its path.
SERVER_PY = """\
import http.server, os
print("booted", flush=True)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(f"served {self.path} token={os.environ['API_TOKEN']}", flush=True)
        body = self.path.encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""


def next_message(ws, kind: str, timeout: float = 20) -> dict:  # noqa: ANN001 - a websockets connection
    deadline = time.monotonic() + timeout
    while True:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == kind:
            return message


def test_logs_stop_start_restart_and_limits(
    owner: MistClient, server: MistServer, git_server: GitServer, engine: docker.DockerClient
) -> None:
    repo = f"control-{uuid.uuid4().hex[:8]}"
    token = f"tok-{uuid.uuid4().hex}"
    git_server.create_repo(repo, {"server.py": SERVER_PY, "Dockerfile": DOCKERFILE})
    project = owner.project()
    app = owner.app(project["id"], "web", git_server.url_for(repo), port=8000, cpuLimit=0.5, memoryLimit=128,
                    envVars=[{"key": "API_TOKEN", "value": token, "secret": True}])
    deployment = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], deployment["id"])["status"] == "success", owner.logs(deployment["id"])

    host = container_of(engine, app["id"]).attrs["HostConfig"]
    assert (host["Memory"], host["CpuQuota"], host["CpuPeriod"]) == (128 * 2**20, 50_000, 100_000)
    assert host["RestartPolicy"]["Name"] == "unless-stopped"

    assert http_get(engine, app["id"], 8000, path="/first") == "/first"
    logs = owner.get("/api/apps/container/logs", appId=app["id"], tail=50)["data"]["logs"]
    assert "booted" in logs and "served /first token=********" in logs and token not in logs

    status = owner.get("/api/apps/container/status", appId=app["id"])["data"]
    assert status["state"] == "running" and status["health"] == "healthy"
    assert status["deploymentId"] == deployment["id"] and status["image"] == f"mist-app-{app['id']}:{deployment['id']}"
    assert status["uptime"] >= 0 and status["restarts"] == 0
    assert (status["cpuLimit"], status["memoryLimit"]) == (0.5, 128)

    cookie = f"mist_session={owner.http.cookies['mist_session']}"
    url = f"{server.ws_url}/ws/container/logs?appId={app['id']}&tail=5"
    with connect(url, additional_headers={"Cookie": cookie}, open_timeout=10) as ws:
        assert http_get(engine, app["id"], 8000, path="/live") == "/live"
        while "served /live" not in (line := next_message(ws, "log")["data"]["line"]):
            pass
        assert line == "served /live token=********"

        stopped = owner.post(f"/api/apps/container/stop?appId={app['id']}", None)["data"]
        assert stopped["state"] == "exited"
        assert next_message(ws, "status")["data"]["state"] == "exited"
        assert owner.get("/api/apps/container/status", appId=app["id"])["data"]["health"] == "unhealthy"

        started = owner.post(f"/api/apps/container/start?appId={app['id']}", None)["data"]
        assert started["state"] == "running"
        assert http_get(engine, app["id"], 8000, path="/again") == "/again"
        # The stream carries on with the same container, without repeating what it sent.
        seen = [next_message(ws, "log")["data"]["line"] for _ in range(2)]
        assert seen == ["booted", "served /again token=********"]

    # Tighter limits and another restart policy take effect with a restart, as the update says.
    change = owner.put("/api/apps/update", {"appId": app["id"], "memoryLimit": 256, "cpuLimit": 1.5,
                                            "restartPolicy": "on-failure"})["data"]
    assert change["actionRequired"] == "restart"
    before = container_of(engine, app["id"])
    restarted = owner.post(f"/api/apps/container/restart?appId={app['id']}", None)["data"]
    assert restarted["state"] == "running" and restarted["containerId"] == before.id
    after = container_of(engine, app["id"])
    assert after.attrs["State"]["StartedAt"] != before.attrs["State"]["StartedAt"]
    host = after.attrs["HostConfig"]
    assert (host["Memory"], host["CpuQuota"], host["RestartPolicy"]["Name"]) == (256 * 2**20, 150_000, "on-failure")
    assert http_get(engine, app["id"], 8000, path="/restarted") == "/restarted"

    # A redeploy starts the new container with the same settings.
    again = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], again["id"])["status"] == "success", owner.logs(again["id"])
    host = container_of(engine, app["id"]).attrs["HostConfig"]
    assert (host["Memory"], host["CpuQuota"], host["RestartPolicy"]["Name"]) == (256 * 2**20, 150_000, "on-failure")
