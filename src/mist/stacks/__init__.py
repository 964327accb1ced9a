"""Building an app whose repository has no Dockerfile: detect its stack, write a Dockerfile for it.

The Dockerfile is plain text a person can read and keep (`mist apps dockerfile APP > Dockerfile`):
Mist runs nothing from the repository to write it, and the build runs it like any other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mist.errors import InvalidInput, Unbuildable
from mist.stacks import dockerfile, go, node, procfile, python, static
from mist.stacks.files import Repo
from mist.stacks.images import base_images
from mist.stacks.inputs import Generated, Inputs

__all__ = ["BUILDERS", "Overrides", "Recipe", "base_images", "recipe"]

BUILDERS: tuple[str, ...] = ("auto", "dockerfile", "python", "node", "go", "static")


@dataclass(frozen=True)
class Overrides:
    """The app's own commands; "" leaves each to detection (and the Procfile)."""

    build_command: str = ""
    start_command: str = ""
    release_command: str = ""


@dataclass(frozen=True)
class Recipe:
    builder: str  # what builds the image: "dockerfile" | "python" | "node" | "go" | "static"
    dockerfile: str  # the generated Dockerfile text; "" when builder == "dockerfile"
    release_command: str  # the override, else the Procfile's `release:` line, else ""
    findings: tuple[str, ...]  # one short line each: what was detected and from which file


@dataclass(frozen=True)
class _Stack:
    title: str  # "a Python app": what the header says it was generated for
    looked_for: str  # the manifests, for the message when nothing is found
    detect: Callable[[Repo], bool]
    generate: Callable[[Inputs], Generated]


# In the order `auto` tries them.
_STACKS = {
    "python": _Stack("a Python app", "requirements.txt, pyproject.toml or Pipfile", python.detect, python.generate),
    "node": _Stack("a Node.js app", "package.json", node.detect, node.generate),
    "go": _Stack("a Go app", "go.mod", go.detect, go.generate),
    "static": _Stack("a static site", "index.html or public/index.html", static.detect, static.generate),
}


def recipe(root: Path, builder: str, dockerfile_path: str, overrides: Overrides,
           images: Mapping[str, str], build_args: Sequence[str] = ()) -> Recipe:
    """How to build the checkout at `root` (rootDirectory applied): its Dockerfile, or a generated one.

    `images` comes from `base_images`; `build_args` are the NAMES of the app's build-time variables
    (declared as ARG so build steps see them; their values never enter the Dockerfile)."""
    if builder not in BUILDERS:
        raise InvalidInput(f"builder: must be one of {', '.join(BUILDERS)}")
    repo = Repo(root)
    processes = procfile.parse(repo.text("Procfile") or "")
    release = overrides.release_command or processes.get("release", "")
    notes = []
    if release:
        notes.append(f"release: {release} (from {'releaseCommand' if overrides.release_command else 'Procfile'})")
    if builder in ("auto", "dockerfile"):
        if _has_dockerfile(repo, dockerfile_path):
            return Recipe("dockerfile", "", release, (f"Dockerfile at {dockerfile_path}, built as it is", *notes))
        if builder == "dockerfile":
            raise Unbuildable(
                f"the app's builder is 'dockerfile' but there is no Dockerfile at {dockerfile_path} in the build"
                " root: add it, fix dockerfilePath, or set builder to auto to detect the stack"
            )
        name = next((name for name, stack in _STACKS.items() if stack.detect(repo)), "")
        if not name:
            raise Unbuildable(_nothing_found(dockerfile_path))
    else:
        name = builder
        if not _STACKS[name].detect(repo):
            raise Unbuildable(
                f"the app's builder is '{name}' but the build root has no {_STACKS[name].looked_for}:"
                " add it, add a Dockerfile, or set the app's builder to auto"
            )
    start, source = overrides.start_command, "startCommand"
    if not start and processes.get("web"):
        start, source = processes["web"], "Procfile web:"
    inputs = Inputs(repo, images, tuple(build_args), overrides.build_command, start, source)
    generated = _STACKS[name].generate(inputs)
    skipped = dockerfile.skipped_args(build_args)
    if skipped:
        notes.append(f"build-time variables left out (not valid ARG names): {', '.join(map(repr, skipped))}")
    findings = (*generated.findings, *notes)
    text = dockerfile.text([*dockerfile.header(_STACKS[name].title, findings), *generated.lines])
    return Recipe(name, text, release, findings)


def _has_dockerfile(repo: Repo, path: str) -> bool:
    relative = PurePosixPath(path)
    if not path or relative.is_absolute() or ".." in relative.parts:
        raise Unbuildable(f"dockerfilePath {path!r} must be a relative path inside the build root")
    return repo.has(path)


def _nothing_found(dockerfile_path: str) -> str:
    looked = "; ".join(f"{stack.looked_for} ({stack.title})" for stack in _STACKS.values())
    return (
        f"Mist found nothing it knows how to build: no Dockerfile at {dockerfile_path}, and none of {looked}"
        " in the build root. Add a Dockerfile to the repository, or set the app's builder"
        f" ({', '.join(b for b in BUILDERS if b != 'auto')}) and what it needs"
    )
