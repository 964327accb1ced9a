"""The email kind: a plain-text message through the SMTP server of MIST_SMTP_URL, sent with the
standard library in a thread.

MIST_SMTP_URL is `smtp://user:password@host:587?from=mist@example.com&starttls=1` (STARTTLS when
`starttls=1`) or `smtps://…:465` (TLS from the start); without `from`, mail comes from mist@<host>.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mist.errors import InvalidInput
from mist.notifications import events, targets
from mist.notifications.outbox import ANSWER_CHARS, Outcome

ATTEMPT_TIMEOUT = 10.0


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # TLS from the first byte (smtps)
    starttls: bool
    username: str
    password: str
    sender: str


def parse(url: str) -> SmtpServer:
    """MIST_SMTP_URL taken apart; InvalidInput (naming the setting, never its password) if it cannot be."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise InvalidInput("MIST_SMTP_URL: not a valid URL") from exc
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise InvalidInput("MIST_SMTP_URL: must be smtp://[user:password@]host[:port] or smtps://…")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    tls = parts.scheme == "smtps"
    return SmtpServer(
        host=parts.hostname, port=port or (465 if tls else 587), tls=tls,
        starttls=query.get("starttls", "0").lower() in ("1", "true", "yes"),
        username=unquote(parts.username or ""), password=unquote(parts.password or ""),
        sender=query.get("from") or f"mist@{parts.hostname}",
    )


def compose(server: SmtpServer, recipients: list[str], payload: dict[str, Any]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = events.headline(payload)
    message["Message-ID"] = make_msgid(domain=server.sender.rpartition("@")[2] or None)
    message.set_content(events.description(payload) + "\n")
    return message


def send(smtp_url: str, target: str, payload: dict[str, Any]) -> Outcome:
    """One attempt, blocking (run it in a thread)."""
    try:
        server = parse(smtp_url)
    except InvalidInput as exc:
        return Outcome(False, None, exc.message)
    recipients = targets.addresses(target)
    message = compose(server, recipients, payload)
    try:
        client: smtplib.SMTP = (
            smtplib.SMTP_SSL(server.host, server.port, timeout=ATTEMPT_TIMEOUT, context=ssl.create_default_context())
            if server.tls else smtplib.SMTP(server.host, server.port, timeout=ATTEMPT_TIMEOUT))
        with client:
            if server.starttls:
                client.starttls(context=ssl.create_default_context())
            if server.username:
                client.login(server.username, server.password)
            refused = client.send_message(message, to_addrs=recipients)
    except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, unreachable, timed out
        code = getattr(exc, "smtp_code", None)
        answer = targets.redact(f"{type(exc).__name__}: {exc}", [server.password])
        return Outcome(False, code if isinstance(code, int) else None, answer[:ANSWER_CHARS])
    if refused:
        return Outcome(True, 250, f"accepted by {server.host}, except: {', '.join(refused)}"[:ANSWER_CHARS])
    return Outcome(True, 250, f"accepted by {server.host} for {len(recipients)} recipient(s)")
