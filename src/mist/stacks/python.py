"""Python apps: requirements.txt, pyproject.toml (with uv, Poetry or PDM locks) or Pipfile."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from mist.errors import Unbuildable
from mist.stacks import dockerfile
from mist.stacks.dockerfile import PORT
from mist.stacks.files import Repo
from mist.stacks.images import image
from mist.stacks.inputs import Generated, Inputs
from mist.stacks.versions import PYTHON_PREFERENCE, dotted, pick

MANIFESTS = ("requirements.txt", "pyproject.toml", "Pipfile")
DEFAULT_VERSION = "3.12"

VENV = "/opt/venv"  # the app's environment, first on PATH
TOOLS = "/opt/mist-tools"  # uv, Poetry, PDM or Pipenv: kept out of the app's environment

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ASGI_APP = re.compile(r"^app\s*(?::[^=\n]*)?=\s*(?:[A-Za-z_][\w.]*\.)?(FastAPI|Starlette)\s*\(", re.M)
_FLASK_APP = re.compile(r"^app\s*(?::[^=\n]*)?=\s*(?:[A-Za-z_][\w.]*\.)?Flask\s*\(", re.M)
_FLASK_FACTORY = re.compile(r"^def create_app\s*\(", re.M)
_SETTINGS = re.compile(r"DJANGO_SETTINGS_MODULE['\"]\s*,\s*['\"]([A-Za-z_][A-Za-z0-9_.]*)['\"]")
_WSGI_APPLICATION = re.compile(r"^WSGI_APPLICATION\s*=\s*['\"]([A-Za-z_][A-Za-z0-9_.]*)\.([A-Za-z_]\w*)['\"]", re.M)
# Where an app object usually lives; other modules are searched after these.
_USUAL_MODULES = ("main.py", "app.py", "server.py", "api.py", "asgi.py", "wsgi.py", "application.py")


def detect(repo: Repo) -> bool:
    return any(repo.has(name) for name in MANIFESTS)


def generate(inputs: Inputs) -> Generated:
    repo, out = inputs.repo, Generated()
    pyproject = repo.toml("pyproject.toml") or {}
    pipfile = repo.toml("Pipfile") or {}
    version = _version(repo, pyproject, pipfile, out.findings)
    install, before_code, after_code, names = _install(repo, pyproject, pipfile, out.findings)
    start, server = _start(inputs, names, out.findings)

    lines = out.lines
    lines += [
        f"FROM {image(inputs.images, 'python', version)}",
        "# Output straight to the deployment log; no .pyc files written at run time.",
        "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1",
        *dockerfile.build_args(inputs.build_args),
        "WORKDIR /app",
        "# The app's own virtual environment, first on PATH: `python3` and `pip` below are its own.",
        f"RUN python3 -m venv {VENV}",
        f"ENV VIRTUAL_ENV={VENV} PATH={VENV}/bin:$PATH",
        *install,
        "# Dependencies first, then the code: a change to the code alone reuses the layers above.",
        *before_code,
    ]
    if server:
        lines += [f"# {server} serves the app and is not among its dependencies.",
                  f"RUN python3 -m pip install {server}"]
    lines += ["COPY . .", *after_code]
    if inputs.build_command:
        lines += ["# The app's buildCommand.", f"RUN {inputs.build_command}"]
    lines.append(start)
    return out


def _version(repo: Repo, pyproject: dict[str, Any], pipfile: dict[str, Any], findings: list[str]) -> str:
    """The minor version to build with, and a finding saying where it came from."""
    declared: list[tuple[str, str]] = []  # (where, what it says), most specific first
    text = repo.text(".python-version")
    if text is not None:
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        declared.append((".python-version", lines[0] if lines else ""))
    text = repo.text("runtime.txt")
    if text is not None:
        declared.append(("runtime.txt", text.strip().removeprefix("python-")))
    requires = pipfile.get("requires", {})
    if isinstance(requires, dict) and isinstance(requires.get("python_version"), str):
        declared.append(("Pipfile [requires]", requires["python_version"]))
    project = pyproject.get("project", {})
    if isinstance(project, dict) and isinstance(project.get("requires-python"), str):
        declared.append(("requires-python in pyproject.toml", project["requires-python"]))
    poetry = _table(pyproject, "tool", "poetry", "dependencies")
    if isinstance(poetry.get("python"), str):
        declared.append(("tool.poetry.dependencies.python in pyproject.toml", poetry["python"]))
    for where, what in declared:
        exact = re.match(r"^(?:python|cpython)?-?(\d+)\.(\d+)(?:\.\d+)?$", what)
        if exact:
            version = f"{exact.group(1)}.{exact.group(2)}"
            findings.append(f"Python {version} (from {where})")
            return version
        chosen = pick(what, PYTHON_PREFERENCE)
        if chosen:
            findings.append(f"Python {dotted(chosen)} (from {where}: {what!r}, the preferred version it allows)")
            return dotted(chosen)
        findings.append(f"{where}: {what!r} names no Python version Mist can pick; ignored")
    findings.append(f"Python {DEFAULT_VERSION} (the default: no .python-version, runtime.txt or requires-python)")
    return DEFAULT_VERSION


def _table(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = document.get(key)
        if not isinstance(value, dict):
            return {}
        document = value
    return document


def _names(requirements: list[str]) -> set[str]:
    """Normalized distribution names (PEP 503) of requirement strings."""
    names = set()
    for requirement in requirements:
        match = _NAME.match(requirement)
        if match and not requirement.lstrip().startswith(("-", "#")):
            names.add(re.sub(r"[-_.]+", "-", match.group(1)).lower())
    return names


Install = tuple[list[str], list[str], list[str], set[str]]  # tools, before the code, after it, names


def _install(repo: Repo, pyproject: dict[str, Any], pipfile: dict[str, Any], findings: list[str]) -> Install:
    if repo.has("requirements.txt"):
        return _requirements(repo, findings)
    poetry = bool(_table(pyproject, "tool", "poetry"))
    is_project = poetry or any(key in pyproject for key in ("project", "build-system"))
    if repo.has("pyproject.toml") and (is_project or not repo.has("Pipfile")):
        return _pyproject(repo, pyproject, findings)
    return _pipfile(repo, pipfile, findings)


def _requirements(repo: Repo, findings: list[str]) -> Install:
    """pip install -r requirements.txt, with the files it includes (-r, -c) copied alongside.

    A requirement on local code (`-e .`, `./lib`) needs the code, so then the install comes after
    the code is copied, and a code change reinstalls everything."""
    files: list[str] = []
    pending, lines, local = ["requirements.txt"], [], False
    while pending and len(files) < 20:
        name = pending.pop(0)
        if name in files:
            continue
        text = repo.text(name)
        if text is None:
            raise Unbuildable(f"'{name}' is included by a requirements file but is not in the repository")
        files.append(name)
        for raw in text.splitlines():
            line = raw.split(" #")[0].strip()
            lines.append(line)
            included = re.match(r"^(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)$", line)
            if included:
                path = PurePosixPath(name).parent / included.group(1)  # pip reads it from the includer's dir
                if path.is_absolute() or ".." in path.parts:
                    local = True
                else:
                    pending.append(str(path))
            elif re.match(r"^(-e|--editable)\b|^(\.|/|file:)", line):
                local = True
    install = ["RUN python3 -m pip install -r requirements.txt"]
    if local:
        findings.append("dependencies: requirements.txt with pip (it names local code: installed after the code)")
        after = ["# requirements.txt names local code, which must be copied first.", *install]
        return [], [], after, _names(lines)
    findings.append(f"dependencies: {', '.join(files)} with pip")
    return [], [dockerfile.copy(files), *install], [], _names(lines)


def _tool(name: str) -> list[str]:
    return [
        f"# {name}, for the locked install, in an environment of its own (not part of the app's).",
        f"RUN python3 -m venv {TOOLS} && {TOOLS}/bin/python3 -m pip install {name.lower()}",
    ]


def _pyproject(repo: Repo, pyproject: dict[str, Any], findings: list[str]) -> Install:
    project = _table(pyproject, "project")
    listed = [d for d in project.get("dependencies", []) if isinstance(d, str)]
    names = _names(listed) | {n for n in _table(pyproject, "tool", "poetry", "dependencies") if n != "python"}
    names = {re.sub(r"[-_.]+", "-", n).lower() for n in names}
    if repo.has("uv.lock"):
        findings.append("dependencies: pyproject.toml + uv.lock with uv (uv sync --locked)")
        uv = f"{TOOLS}/bin/uv sync --locked --no-dev"
        return (
            [*_tool("uv"), f"ENV UV_PROJECT_ENVIRONMENT={VENV} UV_PYTHON_DOWNLOADS=never"],
            ["COPY pyproject.toml uv.lock ./", f"RUN {uv} --no-install-project"],
            # --inexact: keep what was installed beside the lock (the server, if Mist added one).
            ["# Now the project itself.", f"RUN {uv} --inexact"],
            names,
        )
    if repo.has("poetry.lock"):
        findings.append("dependencies: pyproject.toml + poetry.lock with Poetry (poetry install --only main)")
        poetry = f"{TOOLS}/bin/poetry install --only main --no-interaction"
        return (
            [*_tool("Poetry"), "# Poetry installs into the active environment, the app's.",
             "ENV POETRY_VIRTUALENVS_CREATE=false"],
            ["COPY pyproject.toml poetry.lock ./", f"RUN {poetry} --no-root"],
            ["# Now the project itself.", f"RUN {poetry}"],
            names,
        )
    if repo.has("pdm.lock"):
        findings.append("dependencies: pyproject.toml + pdm.lock with PDM (pdm sync --prod)")
        pdm = f"{TOOLS}/bin/pdm sync --prod"
        return (
            [*_tool("PDM"), "ENV PDM_CHECK_UPDATE=false"],
            ["COPY pyproject.toml pdm.lock ./", f"RUN {pdm} --no-self"],
            ["# Now the project itself.", f"RUN {pdm}"],
            names,
        )
    return _pyproject_pip(repo, pyproject, listed, names, findings)


def _pyproject_pip(
    repo: Repo, pyproject: dict[str, Any], listed: list[str], names: set[str], findings: list[str]
) -> Install:
    """No lock: `pip install .`. That needs the code, so the dependencies [project] lists are
    installed first, from what pyproject.toml says (no code of the repository runs to know them)."""
    project = _table(pyproject, "project")
    packaged = "build-system" in pyproject or repo.has("setup.py") or repo.has("setup.cfg")
    before: list[str] = []
    if "dependencies" in project.get("dynamic", []):
        before = ["# The dependencies are dynamic (computed by the build backend): `pip install .` installs them."]
    elif listed:
        then = ", before the code: `pip install .` below finds them installed" if packaged else (
            " (no [build-system]: the project itself is not a package to install)")
        before = [
            f"# The dependencies pyproject.toml's [project] lists{then}.",
            f"RUN python3 -m pip install {' '.join(dockerfile.quote(d) for d in listed)}",
        ]
    elif _table(pyproject, "tool", "poetry", "dependencies"):
        before = ["# Poetry's dependencies are read by its build backend only: `pip install .` installs them."]
    if packaged:
        findings.append("dependencies: pyproject.toml with pip (no lock file: pip install .)")
        return [], before, ["RUN python3 -m pip install ."], names
    findings.append("dependencies: pyproject.toml's [project].dependencies with pip (no [build-system]: not a package)")
    return [], before, [], names


def _pipfile(repo: Repo, pipfile: dict[str, Any], findings: list[str]) -> Install:
    names = {re.sub(r"[-_.]+", "-", n).lower() for n in _table(pipfile, "packages")}
    if repo.has("Pipfile.lock"):
        findings.append("dependencies: Pipfile + Pipfile.lock with Pipenv (pipenv install --deploy)")
        copied, command = "COPY Pipfile Pipfile.lock ./", f"RUN {TOOLS}/bin/pipenv install --deploy"
    else:
        findings.append("dependencies: Pipfile with Pipenv (no Pipfile.lock: resolved at build time)")
        copied, command = "COPY Pipfile ./", f"RUN {TOOLS}/bin/pipenv install"
    return [*_tool("Pipenv"), "# Pipenv installs into the active environment, the app's."], [copied, command], [], names


def _start(inputs: Inputs, names: set[str], findings: list[str]) -> tuple[str, str]:
    """The CMD line, and the server to install when the inferred command needs one not listed."""
    if inputs.start_command:
        findings.append(f"start: {inputs.start_command} (from {inputs.start_source})")
        return dockerfile.cmd(inputs.start_command, inferred=False), ""
    repo = inputs.repo
    command, server, why = "", "", ""
    if repo.has("manage.py") and "django" in names:
        target, where = _django_wsgi(repo)
        command, server, why = f"gunicorn --bind 0.0.0.0:{PORT} {target}", "gunicorn", f"Django, {where}"
    elif names & {"fastapi", "starlette"}:
        found = _module(repo, lambda source: bool(_ASGI_APP.search(source)))
        if found:
            module, app_dir, _ = found
            where = f" --app-dir {app_dir}" if app_dir else ""
            command, server = f"uvicorn{where} {module}:app --host 0.0.0.0 --port {PORT}", "uvicorn"
            why = f"{'FastAPI' if 'fastapi' in names else 'Starlette'}, app defined in {module}"
    elif "flask" in names:
        found = _module(repo, lambda source: bool(_FLASK_APP.search(source) or _FLASK_FACTORY.search(source)))
        if found:
            module, app_dir, path = found
            target = f"{module}:app" if _FLASK_APP.search(repo.source(path)) else f"'{module}:create_app()'"
            where = f" --chdir {app_dir}" if app_dir else ""
            command, server = f"gunicorn{where} --bind 0.0.0.0:{PORT} {target}", "gunicorn"
            why = f"Flask, app in {module}"
    if not command:
        script = next((name for name in ("main.py", "app.py") if repo.has(name)), "")
        if not script:
            raise Unbuildable(
                "no start command found for this Python app: add a Procfile with a `web:` line, or set the"
                " app's startCommand (Mist infers Django, FastAPI, Starlette and Flask apps, or runs main.py"
                " or app.py)"
            )
        command, why = f"python3 {script}", f"{script} at the root"
    findings.append(f"start: {command} ({why})")
    if server and server in names:
        server = ""
    elif server:
        findings.append(f"{server} is installed to serve the app (not among its dependencies)")
    return dockerfile.cmd(command, inferred=True), server


def _django_wsgi(repo: Repo) -> tuple[str, str]:
    """`module:attribute` of the WSGI application: WSGI_APPLICATION in the settings manage.py
    names, else the one package holding a wsgi.py."""
    settings = _SETTINGS.search(repo.source("manage.py"))
    if settings:
        path = settings.group(1).replace(".", "/")
        candidates = [f"{path}.py", f"{path}/__init__.py", *(f"{path}/{f}" for f in repo.files(path, ".py"))]
        for candidate in candidates:
            wsgi = _WSGI_APPLICATION.search(repo.source(candidate))
            if wsgi:
                return f"{wsgi.group(1)}:{wsgi.group(2)}", f"WSGI_APPLICATION in {candidate}"
    packages = [d for d in repo.dirs() if "wsgi.py" in repo.files(d, ".py") and _MODULE.match(d)]
    if len(packages) == 1:
        return f"{packages[0]}.wsgi:application", f"{packages[0]}/wsgi.py"
    raise Unbuildable(
        "a Django project, but Mist found no single WSGI module (WSGI_APPLICATION in the settings, or one"
        " package with a wsgi.py): add a Procfile with a `web:` line, or set the app's startCommand"
    )


def _module(repo: Repo, defines_app: Callable[[str], bool]) -> tuple[str, str, str] | None:
    """(module, directory to run from or "", file) of the first module where `defines_app(source)`:
    root modules first, then one directory down, then a src/ layout; usual names first."""

    def ordered(names: list[str]) -> list[str]:
        return sorted(names, key=lambda n: (_USUAL_MODULES.index(n) if n in _USUAL_MODULES else len(_USUAL_MODULES), n))

    places: list[tuple[str, str]] = [("", "")]  # (directory, the app dir it needs)
    places += [(d, "") for d in repo.dirs() if d != "src"]
    places += [(f"src/{d}", "src") for d in repo.dirs("src")]
    for directory, app_dir in places:
        for name in ordered(repo.files(directory, ".py")):
            path = f"{directory}/{name}" if directory else name
            module = path.removeprefix(f"{app_dir}/" if app_dir else "").removesuffix(".py").replace("/", ".")
            if _MODULE.match(module) and defines_app(repo.source(path)):
                return module, app_dir, path
    return None
