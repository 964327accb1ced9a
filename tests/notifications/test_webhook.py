"""mist.notifications.webhook and senders: the signature a receiver checks, and answers kept without
secrets, against a real receiver."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json

from support.receivers import WebhookReceiver

from mist.notifications import webhook
from mist.notifications.senders import Senders, Target


def test_the_signature_is_github_style_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"event":"notification.test"}'
    assert webhook.sign("key", body) == "sha256=" + hmac.new(b"key", body, hashlib.sha256).hexdigest()
    # A known vector (RFC 4231 style inputs), so a receiver in any language can be checked against it.
    assert webhook.sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")


def test_a_delivery_is_signed_and_names_its_event_and_delivery(receiver: WebhookReceiver) -> None:
    senders = Senders("")
    payload = {"event": "deployment.failed", "url": None}

    async def send() -> None:
        outcome = await senders.send(Target("webhook", receiver.url, "s" * 64), "deployment.failed", payload, 7)
        assert (outcome.ok, outcome.status_code, outcome.answer) == (True, 200, "ok")
        await senders.aclose()

    asyncio.run(send())
    (got,) = receiver.received
    assert json.loads(got.body) == payload
    assert got.headers["X-Mist-Signature-256"] == webhook.sign("s" * 64, got.body)
    assert (got.headers["X-Mist-Event"], got.headers["X-Mist-Delivery"]) == ("deployment.failed", "7")


def test_an_answer_that_echoes_a_secret_is_kept_redacted(receiver: WebhookReceiver) -> None:
    url = receiver.url + "?token=topsecret-query"
    receiver.status, receiver.answer = 401, b"bad token topsecret-query, signed with s3cr3t-signing-key"

    async def send() -> str:
        senders = Senders("")
        outcome = await senders.send(Target("webhook", url, "s3cr3t-signing-key"), "e", {}, 1)
        await senders.aclose()
        return outcome.answer

    assert asyncio.run(send()) == "bad token ********, signed with ********"


def test_an_attempt_is_bounded_in_time() -> None:
    async def send() -> str:
        server = await asyncio.start_server(lambda r, w: asyncio.sleep(30), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        senders = Senders("", timeout=0.2)
        outcome = await senders.send(Target("webhook", f"http://127.0.0.1:{port}/", "k"), "e", {}, 1)
        await senders.aclose()
        server.close()
        return outcome.answer

    answer = asyncio.run(send())
    assert "ReadTimeout" in answer or "no answer within" in answer
