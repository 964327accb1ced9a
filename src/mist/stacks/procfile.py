"""The Procfile (Heroku's convention): `web:` is the start command, `release:` the release command."""

from __future__ import annotations

import re

_LINE = re.compile(r"^([A-Za-z0-9_-]+)\s*:\s*(.+?)\s*$")


def parse(text: str) -> dict[str, str]:
    """Process type → command; the first line of a type wins, as on Heroku."""
    processes: dict[str, str] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            processes.setdefault(match.group(1), match.group(2))
    return processes
