"""Per-deployment log files: every line appended as it happens, secrets redacted first.

The line's index in the file is its sequence number, which live messages carry too, so a watcher
can replay the file and continue from the bus without losing or repeating a line.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

REDACTED = "********"
_ANSI_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, line: str) -> str:
        return self._pattern.sub(REDACTED, line) if self._pattern else line


class LogStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, deployment_id: int) -> Path:
        return self.root / f"deployment-{deployment_id}.log"

    def read_lines(self, deployment_id: int) -> list[str]:
        try:
            with open(self.path(deployment_id), encoding="utf-8", errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def read_text(self, deployment_id: int) -> str:
        try:
            return self.path(deployment_id).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def writer(self, deployment_id: int, redactor: Redactor) -> LogWriter:
        return LogWriter(self.path(deployment_id), redactor)

    def remove(self, deployment_ids: Iterable[int]) -> None:
        for deployment_id in deployment_ids:
            self.path(deployment_id).unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class LogWriter:
    """Appends lines and numbers them; continues the count of a file that already has lines."""

    def __init__(self, path: Path, redactor: Redactor) -> None:
        self.redact = redactor
        path.parent.mkdir(parents=True, exist_ok=True)
        self._count = 0
        if path.exists():
            with open(path, "rb") as f:
                self._count = sum(1 for _ in f)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def append(self, text: str) -> list[tuple[int, str]]:
        """Writes each line of `text`; returns (sequence number, redacted line) pairs."""
        out = []
        for raw in text.splitlines() or [""]:
            line = self.redact(_ANSI_CONTROL.sub("", raw.rstrip("\r")))
            self._file.write(line + "\n")
            out.append((self._count, line))
            self._count += 1
        self._file.flush()
        return out

    def close(self) -> None:
        self._file.close()
