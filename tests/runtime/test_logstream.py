"""mist.runtime.logstream: the engine's multiplexed log stream back to whole lines, however the
socket cut the frames."""

from __future__ import annotations

import asyncio
import struct

from mist.runtime.logstream import _lines, _payloads


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


async def chunks_of(data: bytes, size: int):  # noqa: ANN201 - an async iterator of bytes
    for pos in range(0, len(data), size):
        yield data[pos:pos + size]


def lines_of(data: bytes, size: int, tty: bool = False) -> list[str]:
    async def collect() -> list[str]:
        raw = chunks_of(data, size)
        return [line async for line in _lines(raw if tty else _payloads(raw), tty)]
    return asyncio.run(collect())


def test_frames_cut_anywhere_give_whole_lines_per_stream() -> None:
    data = (frame(1, b"2024-01-01T00:00:00Z out-one\n2024-01-01T00:00:01Z out-")
            + frame(2, b"2024-01-01T00:00:01Z err-one\n")
            + frame(1, b"two\n") + frame(2, b"") + frame(1, b"2024-01-01T00:00:02Z last"))
    for size in (1, 3, 8, 9, 1000):
        assert lines_of(data, size) == [
            "2024-01-01T00:00:00Z out-one", "2024-01-01T00:00:01Z err-one",
            "2024-01-01T00:00:01Z out-two", "2024-01-01T00:00:02Z last",
        ]


def test_a_tty_stream_has_no_frames() -> None:
    assert lines_of(b"a\r\nb\nc", 2, tty=True) == ["a", "b", "c"]
