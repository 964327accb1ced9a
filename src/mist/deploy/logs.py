"""Deployment logs, stored in the database one line per row (`deployment_logs`), secrets redacted
first: every Mist process sharing the database replays a deployment whichever process runs it.

A line's `seq` is its index in the log, which live messages carry too, so a watcher can replay the
stored lines and continue from the event bus without losing or repeating a line. Lines are stored
before they are published.

Bounded: a line is at most `lines.MAX_LINE_BYTES` (longer ones continue on the next line), a log
at most `MIST_LOG_MAX_MB`; past that, lines are neither stored nor published, and one line says
how many were cut. Logs are read back a page of lines at a time, never whole.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.orm import Session

from mist.db.engine import Database
from mist.db.models import Deployment, LogLine
from mist.lines import split_lines

log = logging.getLogger(__name__)

REDACTED = "********"
PAGE_LINES = 500  # lines read from the database at a time
_ANSI_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1a\x1c-\x1f\x7f]")
_FILE_NAME = re.compile(r"deployment-(\d{1,10})\.log")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        values = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, line: str) -> str:
        return self._pattern.sub(REDACTED, line) if self._pattern else line


def _next_seq(session: Session, deployment_id: int) -> int:
    found = session.scalar(select(func.max(LogLine.seq)).where(LogLine.deployment_id == deployment_id))
    return 0 if found is None else found + 1


def _store(session: Session, deployment_id: int, lines: list[str]) -> list[tuple[int, str]]:
    """Appends `lines` after the last stored one. A log can have two writers at once (recovery taking
    over from a worker that has not noticed yet): on PostgreSQL the deployment's row lock makes them
    take turns; on SQLite the first line's number is computed by the statement that takes the write lock."""
    if session.get_bind().dialect.name == "postgresql":
        # A build writes many small transactions of lines: none waits for its own flush to disk. The
        # next status change commits as usual, which flushes every line written before it (the log
        # is sequential), so a database crash can lose only lines after the last status change.
        session.execute(text("SET LOCAL synchronous_commit = off"))
    session.execute(select(Deployment.id).where(Deployment.id == deployment_id).with_for_update(key_share=True))
    base = session.execute(
        insert(LogLine).from_select(
            ["deployment_id", "seq", "line"],
            select(literal(deployment_id), func.coalesce(func.max(LogLine.seq) + 1, 0), literal(lines[0]))
            .where(LogLine.deployment_id == deployment_id),
        ).returning(LogLine.seq)
    ).scalar_one()
    if len(lines) > 1:
        session.execute(insert(LogLine), [
            {"deployment_id": deployment_id, "seq": base + n, "line": line} for n, line in enumerate(lines) if n
        ])
    return [(base + n, line) for n, line in enumerate(lines)]


class LogStore:
    def __init__(self, db: Database, max_mb: int = 64) -> None:
        self.db = db
        self.max_mb = max_mb

    @staticmethod
    def page(session: Session, deployment_id: int, start: int, limit: int = PAGE_LINES) -> list[str]:
        """Up to `limit` stored lines from number `start` on."""
        return list(session.scalars(
            select(LogLine.line).where(LogLine.deployment_id == deployment_id, LogLine.seq >= start)
            .order_by(LogLine.seq).limit(limit)))

    def iter_lines(self, deployment_id: int, start: int = 0) -> Iterator[str]:
        """The stored lines from number `start` on, a page per query (each its own short transaction:
        a slow reader holds nothing open). Blocking: for threads."""
        seq = start
        while True:
            page = self.db.call(self.page, deployment_id, seq)
            yield from page
            if len(page) < PAGE_LINES:
                return
            seq += len(page)

    def iter_blocks(self, deployment_id: int) -> Iterator[bytes]:
        """The log as it is now, a page of lines at a time (for downloads)."""
        for page in _pages(self.iter_lines(deployment_id)):
            yield ("\n".join(page) + "\n").encode()

    @staticmethod
    def line(session: Session, deployment_id: int, seq: int) -> str | None:
        return session.scalar(select(LogLine.line).where(LogLine.deployment_id == deployment_id, LogLine.seq == seq))

    def writer(self, deployment_id: int, redactor: Redactor) -> LogWriter:
        return LogWriter(deployment_id, redactor, self.max_mb)

    def append_final(self, session: Session, deployment_id: int, line: str) -> list[tuple[int, str]]:
        """One outcome line written on its own (recovery, a stop before the start): stored whatever
        the log's size."""
        return self.writer(deployment_id, Redactor(())).append(session, line, final=True)

    def import_files(self, logs_dir: Path) -> int:
        """Logs kept as files by earlier versions (one per deployment in MIST_DATA_DIR/logs) move into
        the database, once: a file is deleted after its lines are stored, and a deployment whose log
        is already in the database is not imported twice."""
        imported = 0
        for path in sorted(logs_dir.glob("deployment-*.log")) if logs_dir.is_dir() else []:
            match = _FILE_NAME.fullmatch(path.name)
            if match is None:
                continue
            deployment_id = int(match.group(1))
            with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
                lines = [line.rstrip("\n") for line in f]

            if self.db.call(_import, deployment_id, lines):
                imported += 1
            path.unlink()
        if imported:
            log.info("moved the logs of %d deployments from %s into the database", imported, logs_dir)
        return imported


