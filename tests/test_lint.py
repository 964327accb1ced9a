"""Lint and types are part of the test command: ruff and mypy, configured in pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # From the repository root, so both tools find pyproject.toml and mypy keeps its cache in .mypy_cache.
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing() -> None:
    result = run("ruff", "check", "--no-fix", "--output-format", "concise", "src", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing() -> None:
    # Files and strictness (strict for the core packages) come from [tool.mypy].
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
