"""Deployment outcomes reach real receivers: a webhook (an http.server here, the signature checked
with the secret answered once) and an SMTP server (aiosmtpd). A dead receiver is retried on the
backoff schedule, each attempt listed, and the deployment's outcome is untouched.

In-process Mist on each database, without a Docker engine: a repository with nothing to build fails
at building_image, and a service app deployed on the FakeEngine succeeds. The dispatcher's clock is
the test's, so retries are driven by moving it, never by waiting."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from support.client import MistClient
from support.fake_engine import FakeEngine
from support.gitserver import GitServer
from support.receivers import SmtpReceiver, WebhookReceiver, wait_for

from mist.config import Settings
from mist.db.models import utcnow
from mist.notifications.outbox import BACKOFF
from mist.server import create_app
from mist.services import Services, build_services

PUBLIC_URL = "https://mist.example.com"
ALL_EVENTS = ["deployment.succeeded", "deployment.failed", "deployment.stopped"]


class Clock:
    """The dispatcher's time, frozen an hour ahead: what the outcomes enqueue (at the real time) is
    due at once, and a retry only once the test moves the clock to it."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(hours=1)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def svc(settings: Settings, smtp: SmtpReceiver, clock: Clock) -> Services:
    settings.smtp_url = smtp.url
    settings.public_url = PUBLIC_URL
    services = build_services(settings)
    fake = FakeEngine()
    services.engine = services.workers.engine = services.deployments.engine = fake
    services.router.engine = services.crashes.engine = fake
    services.dispatcher.clock = clock
    services.dispatcher.poll_seconds = 0.05
    return services


@pytest.fixture
def mist(settings: Settings, svc: Services) -> Iterator[MistClient]:
    with TestClient(create_app(settings, svc)) as client:
        client_ = MistClient(client)
        client_.signup()
        yield client_


def _apps(mist: MistClient, git_server: GitServer) -> tuple[dict, dict]:
    """A service app that deploys (a Dockerfile, on the FakeEngine) and one with nothing to build."""
    tag = uuid.uuid4().hex[:8]
    git_server.create_repo(f"good-{tag}", {"Dockerfile": "FROM scratch\n"}, message="Ship the good build")
    git_server.create_repo(f"bad-{tag}", {"README": "nothing to build"}, message="Break the build")
    project = mist.project("shop")
    good = mist.app(project["id"], "api", git_server.url_for(f"good-{tag}"), appType="service")
    bad = mist.app(project["id"], "web", git_server.url_for(f"bad-{tag}"), port=8000)
    return good, bad


def _deliveries(mist: MistClient, **query: object) -> list[dict]:
    return mist.get("/api/notifications/deliveries", **query)["data"]


def test_a_failed_and_a_successful_deployment_reach_a_webhook_and_an_smtp_server(
    mist: MistClient, git_server: GitServer, receiver: WebhookReceiver, smtp: SmtpReceiver
) -> None:
    hook = mist.post("/api/notifications/create", {
        "name": "ops hook", "kind": "webhook", "target": receiver.url, "events": ALL_EVENTS})["data"]
    secret = hook["secret"]
    assert len(bytes.fromhex(secret)) >= 32
    mist.post("/api/notifications/create", {
        "name": "ops mail", "kind": "email", "target": "ops@example.com, lead@example.com",
        "events": ["deployment.failed", "deployment.succeeded"]})
    good, bad = _apps(mist, git_server)

    succeeded = mist.deploy(good["id"])
    assert mist.wait_final(good["id"], succeeded["id"], timeout=60)["status"] == "success"
    failed = mist.deploy(bad["id"])
    assert mist.wait_final(bad["id"], failed["id"], timeout=60)["status"] == "failed"

    wait_for(lambda: len(receiver.received) >= 2 and len(smtp.messages) >= 2)
    by_event = {}
    for request in receiver.received:
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["X-Mist-Signature-256"], expected)
        payload = json.loads(request.body)
        assert request.headers["X-Mist-Event"] == payload["event"]
        by_event[payload["event"]] = payload
    ok, ko = by_event["deployment.succeeded"], by_event["deployment.failed"]
    assert ok["project"]["name"] == "shop" and ok["app"] == {"id": good["id"], "name": "api"}
    assert ok["deployment"]["id"] == succeeded["id"] and ok["deployment"]["status"] == "success"
    assert ok["deployment"]["commitMessage"] == "Ship the good build" and len(ok["deployment"]["commitHash"]) == 40
    assert ok["url"] == f"{PUBLIC_URL}/#/apps/{good['id']}/deployments/{succeeded['id']}"
    assert ko["app"]["name"] == "web" and ko["deployment"]["status"] == "failed"
    assert "nothing it knows how to build" in ko["deployment"]["error"]

    subjects = sorted(m["Subject"] for m in smtp.messages)
    assert subjects == ["Mist: shop/api deployment #1 succeeded", "Mist: shop/web deployment #1 failed"]
    for message in smtp.messages:
        assert message["From"] == "mist@example.com"
        assert message["X-Envelope-To"] == "ops@example.com, lead@example.com"
    mail_of_failure = next(m for m in smtp.messages if "failed" in m["Subject"])
    text = mail_of_failure.get_payload(decode=True).decode()
    assert "App: web" in text and "Error: " in text and f"{PUBLIC_URL}/#/apps/{bad['id']}" in text

    listed = wait_for(lambda: [d for d in _deliveries(mist) if d["status"] == "delivered"][3:] and _deliveries(mist))
    assert {d["status"] for d in listed} == {"delivered"} and len(listed) == 4
    assert all(len(d["attempts"]) == 1 and d["attempts"][0]["ok"] for d in listed)
    webhook_ones = _deliveries(mist, notificationId=hook["id"])
    assert {d["event"] for d in webhook_ones} == {"deployment.succeeded", "deployment.failed"}
    assert webhook_ones[0]["attempts"][0]["statusCode"] == 200
    shown = {n["name"]: n for n in mist.get("/api/notifications/getAll")["data"]}
    assert shown["ops hook"]["lastDelivery"]["status"] == "delivered"
    assert "secret" not in shown["ops hook"]


