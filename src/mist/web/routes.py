"""Serves the dashboard: index.html at `/`, its assets under `/static/...`.

The dashboard is a single page driven by the location hash (`#/apps/3`), so the server only ever
serves `/` and files from the static directory. Asset paths are resolved inside that directory and
nothing else is served; no data is ever rendered server-side.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

STATIC_DIR = (Path(__file__).parent / "static").resolve()

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}

# Everything the page loads comes from this origin; WebSockets to the same host ('self' covers ws:/wss:).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Assets are small and change with every upgrade: the browser revalidates (cheap 304s) instead of guessing.
COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

router = APIRouter(include_in_schema=False)


def _file(path: Path) -> FileResponse:
    headers = dict(COMMON_HEADERS)
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = CSP
        headers["X-Frame-Options"] = "DENY"
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)


@router.get("/")
def index() -> FileResponse:
    return _file(STATIC_DIR / "index.html")


@router.get("/static/{asset:path}")
def static(asset: str) -> FileResponse:
    path = (STATIC_DIR / asset).resolve()
    if (
        STATIC_DIR not in path.parents
        or path.suffix not in MEDIA_TYPES
        or any(part.startswith(".") for part in path.relative_to(STATIC_DIR).parts)
        or not path.is_file()
    ):
        raise HTTPException(404, f"no such asset: /static/{asset}")
    return _file(path)
