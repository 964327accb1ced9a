"""Go apps: go.mod; the main package built into a static binary, run from a slim image."""

from __future__ import annotations

import re

from mist.errors import Unbuildable
from mist.stacks import dockerfile
from mist.stacks.files import Repo
from mist.stacks.images import image
from mist.stacks.inputs import Generated, Inputs

DEFAULT_VERSION = "1.22"
OUT = "/out"  # the build writes the program here; the runtime stage copies this directory
PROGRAM = "app"

_GO_LINE = re.compile(r"^go\s+(\d+)\.(\d+)", re.M)
_PACKAGE_MAIN = re.compile(r"^package\s+main\b", re.M)


def detect(repo: Repo) -> bool:
    return repo.has("go.mod")


def generate(inputs: Inputs) -> Generated:
    repo, out = inputs.repo, Generated()
    found = _GO_LINE.search(repo.text("go.mod") or "")
    if found:
        version = f"{found.group(1)}.{found.group(2)}"
        out.findings.append(f"Go {version} (from the go line of go.mod)")
    else:
        version = DEFAULT_VERSION
        out.findings.append(f"Go {version} (the default: go.mod has no go line)")
    if inputs.build_command:
        build = inputs.build_command
        out.findings.append(f"build: {build} (from buildCommand; it must write the program to {OUT}/{PROGRAM})")
    else:
        package = _main_package(repo)
        build = f"go build -trimpath -o {OUT}/{PROGRAM} {package}"
        out.findings.append(f"build: the main package {package} (go build)")
    vendored = repo.has("vendor/modules.txt")
    manifests = [m for m in ("go.mod", "go.sum") if repo.has(m)]

    lines = out.lines
    lines += [
        f"FROM {image(inputs.images, 'go', version)} AS build",
        *dockerfile.build_args(inputs.build_args),
        "WORKDIR /src",
    ]
    if vendored:
        lines.append("# The modules are vendored: nothing to download.")
    else:
        lines += [
            "# Modules first, then the code: a change to the code alone reuses the downloaded modules.",
            dockerfile.copy(manifests),
            "RUN go mod download",
        ]
    lines += [
        "COPY . .",
        "# No cgo: a static program, which runs in an image without Go or a C library of the same version.",
        "ENV CGO_ENABLED=0",
        f"RUN {build}",
        "",
        "# Only the program runs: the Go toolchain and the sources stay in the build stage. A program",
        "# that reads files at run time (templates, assets) needs them copied here too, or embedded.",
        f"FROM {image(inputs.images, 'go-runtime')}",
        "WORKDIR /app",
        f"COPY --from=build {OUT}/ /app/",
    ]
    if inputs.start_command:
        out.findings.append(f"start: {inputs.start_command} (from {inputs.start_source})")
        lines.append(dockerfile.cmd(inputs.start_command, inferred=False))
    else:
        out.findings.append(f"start: /app/{PROGRAM} (the program built)")
        lines.append(dockerfile.cmd(f"/app/{PROGRAM}", inferred=True))
    return out


def _main_package(repo: Repo) -> str:
    """`.` when the root is a main package, else the single main package under cmd/."""
    if any(_is_main(repo, name) for name in repo.files("", ".go")):
        return "."
    directories = [e.name for e in repo.entries("cmd") if e.is_dir(follow_symlinks=False)]
    commands = [d for d in directories if any(_is_main(repo, f"cmd/{d}/{n}") for n in repo.files(f"cmd/{d}", ".go"))]
    if len(commands) == 1:
        return f"./cmd/{commands[0]}"
    if commands:
        raise Unbuildable(
            f"go.mod and several main packages under cmd/ ({', '.join(commands)}): Mist cannot tell which one"
            f" to run; set the app's buildCommand, e.g. `go build -o {OUT}/{PROGRAM} ./cmd/{commands[0]}`"
        )
    raise Unbuildable(
        "go.mod, but no main package: Mist builds a `package main` at the root or in a single cmd/* directory;"
        f" set the app's buildCommand (writing the program to {OUT}/{PROGRAM}) or add a Dockerfile"
    )


def _is_main(repo: Repo, path: str) -> bool:
    name = path.rpartition("/")[2]
    return not name.endswith("_test.go") and bool(_PACKAGE_MAIN.search(repo.source(path)))
