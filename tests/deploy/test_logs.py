"""mist.deploy.logs: lines numbered in order, secrets never written."""

from __future__ import annotations

from pathlib import Path

from mist.deploy.logs import REDACTED, LogStore, Redactor


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
    text = store.read_text(5)
    assert "hunter2" not in text
    assert store.read_lines(5)[2] == "Deployment failed: interrupted"
    assert store.read_lines(404) == []


def test_control_characters_are_dropped_but_colours_kept(tmp_path: Path) -> None:
    writer = LogStore(tmp_path).writer(1, Redactor([]))
    [(_, line)] = writer.append("\x1b[32mgreen\x1b[0m\x07 done\r")
    writer.close()
    assert line == "\x1b[32mgreen\x1b[0m done"
