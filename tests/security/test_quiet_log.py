"""An idle server writes nothing to its log: the proxy watcher polls Caddy every 2 s, and each poll was
logged by httpx at INFO, burying the lines that matter."""

from __future__ import annotations

import time
from collections.abc import Callable

from support.server import MistServer

IDLE_SECONDS = 7  # more than three polls of the proxy watcher


def test_an_idle_server_writes_no_log_lines(server_factory: Callable[..., MistServer]) -> None:
    server = server_factory()
    before = server.log_path.read_text(errors="replace").splitlines()

    time.sleep(IDLE_SECONDS)

    new_lines = server.log_path.read_text(errors="replace").splitlines()[len(before):]
    assert new_lines == []
