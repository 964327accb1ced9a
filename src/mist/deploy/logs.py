"""Per-deployment log files: every line appended as it happens, secrets redacted first.

The line's index in the file is its sequence number, which live messages carry too, so a watcher
can replay the file and continue from the bus without losing or repeating a line.

Bounded: a line is at most `lines.MAX_LINE_BYTES` (longer ones continue on the next line), a file
at most `MIST_LOG_MAX_MB`; past that, lines are neither stored nor published, and one line says
how many were cut. Files are read back a line or a block at a time, never whole.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from mist.lines import split_lines

REDACTED = "********"
READ_BLOCK = 64 * 1024  # what a download sends at a time
_ANSI_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, line: str) -> str:
        return self._pattern.sub(REDACTED, line) if self._pattern else line


class LogStore:
    def __init__(self, root: Path, max_mb: int = 64) -> None:
        self.root = root
        self.max_mb = max_mb

    def path(self, deployment_id: int) -> Path:
        return self.root / f"deployment-{deployment_id}.log"

    def iter_lines(self, deployment_id: int, start: int = 0) -> Iterator[str]:
        """The stored lines from number `start` on, read one at a time. A last line still being
        written (no newline yet) is left out: it reaches a watcher through the event bus."""
        try:
            f = open(self.path(deployment_id), encoding="utf-8", errors="replace", newline="\n")
        except FileNotFoundError:
            return
        with f:
            for seq, line in enumerate(f):
                if not line.endswith("\n"):
                    return
                if seq >= start:
                    yield line[:-1]

    def iter_blocks(self, deployment_id: int) -> Iterator[bytes]:
        """The file as it is now, a block at a time (for downloads)."""
        try:
            f = open(self.path(deployment_id), "rb")
        except FileNotFoundError:
            return
        with f:
            while block := f.read(READ_BLOCK):
                yield block

    def writer(self, deployment_id: int, redactor: Redactor) -> LogWriter:
        return LogWriter(self.path(deployment_id), redactor, self.max_mb)

    def remove(self, deployment_ids: Iterable[int]) -> None:
        for deployment_id in deployment_ids:
            self.path(deployment_id).unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class LogWriter:
    """Appends lines and numbers them; continues the count of a file that already has lines.

    Once the file reaches `max_mb`, lines are dropped and counted; the next `final` append (the
    deployment's outcome) or the close first writes one line saying how many were cut, so the
    outcome is always at the end of the log however much came before it.
    """

    def __init__(self, path: Path, redactor: Redactor, max_mb: int = 64) -> None:
        self.redact = redactor
        self.max_mb = max_mb
        self._max_bytes = max_mb * 1024 * 1024
        path.parent.mkdir(parents=True, exist_ok=True)
        self._count = 0
        self._size = 0
        self._dropped = 0
        if path.exists():
            with open(path, "rb") as f:
                for raw in f:
                    self._count += 1
                    self._size += len(raw)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def append(self, text: str, final: bool = False) -> list[tuple[int, str]]:
        """Writes each line of `text`; returns (sequence number, redacted line) pairs, for the
        lines stored. `final` lines are stored even past the size cap (a bounded few)."""
        out = []
        if final:
            out += self._truncation_notice()
        for raw in split_lines(text) or [""]:
            line = self.redact(_ANSI_CONTROL.sub("", raw))
            size = len(line.encode(errors="replace")) + 1
            if not final and (self._dropped or self._size + size > self._max_bytes):
                self._dropped += 1
                continue
            out.append(self._write(line, size))
        self._file.flush()
        return out

    def close(self) -> None:
        self._truncation_notice()
        self._file.close()

    def _truncation_notice(self) -> list[tuple[int, str]]:
        if not self._dropped:
            return []
        line = (f"[mist] log truncated: reached MIST_LOG_MAX_MB={self.max_mb}; "
                f"{self._dropped} more line{'s were' if self._dropped > 1 else ' was'} not stored")
        self._dropped = 0
        written = self._write(line, len(line) + 1)
        self._file.flush()
        return [written]

    def _write(self, line: str, size: int) -> tuple[int, str]:
        self._file.write(line + "\n")
        self._size += size
        self._count += 1
        return self._count - 1, line