def test_a_dead_receiver_is_retried_on_the_backoff_schedule_and_the_deployment_keeps_its_outcome(
    mist: MistClient, git_server: GitServer, receiver: WebhookReceiver, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    receiver.status = 500
    broken = mist.post("/api/notifications/create", {
        "name": "broken", "kind": "webhook", "target": receiver.url, "events": ALL_EVENTS})["data"]
    # A port nobody listens on: the connection is refused.
    closed = mist.post("/api/notifications/create", {
        "name": "closed", "kind": "webhook", "target": "http://127.0.0.1:9/hook?token=hunter2hunter2",
        "events": ["deployment.succeeded"]})["data"]
    good, _ = _apps(mist, git_server)
    deployment = mist.deploy(good["id"])
    assert mist.wait_final(good["id"], deployment["id"], timeout=60)["status"] == "success"

    # Both receivers fail every attempt; the shared clock moves to each retry in turn.
    expected_codes = {broken["id"]: 500, closed["id"]: None}
    for attempt, wait in enumerate((*BACKOFF, None), start=1):
        def attempted(n: int = attempt) -> list[dict] | None:
            found = _deliveries(mist)
            return found if len(found) == 2 and all(len(d["attempts"]) >= n for d in found) else None

        dues = []
        for delivery in wait_for(attempted):
            assert len(delivery["attempts"]) == attempt  # the clock has not moved: no early retry
            last = delivery["attempts"][-1]
            assert last["ok"] is False and last["statusCode"] == expected_codes[delivery["notificationId"]]
            if wait is None:
                assert delivery["status"] == "failed" and delivery["nextAttemptAt"] is None
                continue
            assert delivery["status"] == "pending"
            due = datetime.fromisoformat(delivery["nextAttemptAt"].rstrip("Z"))
            assert due - datetime.fromisoformat(last["at"].rstrip("Z")) == wait
            dues.append(due)
        if dues:
            clock.now = max(dues) + timedelta(seconds=1)  # the API shows whole seconds

    answers = [a["answer"] for d in _deliveries(mist) for a in d["attempts"]]
    assert any("receiver broke" in a for a in answers)
    assert any("ConnectError" in a for a in answers)
    assert len(receiver.received) == len(BACKOFF) + 1
    assert mist.deployment(good["id"], deployment["id"])["status"] == "success"
    assert mist.deployment(good["id"], deployment["id"])["error_message"] == ""
    failures = [r.getMessage() for r in caplog.records if "attempt" in r.getMessage() and "failed" in r.getMessage()]
    assert len(failures) == 2 * (len(BACKOFF) + 1)
    assert "giving up" in failures[-1]
    assert "hunter2hunter2" not in caplog.text


def test_the_test_route_answers_after_the_first_attempt(mist: MistClient, receiver: WebhookReceiver) -> None:
    hook = mist.post("/api/notifications/create", {
        "name": "hook", "kind": "webhook", "target": receiver.url, "events": ["deployment.failed"]})["data"]
    result = mist.post("/api/notifications/test", {"id": hook["id"]})["data"]
    assert result["delivered"] is True and result["statusCode"] == 200
    assert json.loads(receiver.received[0].body)["event"] == "notification.test"
    receiver.status = 500
    result = mist.post("/api/notifications/test", {"id": hook["id"]})["data"]
    assert (result["delivered"], result["statusCode"], result["error"]) == (False, 500, "receiver broke")
    newest = _deliveries(mist, limit=1)
    assert len(newest) == 1 and newest[0]["status"] == "pending" and newest[0]["event"] == "notification.test"
    rotated = mist.put("/api/notifications/update", {"id": hook["id"], "rotateSecret": True})["data"]
    assert rotated["secret"] != hook["secret"]
    receiver.status = 200
    mist.post("/api/notifications/test", {"id": hook["id"]})
    signed = receiver.received[-1]
    assert signed.headers["X-Mist-Signature-256"] == "sha256=" + hmac.new(
        rotated["secret"].encode(), signed.body, hashlib.sha256).hexdigest()


def test_deployment_stopped_while_waiting_is_told(mist: MistClient, git_server: GitServer,
                                                  receiver: WebhookReceiver, svc: Services) -> None:
    mist.post("/api/notifications/create", {
        "name": "hook", "kind": "webhook", "target": receiver.url, "events": ["deployment.stopped"]})
    good, _ = _apps(mist, git_server)
    gate = svc.workers.engine.hold("build")
    first = mist.deploy(good["id"])
    wait_for(lambda: gate.reached.is_set())
    waiting = mist.deploy(good["id"])  # queued behind the running one
    mist.post("/api/deployment/stop", {"deploymentId": waiting["id"]})
    gate.release.set()
    mist.wait_final(good["id"], first["id"], timeout=60)
    wait_for(lambda: receiver.received)
    payload = json.loads(receiver.received[0].body)
    assert payload["event"] == "deployment.stopped" and payload["deployment"]["id"] == waiting["id"]


