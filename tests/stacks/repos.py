"""Helpers for the stacks tests: writing a small repository, reading the Dockerfile made of it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mist.stacks import Recipe
from mist.stacks.dockerfile import INSTRUCTIONS

Build = Callable[..., Recipe]


def write(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def instructions(dockerfile: str) -> list[str]:
    """The Dockerfile's instruction lines (comments and blank lines left out)."""
    return [line for line in dockerfile.splitlines() if line.strip() and not line.startswith("#")]


def assert_in_order(dockerfile: str, *expected: str) -> None:
    """Each expected line is a whole line of the Dockerfile, in this order."""
    lines = dockerfile.splitlines()
    at = 0
    for line in expected:
        assert line in lines[at:], f"{line!r} not found after line {at} in:\n{dockerfile}"
        at = lines.index(line, at) + 1


def assert_parseable(dockerfile: str) -> None:
    """Every line is a comment, blank, or starts with an instruction; it starts with FROM."""
    lines = instructions(dockerfile)
    assert lines and lines[0].startswith("FROM "), dockerfile
    for line in lines:
        assert line.split(" ", 1)[0] in INSTRUCTIONS, line