def _import(session: Session, deployment_id: int, lines: list[str]) -> bool:
    """Stores an old log file's lines, unless its deployment is gone or already has a stored log."""
    if session.get(Deployment, deployment_id) is None or _next_seq(session, deployment_id):
        return False
    for page in _pages(iter(lines)):
        _store(session, deployment_id, page)
    return True


def _pages(lines: Iterator[str]) -> Iterator[list[str]]:
    page: list[str] = []
    for line in lines:
        page.append(line)
        if len(page) == PAGE_LINES:
            yield page
            page = []
    if page:
        yield page


class LogWriter:
    """Appends a deployment's lines, with the session it is given.

    Once the log reaches `max_mb`, lines are dropped and counted; the next `final` append (the
    deployment's outcome) or the close first writes one line saying how many were cut, so the
    outcome is always at the end of the log however much came before it.
    """

    def __init__(self, deployment_id: int, redactor: Redactor, max_mb: int = 64) -> None:
        self.deployment_id = deployment_id
        self.redact = redactor
        self.max_mb = max_mb
        self._max_bytes = max_mb * 1024 * 1024
        self._size: int | None = None  # what is stored already: read at the first append
        self._dropped = 0

    def append(self, session: Session, text: str, final: bool = False) -> list[tuple[int, str]]:
        """Stores each line of `text`; returns (sequence number, redacted line) pairs, for the
        lines stored. `final` lines are stored even past the size cap (a bounded few)."""
        return self.append_many(session, [(text, final)])

    def append_many(self, session: Session, texts: list[tuple[str, bool]]) -> list[tuple[int, str]]:
        """`append` of each (text, final) in order, in one statement's worth of rows."""
        if self._size is None:
            self._size = session.scalar(
                select(func.coalesce(func.sum(func.length(LogLine.line) + 1), 0))
                .where(LogLine.deployment_id == self.deployment_id)) or 0
        kept: list[str] = []
        for chunk, final in texts:
            kept += self._lines(chunk, final)
        return _store(session, self.deployment_id, kept) if kept else []

    def _lines(self, text: str, final: bool) -> list[str]:
        assert self._size is not None
        kept = self._truncation_notice() if final else []
        for raw in split_lines(text) or [""]:
            line = self.redact(_ANSI_CONTROL.sub("", raw))
            size = len(line.encode(errors="replace")) + 1
            if not final and (self._dropped or self._size + size > self._max_bytes):
                self._dropped += 1
                continue
            self._size += size
            kept.append(line)
        return kept

    def close(self, session: Session) -> list[tuple[int, str]]:
        notice = self._truncation_notice()
        return _store(session, self.deployment_id, notice) if notice else []

    def _truncation_notice(self) -> list[str]:
        if not self._dropped:
            return []
        line = (f"[mist] log truncated: reached MIST_LOG_MAX_MB={self.max_mb}; "
                f"{self._dropped} more line{'s were' if self._dropped > 1 else ' was'} not stored")
        self._dropped = 0
        return [line]
