"""Helpers for the browser tests: Debian's Chromium driven by Playwright, screenshots.

Chromium comes from the `chromium` Debian package at /usr/bin/chromium; Playwright is only the
driver (`playwright` from PyPI; its node driver ships in the wheel), so `playwright install` is
never needed. Screenshots go to artifacts/screenshots/ at the repository root (git-ignored).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

CHROMIUM = os.environ.get("MIST_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (the test extra pins it)"
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def open_page(browser, base_url: str, viewport: dict | None = None):
    """A fresh context (own cookies) and page; uncaught page exceptions collect in `errors`."""
    # Reduced motion: the progress bar jumps to its value instead of animating, so screenshots show it.
    context = browser.new_context(base_url=base_url, viewport=viewport or DESKTOP, reduced_motion="reduce")
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


def screenshot(page, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if full_page:
        page.evaluate("() => window.scrollTo(0, 0)")
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)
