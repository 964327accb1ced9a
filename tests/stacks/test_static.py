"""Static sites: index.html at the root or in public/, served by Caddy."""

from __future__ import annotations

import pytest

from mist.stacks import Overrides
from stacks.repos import Build, assert_parseable, instructions

SERVE = 'CMD ["sh", "-c", "exec caddy file-server --root /srv --listen :${PORT:-8080}"]'


@pytest.mark.parametrize(("files", "source"), [
    ({"index.html": "<h1>hi</h1>", "style.css": ""}, "."),
    ({"public/index.html": "<h1>hi</h1>", "README.md": ""}, "public"),
])
def test_a_static_site_is_served_by_caddy(build: Build, files: dict[str, str], source: str) -> None:
    found = build(files)
    assert found.builder == "static"
    assert_parseable(found.dockerfile)
    assert instructions(found.dockerfile) == ["FROM caddy:2", "WORKDIR /srv", f"COPY {source} /srv", SERVE]


def test_commands_override(build: Build) -> None:
    found = build({"index.html": ""}, overrides=Overrides(build_command="gzip -k *.html", start_command="caddy run"))
    assert instructions(found.dockerfile)[-2:] == ["RUN gzip -k *.html", 'CMD ["sh", "-c", "caddy run"]']
