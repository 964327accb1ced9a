"""Reading the repository during detection: only small regular files inside the build root.

A repository chooses what its files are (a symlink to /etc/passwd, a 10 GiB manifest, a FIFO), and
detection runs on the server before any build sandbox exists. So every read goes through
`mist.git.read_checkout_file`, and nothing from the repository is ever executed here.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mist.errors import GitError, Unbuildable
from mist.git import checkout_file, read_checkout_file

MANIFEST_MAX_BYTES = 1024 * 1024  # requirements.txt, package.json, go.mod...: text of a few KiB
SOURCE_MAX_BYTES = 256 * 1024  # a source file read to find the app object; bigger ones are skipped
SOURCES_READ_MAX = 300  # source files read at most while looking for the app object

# Directories never searched for the app's code: dependencies, virtual environments, tests.
_SKIPPED_DIRS = frozenset({"node_modules", "venv", "env", "site-packages", "tests", "test", "docs", "migrations"})


class Repo:
    """The build root of a checkout, as detection sees it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._sources_read = 0

    def text(self, relative: str) -> str | None:
        """A manifest's text, None if absent. Unsafe, oversized or non-UTF-8 → Unbuildable naming it."""
        try:
            data = read_checkout_file(self.root, relative, MANIFEST_MAX_BYTES)
        except GitError as exc:
            raise Unbuildable(exc.message) from None
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise Unbuildable(f"'{relative}' in the repository is not UTF-8 text") from None

    def has(self, relative: str) -> bool:
        """Whether a regular file is there (same safety rules as `text`)."""
        try:
            return checkout_file(self.root, relative, MANIFEST_MAX_BYTES) is not None
        except GitError as exc:
            if "larger than" in exc.message:
                return True  # present; whoever reads it reports the size
            raise Unbuildable(exc.message) from None

    def source(self, relative: str) -> str:
        """A source file's text for a pattern search, "" when it cannot be read safely: a file we
        merely look into is skipped rather than failing the deployment."""
        if self._sources_read >= SOURCES_READ_MAX:
            return ""
        self._sources_read += 1
        try:
            data = read_checkout_file(self.root, relative, SOURCE_MAX_BYTES)
        except GitError:
            return ""
        return (data or b"").decode("utf-8", errors="replace")

    def json(self, relative: str) -> dict[str, Any] | None:
        text = self.text(relative)
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise Unbuildable(f"'{relative}' is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise Unbuildable(f"'{relative}' must hold a JSON object")
        return value

    def toml(self, relative: str) -> dict[str, Any] | None:
        text = self.text(relative)
        if text is None:
            return None
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise Unbuildable(f"'{relative}' is not valid TOML: {exc}") from None

    def entries(self, relative: str = "") -> Iterator[os.DirEntry[str]]:
        """The entries of a real directory inside the root (not a symlink), sorted by name."""
        path = self.root / relative if relative else self.root
        if path.is_symlink() or not path.is_dir():
            return iter(())
        base = self.root.resolve()
        if path.resolve() != base and base not in path.resolve().parents:
            return iter(())
        with os.scandir(path) as it:
            return iter(sorted(it, key=lambda e: e.name))

    def has_dir(self, relative: str) -> bool:
        """Whether a real directory (not a symlink) is there, inside the root."""
        parent, _, name = relative.rpartition("/")
        return any(e.name == name and e.is_dir(follow_symlinks=False) for e in self.entries(parent))

    def dirs(self, relative: str = "") -> list[str]:
        """Real subdirectories worth searching for code (no hidden, dependency or test ones)."""
        return [
            e.name for e in self.entries(relative)
            if e.is_dir(follow_symlinks=False) and not e.name.startswith((".", "_")) and e.name not in _SKIPPED_DIRS
        ]

    def files(self, relative: str = "", suffix: str = "") -> list[str]:
        """Names of regular files (symlinks left out) in a directory, with the given suffix."""
        return [e.name for e in self.entries(relative) if e.is_file(follow_symlinks=False) and e.name.endswith(suffix)]
