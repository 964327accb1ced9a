"""mist.deploy.logs: lines numbered in order, secrets never written, lines and files bounded, files
read back a line or a block at a time."""

from __future__ import annotations

from pathlib import Path

from mist.deploy.logs import REDACTED, LogStore, Redactor
from mist.lines import CONTINUED, MAX_LINE_BYTES


def test_lines_are_numbered_across_writers_and_secrets_redacted(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    redact = Redactor(["hunter2-long-secret", "hunter2", ""])
    writer = store.writer(5, redact)
    assert writer.append("Step 1/2 : RUN echo hunter2-long-secret\nhunter2 ok") == [
        (0, f"Step 1/2 : RUN echo {REDACTED}"),
        (1, f"{REDACTED} ok"),
    ]
    writer.close()
    # A second writer (recovery after a restart) continues the numbering.
    again = store.writer(5, Redactor([]))
    assert again.append("Deployment failed: interrupted") == [(2, "Deployment failed: interrupted")]
    again.close()
    text = b"".join(store.iter_blocks(5)).decode()
    assert "hunter2" not in text
    assert list(store.iter_lines(5))[2] == "Deployment failed: interrupted"
    assert list(store.iter_lines(5, start=2)) == ["Deployment failed: interrupted"]
    assert list(store.iter_lines(404)) == [] and list(store.iter_blocks(404)) == []


def test_control_characters_are_dropped_but_colours_kept(tmp_path: Path) -> None:
    writer = LogStore(tmp_path).writer(1, Redactor([]))
    [(_, line)] = writer.append("\x1b[32mgreen\x1b[0m\x07 done\r")
    writer.close()
    assert line == "\x1b[32mgreen\x1b[0m done"


def test_a_line_being_written_is_not_replayed(tmp_path: Path) -> None:
    store = LogStore(tmp_path)
    store.path(3).write_text("one\ntwo\nthr")
    assert list(store.iter_lines(3)) == ["one", "two"]


def test_an_overlong_line_is_stored_as_capped_continued_lines(tmp_path: Path) -> None:
    writer = LogStore(tmp_path).writer(2, Redactor([]))
    stored = writer.append("z" * (2 * MAX_LINE_BYTES + 10))
    writer.close()
    assert [line for _, line in stored] == ["z" * MAX_LINE_BYTES, CONTINUED + "z" * MAX_LINE_BYTES, CONTINUED + "z" * 10]
    assert [seq for seq, _ in stored] == [0, 1, 2]


def test_the_file_stops_at_its_cap_and_says_what_was_cut(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_mb=1)
    writer = store.writer(9, Redactor([]))
    line = "l" * 1000
    published = [pair for _ in range(2000) for pair in writer.append(line)]
    assert len(published) == 1047  # 1047 lines of 1001 bytes fit in 1 MiB; the rest was not published
    outcome = writer.append("Deployment completed successfully", final=True)
    writer.close()
    assert [line for _, line in outcome] == [
        "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 953 more lines were not stored",
        "Deployment completed successfully",
    ]
    assert [seq for seq, _ in outcome] == [1047, 1048]
    assert store.path(9).stat().st_size < 1024 * 1024 + 200
    # A later writer (recovery, a stop) still gets its outcome line in, numbered after the rest.
    again = store.writer(9, Redactor([]))
    assert again.append("ignored " * 100) == []
    assert again.append("Deployment failed: interrupted", final=True)[-1][0] == 1050
    again.close()
    assert list(store.iter_lines(9))[-3:] == [
        "Deployment completed successfully",
        "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 1 more line was not stored",
        "Deployment failed: interrupted",
    ]


def test_closing_a_cut_log_writes_the_notice(tmp_path: Path) -> None:
    store = LogStore(tmp_path, max_mb=1)
    writer = store.writer(4, Redactor([]))
    for _ in range(1100):
        writer.append("m" * 1000)
    writer.close()
    assert list(store.iter_lines(4))[-1] == "[mist] log truncated: reached MIST_LOG_MAX_MB=1; 53 more lines were not stored"
