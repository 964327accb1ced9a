"""mist.notifications.mail: MIST_SMTP_URL taken apart, and a message sent to a real SMTP server
(aiosmtpd on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.receivers import SmtpReceiver
from support.server import free_port

from mist.config import Settings
from mist.errors import InvalidInput
from mist.notifications import events, mail
from mist.settings_report import report

PAYLOAD = events.probe_payload("ops mail")


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


def test_the_smtp_url_is_taken_apart() -> None:
    server = mail.parse("smtp://mist%40example.com:p%40ss@mail.example.com:2525?from=alerts@example.com&starttls=1")
    assert (server.host, server.port, server.tls, server.starttls) == ("mail.example.com", 2525, False, True)
    assert (server.username, server.password, server.sender) == ("mist@example.com", "p@ss", "alerts@example.com")
    assert mail.parse("smtps://mail.example.com").port == 465
    assert mail.parse("smtp://mail.example.com").sender == "mist@mail.example.com"
    for bad in ("http://mail.example.com", "smtp://", "smtp://host:port", "mail.example.com"):
        with pytest.raises(InvalidInput) as refused:
            mail.parse(bad)
        assert refused.value.message.startswith("MIST_SMTP_URL:")


def test_a_message_reaches_the_smtp_server(smtp: SmtpReceiver) -> None:
    outcome = mail.send(smtp.url, "a@example.com, b@example.com", PAYLOAD)
    assert outcome.ok and outcome.status_code == 250
    (message,) = smtp.messages
    assert message["Subject"] == "Mist: test notification 'ops mail'"
    assert message["To"] == "a@example.com, b@example.com" and message["From"] == "mist@example.com"
    assert "A test of the notification 'ops mail'" in message.get_payload(decode=True).decode()


def test_an_unreachable_server_is_a_failed_attempt_without_the_password() -> None:
    outcome = mail.send(f"smtp://mist:hunter2@127.0.0.1:{free_port()}", "a@example.com", PAYLOAD)
    assert not outcome.ok and "Connection refused" in outcome.answer and "hunter2" not in outcome.answer


def test_the_smtp_password_never_shows_in_the_settings_report() -> None:
    settings = Settings(smtp_url="smtp://mist:hunter2@mail.example.com:587?from=mist@example.com&starttls=1")
    (row,) = [r for r in report(settings) if r["key"] == "MIST_SMTP_URL"]
    assert "hunter2" not in str(row["value"]) and "mail.example.com" in str(row["value"])
