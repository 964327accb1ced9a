"""Static sites: an index.html at the root or in public/, served by Caddy's file server."""

from __future__ import annotations

from collections.abc import Mapping

from mist.stacks import dockerfile
from mist.stacks.dockerfile import PORT
from mist.stacks.files import Repo
from mist.stacks.images import image
from mist.stacks.inputs import Generated, Inputs

SITE = "/srv"


def detect(repo: Repo) -> bool:
    return repo.has("index.html") or repo.has("public/index.html")


def serve(images: Mapping[str, str], source: str, build_command: str = "") -> list[str]:
    """The lines that serve `source` (a COPY source) with Caddy on $PORT."""
    lines = [f"FROM {image(images, 'static')}", f"WORKDIR {SITE}", f"COPY {source} {SITE}"]
    if build_command:
        lines += ["# The app's buildCommand.", f"RUN {build_command}"]
    lines.append(dockerfile.cmd(f"caddy file-server --root {SITE} --listen :{PORT}", inferred=True))
    return lines


def generate(inputs: Inputs) -> Generated:
    out = Generated()
    directory = "." if inputs.repo.has("index.html") else "public"
    where = "index.html at the root" if directory == "." else "public/index.html"
    out.findings.append(f"a static site ({where}), served by Caddy from {SITE}")
    if inputs.build_command:
        out.findings.append(f"build: {inputs.build_command} (from buildCommand, run in {SITE})")
    lines = serve(inputs.images, directory, inputs.build_command)
    if inputs.start_command:
        out.findings.append(f"start: {inputs.start_command} (from {inputs.start_source})")
        lines[-1] = dockerfile.cmd(inputs.start_command, inferred=False)
    out.lines += lines
    return out
