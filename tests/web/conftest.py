"""Browser-test fixtures: one Chromium per session; for the dashboard scenario a real `mist serve`
on the real Docker engine, cleaned up as tests/integration/conftest.py does."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, CHROMIUM_ARGS, chromium_missing
from support.engine import remove_mist_objects
from support.images import ensure_busybox_image
from support.server import MistServer


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if reason := chromium_missing():
        # scripts/test installs both; in CI a missing browser must fail, never pass as skipped.
        (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def busybox(engine) -> str:
    return ensure_busybox_image(engine)


@pytest.fixture
def server(tmp_path: Path, engine, busybox: str) -> Iterator[MistServer]:
    remove_mist_objects(engine)
    # A stop waits 1 s, not 10, for the test apps' shell (as PID 1 it ignores SIGTERM) to end.
    server = MistServer(tmp_path / "data", workers=2, stop_timeout_seconds="1")
    try:
        server.start()
        yield server
    finally:
        server.stop()
        print(server.output())
        server.stop_proxy()
        remove_mist_objects(engine)
