"""mist.lines: whole lines however the stream was cut, each capped, in linear time."""

from __future__ import annotations

import random

from mist.lines import CONTINUED, MAX_LINE_BYTES, LineSplitter, split_lines


def feed_in_pieces(data: bytes, sizes: list[int], limit: int = MAX_LINE_BYTES) -> list[str]:
    splitter = LineSplitter(limit)
    out, pos, n = [], 0, 0
    while pos < len(data):
        size = sizes[n % len(sizes)]
        out += splitter.feed(data[pos:pos + size])
        pos, n = pos + size, n + 1
    return out + splitter.flush()


def test_lines_come_out_whole_whatever_the_cuts() -> None:
    lines = [f"mist-line-{n} " + "padding " * (n % 40) for n in range(3000)]
    data = "".join(f"{line}\n" for line in lines).encode()
    rng = random.Random(7)
    for sizes in ([1], [7], [4096], [rng.randint(1, 300) for _ in range(50)]):
        assert feed_in_pieces(data, sizes) == lines


def test_crlf_empty_lines_and_a_last_line_without_newline() -> None:
    assert feed_in_pieces(b"a\r\n\nb\r\nlast", [2]) == ["a", "", "b", "last"]
    assert split_lines("") == []
    assert split_lines("one") == ["one"]


def test_an_overlong_line_continues_on_marked_lines_of_at_most_the_cap() -> None:
    data = b"x" * 100 + b"\nshort\n"
    assert feed_in_pieces(data, [3], limit=40) == [
        "x" * 40, CONTINUED + "x" * 40, CONTINUED + "x" * 20, "short",
    ]
    # Exactly the cap is one line, not a line and an empty continuation.
    assert feed_in_pieces(b"y" * 40 + b"\nz\n", [40], limit=40) == ["y" * 40, "z"]


def test_a_cut_never_splits_a_character() -> None:
    text = "é" * 30  # two bytes each
    lines = feed_in_pieces(text.encode(), [1], limit=7)
    assert "".join(line.removeprefix(CONTINUED) for line in lines) == text
    assert all(len(line.removeprefix(CONTINUED).encode()) <= 7 for line in lines)


def test_a_huge_line_in_small_chunks_is_linear() -> None:
    """50 MiB without a newline, fed 4 KiB at a time: the quadratic join took minutes; this
    asserts only the result (every piece capped, nothing lost), the time is the test's own."""
    chunk = b"a" * 4096
    splitter = LineSplitter()
    total, count = 0, 0
    for _ in range(50 * 256):
        for line in splitter.feed(chunk):
            body = line.removeprefix(CONTINUED)
            assert len(body) == MAX_LINE_BYTES
            total, count = total + len(body), count + 1
    for line in splitter.flush():
        total += len(line.removeprefix(CONTINUED))
    assert total == 50 * 1024 * 1024 and count == 50 * 64 - 1
