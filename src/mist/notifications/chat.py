"""Slack and Discord, through apprise (a well-kept library of notification services) rather than
clients of our own: the stored incoming-webhook URL becomes apprise's URL for that service."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import apprise

from mist.notifications import events, targets
from mist.notifications.outbox import ANSWER_CHARS, Outcome

# apprise's own timeouts (connect, read), within the dispatcher's per-attempt timeout.
_TIMEOUTS = "cto=5&rto=8"
# apprise reports what went wrong only through its logger: one chat send at a time, so the log
# captured for a send is that send's alone.
_capturing = threading.Lock()
# What apprise logs is kept, redacted, as each attempt's answer, and the dispatcher logs failed
# attempts: its own lines stay out of Mist's log, where one could name a webhook's token.
logging.getLogger("apprise").propagate = False


def apprise_url(kind: str, target: str) -> str:
    if kind == "slack":
        a, b, c = targets.slack_tokens(target)
        return f"slack://{a}/{b}/{c}/?footer=no&image=no&{_TIMEOUTS}"
    if kind == "discord":
        webhook_id, token = targets.discord_tokens(target)
        return f"discord://{webhook_id}/{token}/?avatar=no&footer=no&{_TIMEOUTS}"
    raise ValueError(f"not a chat kind: {kind}")


def message(payload: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of the chat message for this payload."""
    return events.headline(payload), events.description(payload)


def send(kind: str, target: str, payload: dict[str, Any],
         make: Callable[[], apprise.Apprise] = apprise.Apprise) -> Outcome:
    """One attempt, blocking (run it in a thread). apprise answers only whether it worked; what it
    logged is kept as the answer."""
    title, body = message(payload)
    notifier = make()
    if not notifier.add(apprise_url(kind, target)):
        return Outcome(False, None, "apprise did not accept the service URL")
    with _capturing, apprise.LogCapture(level=logging.INFO) as captured:  # type: ignore[no-untyped-call]
        delivered = notifier.notify(title=title, body=body)
        answer = captured.getvalue()
    return Outcome(bool(delivered), None, (answer.strip() or ("sent" if delivered else "not sent"))[:ANSWER_CHARS])
