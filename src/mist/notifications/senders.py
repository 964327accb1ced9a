"""One attempt at a delivery, whatever its kind: bounded in time, and with every secret the
notification holds cut from the answer kept (a receiver may echo what it was sent)."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from mist.errors import InvalidInput
from mist.notifications import chat, mail, targets, webhook
from mist.notifications.outbox import ANSWER_CHARS, Outcome

log = logging.getLogger(__name__)

ATTEMPT_TIMEOUT = 10.0
# Bodies are small (payload texts are cut); this bounds them whatever a payload holds.
MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    """A notification as a sender needs it: decrypted, so never logged or answered."""

    kind: str
    target: str
    secret: str


def body_of(payload: dict[str, Any]) -> bytes:
    body = json.dumps(payload, separators=(",", ":")).encode()
    if len(body) > MAX_BODY_BYTES:  # never in practice: every text in a payload is cut
        raise ValueError(f"payload of {len(body)} bytes exceeds {MAX_BODY_BYTES}")
    return body


class Senders:
    def __init__(self, smtp_url: str, timeout: float = ATTEMPT_TIMEOUT) -> None:
        self.smtp_url = smtp_url
        self.timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, trust_env=False)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def send(self, to: Target, event: str, payload: dict[str, Any], delivery_id: int) -> Outcome:
        try:
            outcome = await asyncio.wait_for(self._send(to, event, payload, delivery_id), self.timeout)
        except TimeoutError:
            outcome = Outcome(False, None, f"no answer within {self.timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - a sender's bug fails this attempt, never the dispatcher
            log.exception("notifications: a %s sender broke (%s)", to.kind, type(exc).__name__)
            outcome = Outcome(False, None, f"Mist could not send it ({type(exc).__name__}); see the server log")
        hidden = [*targets.secrets_in(to.kind, to.target), to.secret, self._smtp_password()]
        return Outcome(outcome.ok, outcome.status_code, targets.redact(outcome.answer, hidden)[:ANSWER_CHARS])

    async def _send(self, to: Target, event: str, payload: dict[str, Any], delivery_id: int) -> Outcome:
        if to.kind == "webhook":
            return await webhook.post(self._http(), to.target, to.secret, body_of(payload), event, delivery_id)
        if to.kind in ("slack", "discord"):
            return await asyncio.to_thread(chat.send, to.kind, to.target, payload)
        if to.kind == "email":
            if not self.smtp_url:
                return Outcome(False, None, "MIST_SMTP_URL is not set: e-mail cannot be sent")
            return await asyncio.to_thread(mail.send, self.smtp_url, to.target, payload)
        return Outcome(False, None, f"unknown kind {to.kind!r}")

    def _smtp_password(self) -> str:
        try:
            return mail.parse(self.smtp_url).password if self.smtp_url else ""
        except InvalidInput:  # an unparsable URL has no password to find: hide it whole
            return self.smtp_url
