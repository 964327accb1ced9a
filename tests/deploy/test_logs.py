"""mist.deploy.logs: lines numbered in order, secrets never written, lines and logs bounded, logs
read back a page at a time, on SQLite and PostgreSQL; log files of earlier versions imported once."""

from __future__ import annotations

from pathlib import Path

import pytest

from mist.db.engine import Database
from mist.db.models import App, Deployment
from mist.deploy.logs import PAGE_LINES, REDACTED, LogStore, LogWriter, Redactor
from mist.lines import CONTINUED, MAX_LINE_BYTES


@pytest.fixture
def logs(db: Database) -> LogStore:
    with db.session() as s:
        s.add(App(id=1, project_id=1, name="web", app_type="web"))
        s.flush()
        for n in (1, 2, 3, 4, 5, 9):
            s.add(Deployment(id=n, app_id=1, deployment_number=n))
    return LogStore(db)


def append(logs: LogStore, writer: LogWriter, text: str, final: bool = False) -> list[tuple[int, str]]:
    return logs.db.call(writer.append, text, final)


def close(logs: LogStore, writer: LogWriter) -> list[tuple[int, str]]:
    return logs.db.call(writer.close)


def test_lines_are_numbered_across_writers_and_secrets_redacted(logs: LogStore) -> None:
    redact = Redactor(["hunter2-long-secret", "hunter2", ""])
    writer = logs.writer(5, redact)
    assert append(logs, writer, "Step 1/2 : RUN echo hunter2-long-secret\nhunter2 ok") == [
        (0, f"Step 1/2 : RUN echo {REDACTED}"),
        (1, f"{REDACTED} ok"),
    ]
    close(logs, writer)
    # A second writer (recovery, another process) continues the numbering.
    assert logs.db.call(logs.append_final, 5, "Deployment failed: interrupted") == [
        (2, "Deployment failed: interrupted")]
    text = b"".join(logs.iter_blocks(5)).decode()
    assert "hunter2" not in text and text.endswith("Deployment failed: interrupted\n")
    assert list(logs.iter_lines(5))[2] == "Deployment failed: interrupted"
    assert list(logs.iter_lines(5, start=2)) == ["Deployment failed: interrupted"]
    assert list(logs.iter_lines(404)) == [] and list(logs.iter_blocks(404)) == []
    assert logs.db.call(logs.line, 5, 1) == f"{REDACTED} ok" and logs.db.call(logs.line, 5, 3) is None


def test_two_writers_of_one_log_never_reuse_a_number(logs: LogStore) -> None:
    first, second = logs.writer(3, Redactor([])), logs.writer(3, Redactor([]))
    for n in range(5):
        append(logs, first, f"worker {n}")
        append(logs, second, f"recovery {n}")
    assert len(list(logs.iter_lines(3))) == 10
    assert list(logs.iter_lines(3))[:2] == ["worker 0", "recovery 0"]


def test_long_logs_are_read_back_page_by_page_in_order(logs: LogStore) -> None:
    writer = logs.writer(4, Redactor([]))
    append(logs, writer, "\n".join(f"line {n}" for n in range(2 * PAGE_LINES + 7)))
    assert list(logs.iter_lines(4)) == [f"line {n}" for n in range(2 * PAGE_LINES + 7)]
    assert list(logs.iter_lines(4, start=PAGE_LINES + 1))[0] == f"line {PAGE_LINES + 1}"
    assert b"".join(logs.iter_blocks(4)).decode().splitlines()[-1] == f"line {2 * PAGE_LINES + 6}"


def test_control_characters_are_dropped_but_colours_kept(logs: LogStore) -> None:
    [(_, line)] = append(logs, logs.writer(1, Redactor([])), "\x1b[32mgreen\x1b[0m\x07 done\r")
    assert line == "\x1b[32mgreen\x1b[0m done"


def test_an_overlong_line_is_stored_as_capped_continued_lines(logs: LogStore) -> None:
    stored = append(logs, logs.writer(2, Redactor([])), "z" * (2 * MAX_LINE_BYTES + 10))
    assert [line for _, line in stored] == [
        "z" * MAX_LINE_BYTES, CONTINUED + "z" * MAX_LINE_BYTES, CONTINUED + "z" * 10
    ]
    assert [seq for seq, _ in stored] == [0, 1, 2]
    assert list(logs.iter_lines(2)) == [line for _, line in stored]


def test_the_log_stops_at_its_cap_and_says_what_was_cut(logs: LogStore) -> None:
    logs.max_mb = 1
    writer = logs.writer(9, Redactor([]))
    line = "l" * 1000
    published = [pair for _ in range(2000) for pair in append(logs, writer, line)]
    assert len(published) == 1047  # 1047 lines of 1001 bytes fit in 1 MiB; the rest was not published
    outcome = append(logs, writer, "Deployment completed successfully", final=True)
    close(logs, writer)
    assert [line for _, line in outcome] == [
        "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 953 more lines were not stored",
        "Deployment completed successfully",
    ]
    assert [seq for seq, _ in outcome] == [1047, 1048]
    assert sum(len(line) + 1 for line in logs.iter_lines(9)) < 1024 * 1024 + 200
    # A later writer (recovery, a stop) still gets its outcome line in, numbered after the rest.
    again = logs.writer(9, Redactor([]))
    assert append(logs, again, "ignored " * 100) == []
    assert append(logs, again, "Deployment failed: interrupted", final=True)[-1][0] == 1050
    assert list(logs.iter_lines(9))[-3:] == [
        "Deployment completed successfully",
        "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 1 more line was not stored",
        "Deployment failed: interrupted",
    ]


def test_closing_a_cut_log_writes_the_notice(logs: LogStore) -> None:
    logs.max_mb = 1
    writer = logs.writer(4, Redactor([]))
    for _ in range(1100):
        append(logs, writer, "m" * 1000)
    close(logs, writer)
    assert list(logs.iter_lines(4))[-1] == (
        "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 53 more lines were not stored"
    )


def test_log_files_of_earlier_versions_move_into_the_database_once(logs: LogStore, tmp_path: Path) -> None:
    files = tmp_path / "logs"
    files.mkdir()
    (files / "deployment-1.log").write_text("Cloning\nBuilding\nDeployment completed successfully\n")
    (files / "deployment-77.log").write_text("a deployment deleted since\n")  # nothing to attach it to
    logs.db.call(logs.append_final, 2, "already in the database")
    (files / "deployment-2.log").write_text("an old copy\n")
    assert logs.import_files(files) == 1
    assert list(logs.iter_lines(1)) == ["Cloning", "Building", "Deployment completed successfully"]
    assert list(logs.iter_lines(2)) == ["already in the database"]
    assert list(files.iterdir()) == []
    assert logs.import_files(files) == 0 and logs.import_files(tmp_path / "none") == 0
