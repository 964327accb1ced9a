"""Helpers of the client tests: running `mist` as a user would, and a scripted WebSocket."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

CLI = [sys.executable, "-m", "mist.cli"]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell: no MIST_* from the test run, a private config dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIST_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    env.update(extra)
    return env


def log(seq: int, line: str) -> str:
    return json.dumps({"type": "log", "timestamp": "t", "data": {"line": line}, "seq": seq})


def status(state: str, stage: str = "", progress: int = 0, error: str = "") -> str:
    data = {"deployment_id": 7, "status": state, "stage": stage, "progress": progress,
            "message": "", "error_message": error}
    return json.dumps({"type": "status", "timestamp": "t", "data": data})


class Script:
    """A fake connector: each connection plays the next script; an exception entry is raised."""

    def __init__(self, *connections) -> None:
        self.connections = list(connections)
        self.urls: list[str] = []
        self.headers: list[dict] = []

    def __call__(self, url: str, headers: dict):
        self.urls.append(url)
        self.headers.append(headers)
        plan = self.connections.pop(0)
        if isinstance(plan, BaseException):
            raise plan

        @contextmanager
        def connection():
            def frames():
                for item in plan:
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            yield frames()

        return connection()
