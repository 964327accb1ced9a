"""Where a notification goes, per kind: checked when saved, and shown with its secrets masked.

Slack and Discord incoming-webhook URLs are credentials (whoever has one can post), so are the
password and query of a webhook URL: only the parts that say where it goes are ever shown again.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from mist.errors import InvalidInput

KINDS = ("webhook", "slack", "discord", "email")
MASK = "********"
MAX_URL_CHARS = 2000
MAX_ADDRESSES = 20

_SLACK = re.compile(r"^https://hooks\.slack\.com/services/([A-Za-z0-9]+)/([A-Za-z0-9]+)/([A-Za-z0-9]+)/?$")
_DISCORD = re.compile(
    r"^https://(?:canary\.|ptb\.)?(?:discord|discordapp)\.com/api/webhooks/([0-9]+)/([A-Za-z0-9_-]+)/?$")
_ADDRESS = re.compile(r"^[^@\s,;<>\"'()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def check(kind: str, target: str) -> str:
    """The target as stored, or InvalidInput naming what is wrong with it."""
    target = target.strip()
    if kind == "email":
        return ", ".join(_addresses(target))
    if len(target) > MAX_URL_CHARS or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        raise InvalidInput(f"target: a URL of at most {MAX_URL_CHARS} characters, without spaces")
    if kind == "webhook":
        try:
            parts = urlsplit(target)
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError as exc:
            raise InvalidInput("target: not a valid URL") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("target: a webhook target must be an http:// or https:// URL with a host")
        return target
    if kind == "slack":
        if not _SLACK.match(target):
            raise InvalidInput("target: a Slack incoming-webhook URL, https://hooks.slack.com/services/T…/B…/…")
        return target.rstrip("/")
    if kind == "discord":
        if not _DISCORD.match(target):
            raise InvalidInput("target: a Discord webhook URL, https://discord.com/api/webhooks/ID/TOKEN")
        return target.rstrip("/")
    raise InvalidInput(f"kind: must be one of {', '.join(KINDS)}")


def _addresses(target: str) -> list[str]:
    found = list(dict.fromkeys(a.strip() for a in target.split(",") if a.strip()))
    if not found:
        raise InvalidInput("target: one or more e-mail addresses, separated by commas")
    if len(found) > MAX_ADDRESSES:
        raise InvalidInput(f"target: at most {MAX_ADDRESSES} e-mail addresses")
    for address in found:
        if not _ADDRESS.match(address):
            raise InvalidInput(f"target: '{address[:80]}' is not an e-mail address")
    return found


def addresses(target: str) -> list[str]:
    """An e-mail notification's recipients (its stored target)."""
    return [a.strip() for a in target.split(",") if a.strip()]


def slack_tokens(target: str) -> tuple[str, str, str]:
    match = _SLACK.match(target)
    if match is None:
        raise InvalidInput("target: not a Slack incoming-webhook URL")
    return match.group(1), match.group(2), match.group(3)


def discord_tokens(target: str) -> tuple[str, str]:
    match = _DISCORD.match(target)
    if match is None:
        raise InvalidInput("target: not a Discord webhook URL")
    return match.group(1), match.group(2)


def shown(kind: str, target: str) -> str:
    """The target as the API shows it: where it goes, never how it is authorized."""
    if kind == "email":
        return target
    if kind == "slack" and (match := _SLACK.match(target)):
        return f"https://hooks.slack.com/services/{match.group(1)}/{match.group(2)}/{MASK}"
    if kind == "discord" and (match := _DISCORD.match(target)):
        return f"{target[:match.start(2)]}{MASK}"
    try:
        parts = urlsplit(target)
        host = parts.netloc.rpartition("@")[2]
        netloc = f"{MASK}@{host}" if "@" in parts.netloc else host
        query = urlencode([(key, MASK) for key, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:  # not a URL we can take apart: say nothing of it rather than risk a secret
        return MASK


def secrets_in(kind: str, target: str) -> list[str]:
    """The parts of a target that must never be repeated (in answers kept, or log lines)."""
    if kind == "slack" and (match := _SLACK.match(target)):
        return [match.group(3), target]
    if kind == "discord" and (match := _DISCORD.match(target)):
        return [match.group(2), target]
    if kind == "webhook":
        try:
            parts = urlsplit(target)
            found = [v for _, v in parse_qsl(parts.query) if len(v) >= 4]
            if parts.password:
                found.append(parts.password)
            return found
        except ValueError:
            return [target]
    return []


def redact(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    return text
