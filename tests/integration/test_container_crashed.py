"""`container.crashed` on the real engine: stopping and restarting an app through the API tells
nobody; its process exiting on its own reaches a webhook, signed, once however often the restart
policy brings it back to die again."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

import docker
import httpx
from conftest import container_of
from support.client import MistClient
from support.gitserver import GitServer
from support.receivers import WebhookReceiver

# Runs until /tmp/crash exists, then exits with 3; the file stays, so each restart dies again at once.
CRASHY = ('FROM mist-test/busybox:1\nRUN echo {nonce}\n'
          'CMD ["sh", "-c", "while [ ! -f /tmp/crash ]; do sleep 0.2; done; exit 3"]\n')


def _crashed(receiver: WebhookReceiver) -> list[dict]:
    return [json.loads(r.body) for r in receiver.received if r.headers.get("X-Mist-Event") == "container.crashed"]


def test_a_crash_reaches_the_webhook_once_and_api_stops_tell_nobody(
    server_factory, git_server: GitServer, engine: docker.DockerClient, receiver: WebhookReceiver
) -> None:
    server = server_factory(workers=1)
    repo = f"crashy-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(repo, {"Dockerfile": CRASHY.format(nonce=uuid.uuid4().hex)})
    with httpx.Client(base_url=server.url, timeout=60) as http:
        owner = MistClient(http)
        owner.signup()
        hook = owner.post("/api/notifications/create", {
            "name": "ops", "kind": "webhook", "target": receiver.url, "events": ["container.crashed"]})["data"]
        app = owner.app(owner.project()["id"], "crashy", git_server.url_for(repo), appType="service")
        deployment = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], deployment["id"])["status"] == "success"

        owner.post(f"/api/apps/container/restart?appId={app['id']}", None)
        owner.post(f"/api/apps/container/stop?appId={app['id']}", None)
        owner.post(f"/api/apps/container/start?appId={app['id']}", None)
        container = container_of(engine, app["id"])
        assert container.status == "running"

        container.exec_run(["touch", "/tmp/crash"])
        deadline = time.monotonic() + 60
        while not _crashed(receiver) and time.monotonic() < deadline:
            time.sleep(0.2)
        # The restart policy brings it back to die again: a loop, told of once.
        deadline = time.monotonic() + 30
        while container_of(engine, app["id"]).attrs["RestartCount"] < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert container_of(engine, app["id"]).attrs["RestartCount"] >= 3
        owner.post(f"/api/apps/container/stop?appId={app['id']}", None)
        time.sleep(2)  # long enough for the stop's events to be read, were they to write anything

    told = [r for r in receiver.received if r.headers.get("X-Mist-Event") == "container.crashed"]
    assert len(told) == 1, [r.body for r in receiver.received]
    assert len(receiver.received) == 1  # the API's restart, stop and start told nobody
    expected = "sha256=" + hmac.new(hook["secret"].encode(), told[0].body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(told[0].headers["X-Mist-Signature-256"], expected)
    payload = json.loads(told[0].body)
    assert payload["event"] == "container.crashed"
    assert payload["app"] == {"id": app["id"], "name": "crashy"}
    assert payload["deployment"]["id"] == deployment["id"]
    assert payload["container"]["id"] == container.id and payload["container"]["exitCode"] == 3
