"""Lines out of a stream of chunks, cut however the sender cut them, in time linear in the input.

A line is what was printed between two newlines. One line is at most MAX_LINE_BYTES (UTF-8) long:
a longer one continues on the next line, which starts with CONTINUED, so a program printing
hundreds of megabytes without a newline costs bounded memory and many bounded lines, never one
huge string that every later step (redaction, JSON, the browser) would have to handle whole.
"""

from __future__ import annotations

MAX_LINE_BYTES = 16 * 1024
CONTINUED = "[continued] "


class LineSplitter:
    """Feed it chunks (bytes), get whole lines back (str, without the newline or a trailing CR).

    Each byte is looked at a bounded number of times: the current line's pieces are kept in a
    list and joined once, never re-scanned or re-copied as chunks arrive.
    """

    def __init__(self, limit: int = MAX_LINE_BYTES) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._continued = False

    def feed(self, chunk: bytes) -> list[str]:
        out: list[str] = []
        pos, end = 0, len(chunk)
        while pos < end:
            newline = chunk.find(b"\n", pos)
            stop = end if newline < 0 else newline
            while stop - pos > self.limit - self._size:
                cut = pos + self.limit - self._size
                self._parts.append(chunk[pos:cut])
                pos = cut
                out.append(self._take(continues=True))
            self._parts.append(chunk[pos:stop])
            self._size += stop - pos
            if newline < 0:
                break
            out.append(self._take(continues=False))
            pos = newline + 1
        return out

    def flush(self) -> list[str]:
        """The last line, if the stream ended without a newline."""
        return [self._take(continues=False)] if self._size else []

    def _take(self, continues: bool) -> str:
        data = b"".join(self._parts)
        # A cut line keeps no half character: its incomplete last one starts the next line.
        keep = _incomplete_tail(data) if continues else 0
        line = data[:len(data) - keep].decode(errors="replace")
        if line.endswith("\r"):
            line = line[:-1]
        if self._continued:
            line = CONTINUED + line
        self._parts = [data[len(data) - keep:]] if keep else []
        self._size, self._continued = keep, continues
        return line


def split_lines(text: str, limit: int = MAX_LINE_BYTES) -> list[str]:
    """The capped lines of a whole text (a text without a newline is one line)."""
    splitter = LineSplitter(limit)
    return splitter.feed(text.encode(errors="replace")) + splitter.flush()


def _incomplete_tail(data: bytes) -> int:
    """How many bytes at the end of `data` are an incomplete UTF-8 character (0 if none, or if
    that is all there is)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the character's first byte says how long it is
            length = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return back if length > back and back < len(data) else 0
    return 0
