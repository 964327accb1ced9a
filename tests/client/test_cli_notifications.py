"""`mist notifications list|test|deliveries` against a real `mist serve` (no engine) and a real webhook
receiver (an http.server): the test is signed with the secret answered once, a receiver that breaks
makes `test` exit 1 with its answer, targets stay masked, and a member gets the server's refusal."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cli_support import CLI, cli_env
from support.client import MistClient
from support.engine import engineless_servers
from support.receivers import WebhookReceiver, signature

Run = Callable[..., subprocess.CompletedProcess]
SLACK_TOKEN = "xoxbSecretPart123"
SLACK_URL = f"https://hooks.slack.com/services/T0001/B0002/{SLACK_TOKEN}"


@pytest.fixture
def server_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A real server that reaches no engine: these commands only read rows and post to receivers."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start


def test_list_test_and_deliveries(owner: MistClient, mist_cli: Run, receiver: WebhookReceiver) -> None:
    empty = mist_cli("notifications", "list")
    assert empty.returncode == 0 and "no notifications yet" in empty.stdout

    hook = owner.post("/api/notifications/create", {
        "name": "ops hook", "kind": "webhook", "target": receiver.url,
        "events": ["deployment.failed", "deployment.succeeded"]})["data"]
    secret = hook["secret"]
    slack = owner.post("/api/notifications/create", {
        "name": "team chat", "kind": "slack", "target": SLACK_URL, "events": ["deployment.failed"],
        "enabled": False})["data"]

    listed = mist_cli("notifications")  # no ACTION lists
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    assert lines[0].split() == ["ID", "NAME", "KIND", "TARGET", "EVENTS", "ENABLED", "LAST", "DELIVERY"]
    hook_line = next(line for line in lines if "ops hook" in line)
    assert receiver.url in hook_line and "deployment.failed, deployment.succeeded" in hook_line
    assert hook_line.split()[-2:] == ["yes", "never"]
    slack_line = next(line for line in lines if "team chat" in line)
    assert slack_line.split()[0] == str(slack["id"])
    assert "https://hooks.slack.com/services/T0001/B0002/********" in slack_line and " no " in slack_line
    assert SLACK_TOKEN not in listed.stdout and secret not in listed.stdout

    # --- A test, by name: delivered, signed with the secret create answered once ---------------------
    sent = mist_cli("notifications", "test", "ops hook")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.strip() == f"delivered a test notification to ops hook (id {hook['id']}) (HTTP 200)"
    assert len(receiver.received) == 1
    request = receiver.received[0]
    assert request.headers["X-Mist-Signature-256"] == signature(secret, request.body)
    assert json.loads(request.body)["event"] == "notification.test"

    # --- The receiver breaks: by id, exit 1 with its status and answer ---------------------------
    receiver.status = 500
    failed = mist_cli("notifications", "test", str(hook["id"]))
    assert failed.returncode == 1 and failed.stdout == ""
    assert failed.stderr.startswith(f"error: the test notification to ops hook (id {hook['id']}) was not delivered "
                                    "(HTTP 500): receiver broke")
    assert "mist notifications deliveries" in failed.stderr
    assert receiver.received[-1].headers["X-Mist-Signature-256"].startswith("sha256=")

    listed = mist_cli("notifications", "list")
    hook_line = next(line for line in listed.stdout.splitlines() if "ops hook" in line)
    assert "yes" in hook_line.split() and ("failed" in hook_line or "pending" in hook_line)

    # --- Deliveries: newest first, each attempt with its answer --------------------------------
    shown = mist_cli("notifications", "deliveries", "--limit", "1")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("notification.test") == 1
    assert "failed HTTP 500: receiver broke" in shown.stdout
    everything = mist_cli("notifications", "deliveries", "--notification", "ops hook")
    assert everything.stdout.count("notification.test") == 2
    assert "ok HTTP 200" in everything.stdout and "delivered" in everything.stdout
    none = mist_cli("notifications", "deliveries", "--notification", "team chat")
    assert none.returncode == 0 and "no deliveries yet" in none.stdout

    # --- Names that say nothing, or too much -------------------------------------------------------
    missing = mist_cli("notifications", "test", "nope")
    assert missing.returncode == 1
    assert "no notification named 'nope' (see `mist notifications list`)" in missing.stderr
    owner.post("/api/notifications/create", {
        "name": "ops hook", "kind": "webhook", "target": receiver.url, "events": ["deployment.failed"]})
    ambiguous = mist_cli("notifications", "test", "ops hook")
    assert ambiguous.returncode == 1 and "is ambiguous" in ambiguous.stderr
    # Neither refusal sent anything (a retry of the failed one may add attempts, never deliveries).
    assert len(owner.get("/api/notifications/deliveries", limit=50)["data"]) == 2


def test_a_member_gets_the_server_s_refusal(tmp_path: Path, server, owner: MistClient) -> None:  # noqa: ANN001
    owner.create_user("mallory")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        member = MistClient(http)
        member.login("mallory@example.com")
        token = member.post("/api/tokens/create", {"name": "cli", "scope": "admin"})["data"]["token"]
    for args in (("notifications", "list"), ("notifications", "test", "1"), ("notifications", "deliveries")):
        proc = subprocess.run([*CLI, *args], env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=token),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc
        assert proc.stderr.strip() == "error: only the owner and admins can manage notifications"
