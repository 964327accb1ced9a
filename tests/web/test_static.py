"""The dashboard's routes: index at /, assets under /static/, nothing else from the package."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mist.api import errors
from mist.web import routes
from mist.web.routes import STATIC_DIR


@pytest.fixture
def client() -> TestClient:
    app = FastAPI()
    errors.install(app)
    app.include_router(routes.router)
    return TestClient(app)


def test_index_is_the_dashboard_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/main.js">' in response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("path", "media"), [
    ("/static/js/main.js", "text/javascript"),
    ("/static/js/logviewer.js", "text/javascript"),
    ("/static/css/app.css", "text/css"),
    ("/static/favicon.svg", "image/svg+xml"),
])
def test_assets_are_served_with_their_media_type(client: TestClient, path: str, media: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize("path", [
    "/static/../routes.py",
    "/static/%2e%2e/routes.py",
    "/static/..%2froutes.py",
    "/static/js/../../__init__.py",
    "/static/js/missing.js",
    "/static/",
    "/static/js",
    "/static/%2fetc/passwd",
])
def test_nothing_outside_the_static_directory_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")


def test_every_asset_the_page_references_exists() -> None:
    """index.html and the modules import each other by path: a typo would only show in a browser."""
    html = (STATIC_DIR / "index.html").read_text()
    referenced = set(re.findall(r'(?:src|href)="(/static/[^"]+)"', html))
    for js in (STATIC_DIR / "js").rglob("*.js"):
        for spec in re.findall(r'^\s*import\b[^;]*?from\s+"(\.[^"]+)"', js.read_text(), re.M):
            target = (js.parent / spec).resolve()
            assert target.is_file(), f"{js.relative_to(STATIC_DIR)} imports missing {spec}"
    for ref in referenced:
        assert (STATIC_DIR / ref.removeprefix("/static/")).is_file(), ref


def test_no_data_reaches_the_dom_as_html() -> None:
    """The dashboard writes text with textContent; innerHTML/outerHTML/insertAdjacentHTML never appear."""
    for js in (STATIC_DIR / "js").rglob("*.js"):
        source = js.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{sink} in {js.relative_to(STATIC_DIR)}"
