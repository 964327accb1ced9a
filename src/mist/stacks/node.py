"""Node.js apps: package.json, installed with the package manager its lockfile belongs to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mist.errors import Unbuildable
from mist.stacks import dockerfile, static
from mist.stacks.files import Repo
from mist.stacks.images import image
from mist.stacks.inputs import Generated, Inputs
from mist.stacks.versions import NODE_PREFERENCE, dotted, pick

DEFAULT_VERSION = "22"
# Where a front-end build tool writes the site: Vite and Astro dist/, Create React App build/,
# Next.js export out/, others public/. The first holding an index.html is served.
OUTPUT_DIRS = ("dist", "build", "out", "public")


@dataclass(frozen=True)
class Manager:
    name: str
    lockfile: str  # "" when the repository has none
    setup: tuple[str, ...]  # Dockerfile lines making the manager available
    install: str
    run: str  # runs a package.json script: f"{run} build"
    start: str
    extra: tuple[str, ...] = ()  # its configuration files, copied with the manifests


_COREPACK = (
    "# Corepack (shipped with Node.js) provides pnpm and Yarn, at the version packageManager pins.",
    "ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0",
    "RUN corepack enable",
)
_LOCKFILES = (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("bun.lockb", "bun"), ("bun.lock", "bun"),
              ("package-lock.json", "npm"), ("npm-shrinkwrap.json", "npm"))


def detect(repo: Repo) -> bool:
    return repo.has("package.json")


def generate(inputs: Inputs) -> Generated:
    repo, out = inputs.repo, Generated()
    package = repo.json("package.json") or {}
    version = _version(repo, package, out.findings)
    manager = _manager(repo, package, out.findings)
    scripts = {k: v for k, v in (package.get("scripts") or {}).items() if isinstance(v, str)}
    build = inputs.build_command or (f"{manager.run} build" if "build" in scripts else "")
    if build:
        where = "buildCommand" if inputs.build_command else "the build script of package.json"
        out.findings.append(f"build: {build} (from {where})")
    start = _start(inputs, package, scripts, manager, out.findings)
    site = bool(build) and not start
    manifests = [m for m in ("package.json", manager.lockfile, ".npmrc", *manager.extra) if m and repo.has(m)]

    lines = out.lines
    lines += [
        f"FROM {image(inputs.images, 'node', version)}{' AS build' if site else ''}",
        *dockerfile.build_args(inputs.build_args),
        "WORKDIR /app",
        *manager.setup,
        "# Dependencies first, then the code: a change to the code alone reuses the layers above.",
        dockerfile.copy(manifests),
    ]
    if repo.has_dir(".yarn"):
        lines.append("COPY .yarn ./.yarn")  # Yarn's own release and plug-ins, named by .yarnrc.yml
    lines += [f"RUN {manager.install}", "COPY . ."]
    if build:
        lines.append(f"RUN {build}")
    if site:
        out.findings.append(
            "a static site: a build and no start script or server file; its output"
            f" ({', '.join(OUTPUT_DIRS)}: the first with an index.html) is served by Caddy"
        )
        missing = f"no index.html in {', '.join(d + '/' for d in OUTPUT_DIRS)} after the build"
        lines += [
            "# The build's output: the first of these directories that holds an index.html.",
            f"RUN for dir in {' '.join(OUTPUT_DIRS)}; do if [ -f \"$dir/index.html\" ]; then"
            f" mv \"$dir\" /site && exit 0; fi; done; echo '{missing}' >&2; exit 1",
            "",
            "# Only the built site is served, by Caddy; Node.js is not part of the image that runs.",
            *static.serve(inputs.images, "--from=build /site"),
        ]
        return out
    lines += [
        "# Set after the build: installs skip devDependencies with it, and builds often need them.",
        "ENV NODE_ENV=production",
        start,
    ]
    return out


def _version(repo: Repo, package: dict[str, Any], findings: list[str]) -> str:
    engines = package.get("engines")
    declared: list[tuple[str, str]] = []
    if isinstance(engines, dict) and isinstance(engines.get("node"), str):
        declared.append(("engines.node in package.json", engines["node"]))
    for name in (".nvmrc", ".node-version"):
        text = repo.text(name)
        if text is not None:
            declared.append((name, text.strip()))
    for where, what in declared:
        chosen = pick(what.removeprefix("v"), NODE_PREFERENCE)
        if chosen:
            findings.append(f"Node.js {dotted(chosen)} (from {where}: {what!r})")
            return dotted(chosen)
        findings.append(f"{where}: {what!r} names no Node.js version Mist can pick; ignored")
    findings.append(f"Node.js {DEFAULT_VERSION} (the default: no engines.node, .nvmrc or .node-version)")
    return DEFAULT_VERSION


def _manager(repo: Repo, package: dict[str, Any], findings: list[str]) -> Manager:
    """From the packageManager field, else the lockfile, else npm."""
    declared = package.get("packageManager")
    name, where = "", ""
    if isinstance(declared, str):
        name = declared.partition("@")[0]
        if name not in ("npm", "pnpm", "yarn", "bun"):
            findings.append(f"packageManager {declared!r} in package.json is not npm, pnpm, Yarn or Bun; ignored")
            name = ""
        else:
            where = "packageManager in package.json"
    locks = [(lock, owner) for lock, owner in _LOCKFILES if repo.has(lock)]
    if not name and locks:
        name, where = locks[0][1], locks[0][0]
    name, where = name or "npm", where or "no lockfile"
    lockfile = next((lock for lock, owner in locks if owner == name), "")
    if name == "pnpm":
        frozen = " --frozen-lockfile" if lockfile else ""
        manager = Manager("pnpm", lockfile, _COREPACK, f"pnpm install{frozen}", "pnpm run", "pnpm start",
                          ("pnpm-workspace.yaml", ".pnpmfile.cjs"))
    elif name == "yarn":
        berry = repo.has(".yarnrc.yml") or bool(re.match(r"yarn@[2-9]", str(declared)))
        frozen = (" --immutable" if berry else " --frozen-lockfile") if lockfile else ""
        manager = Manager("yarn", lockfile, _COREPACK, f"yarn install{frozen}", "yarn run", "yarn start",
                          (".yarnrc.yml", ".yarnrc"))
    elif name == "bun":
        frozen = " --frozen-lockfile" if lockfile else ""
        setup = ("# Bun is not part of the Node.js image: npm installs it.", "RUN npm install -g bun")
        manager = Manager("bun", lockfile, setup, f"bun install{frozen}", "bun run", "bun run start")
        findings.append("Bun is installed with npm (npm install -g bun) in the Node.js image")
    else:
        manager = Manager("npm", lockfile, (), "npm ci" if lockfile else "npm install", "npm run", "npm start")
    locked = f"frozen {lockfile}" if lockfile else "no lockfile"
    findings.append(f"package manager: {manager.name} (from {where}; {manager.install}, {locked})")
    return manager


def _start(inputs: Inputs, package: dict[str, Any], scripts: dict[str, str], manager: Manager,
           findings: list[str]) -> str:
    """The CMD line; "" when nothing starts a server (then a build makes it a static site)."""
    if inputs.start_command:
        findings.append(f"start: {inputs.start_command} (from {inputs.start_source})")
        return dockerfile.cmd(inputs.start_command, inferred=False)
    repo = inputs.repo
    main = package.get("main")
    # `npm init` writes "main": "index.js" whether or not there is one: only a real file counts then.
    if isinstance(main, str) and main and (main != "index.js" or repo.has(main)):
        command, why = f"node {dockerfile.quote(main)}", "main in package.json"
    else:
        command, why = "", ""
    if "start" in scripts:
        command, why = manager.start, "the start script of package.json"
    elif not command:
        script = next((name for name in ("index.js", "server.js") if repo.has(name)), "")
        command, why = (f"node {script}", f"{script} at the root") if script else ("", "")
    if not command:
        if "build" in scripts or inputs.build_command:
            return ""
        raise Unbuildable(
            "no start command found for this Node.js app: add a start script to package.json, a main file,"
            " index.js or server.js, a Procfile with a `web:` line, or set the app's startCommand"
        )
    findings.append(f"start: {command} (from {why})")
    return dockerfile.cmd(command, inferred=True)
