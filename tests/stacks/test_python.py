"""Python detection: manifests → install steps, version, start command (a table of small repositories)."""

from __future__ import annotations

import pytest

from mist.errors import Unbuildable
from mist.stacks import Overrides
from stacks.repos import Build, assert_in_order, assert_parseable, instructions

FLASK_APP = "from flask import Flask\napp = Flask(__name__)\n"
GUNICORN = "exec gunicorn --bind 0.0.0.0:${PORT:-8080}"
VENV = ["RUN python3 -m venv /opt/venv", "ENV VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH"]


def cmd(command: str) -> str:
    return f'CMD ["sh", "-c", "{command}"]'


INSTALLS = [
    pytest.param(
        {"requirements.txt": "flask\ngunicorn\n", "app.py": FLASK_APP},
        ["COPY requirements.txt ./", "RUN python3 -m pip install -r requirements.txt", "COPY . ."],
        "dependencies: requirements.txt with pip", id="requirements",
    ),
    pytest.param(
        {"requirements.txt": "-r base.txt\n-c constraints/pins.txt\n", "base.txt": "flask\n",
         "constraints/pins.txt": "flask==3.0\n", "app.py": FLASK_APP},
        ["COPY requirements.txt base.txt constraints/pins.txt ./",
         "RUN python3 -m pip install -r requirements.txt", "COPY . ."],
        "requirements.txt, base.txt, constraints/pins.txt", id="requirements-includes",
    ),
    pytest.param(
        {"requirements.txt": "flask\n-e .\n", "setup.py": "", "app.py": FLASK_APP},
        ["COPY . .", "RUN python3 -m pip install -r requirements.txt"],
        "names local code", id="requirements-local-code",
    ),
    pytest.param(
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask>=3", "gunicorn"]\n'
                           '[build-system]\nrequires = ["setuptools"]\n', "app.py": FLASK_APP},
        ["RUN python3 -m pip install 'flask>=3' gunicorn", "COPY . .", "RUN python3 -m pip install ."],
        "pyproject.toml with pip (no lock file: pip install .)", id="pyproject-pip",
    ),
    pytest.param(
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask", "gunicorn"]\n', "app.py": FLASK_APP},
        ["RUN python3 -m pip install flask gunicorn", "COPY . .", cmd(f"{GUNICORN} app:app")],
        "no [build-system]: not a package", id="pyproject-not-a-package",
    ),
    pytest.param(
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask"]\n', "uv.lock": "version = 1\n",
         "app.py": FLASK_APP},
        ["RUN python3 -m venv /opt/mist-tools && /opt/mist-tools/bin/python3 -m pip install uv",
         "ENV UV_PROJECT_ENVIRONMENT=/opt/venv UV_PYTHON_DOWNLOADS=never",
         "COPY pyproject.toml uv.lock ./", "RUN /opt/mist-tools/bin/uv sync --locked --no-dev --no-install-project",
         "RUN python3 -m pip install gunicorn", "COPY . .",
         "RUN /opt/mist-tools/bin/uv sync --locked --no-dev --inexact"],
        "pyproject.toml + uv.lock with uv", id="uv",
    ),
    pytest.param(
        {"pyproject.toml": '[tool.poetry]\nname = "x"\n[tool.poetry.dependencies]\npython = "^3.11"\nflask = "*"\n',
         "poetry.lock": "", "app.py": FLASK_APP},
        ["FROM python:3.12-slim", "ENV POETRY_VIRTUALENVS_CREATE=false", "COPY pyproject.toml poetry.lock ./",
         "RUN /opt/mist-tools/bin/poetry install --only main --no-interaction --no-root", "COPY . .",
         "RUN /opt/mist-tools/bin/poetry install --only main --no-interaction"],
        "poetry.lock with Poetry", id="poetry",
    ),
    pytest.param(
        {"pyproject.toml": '[project]\nname = "x"\ndependencies = ["flask"]\n', "pdm.lock": "", "app.py": FLASK_APP},
        ["COPY pyproject.toml pdm.lock ./", "RUN /opt/mist-tools/bin/pdm sync --prod --no-self", "COPY . .",
         "RUN /opt/mist-tools/bin/pdm sync --prod"],
        "pdm.lock with PDM", id="pdm",
    ),
    pytest.param(
        {"Pipfile": '[packages]\nflask = "*"\n[requires]\npython_version = "3.11"\n', "Pipfile.lock": "{}",
         "app.py": FLASK_APP},
        ["FROM python:3.11-slim", "COPY Pipfile Pipfile.lock ./", "RUN /opt/mist-tools/bin/pipenv install --deploy",
         "COPY . ."],
        "Pipfile + Pipfile.lock with Pipenv", id="pipenv",
    ),
    pytest.param(
        {"Pipfile": '[packages]\nflask = "*"\n', "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
         "app.py": FLASK_APP},
        ["COPY Pipfile ./", "RUN /opt/mist-tools/bin/pipenv install", "COPY . ."],
        "no Pipfile.lock", id="pipenv-beside-a-tools-only-pyproject",
    ),
]


@pytest.mark.parametrize(("files", "lines", "finding"), INSTALLS)
def test_dependencies_are_installed_before_the_code(build: Build, files: dict[str, str], lines: list[str],
                                                    finding: str) -> None:
    found = build(files)
    assert found.builder == "python"
    assert_parseable(found.dockerfile)
    base = [line for line in lines if line.startswith("FROM ")]
    steps = [line for line in lines if not line.startswith("FROM ")]
    assert_in_order(found.dockerfile, *base, "ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1"
                    " PIP_DISABLE_PIP_VERSION_CHECK=1", *VENV, *steps)
    assert any(finding in f for f in found.findings), found.findings


VERSIONS = [
    ({".python-version": "3.11.4\n"}, "3.11", "from .python-version"),
    ({".python-version": "# pinned\n3.13\n"}, "3.13", "from .python-version"),
    ({"runtime.txt": "python-3.10.2\n"}, "3.10", "from runtime.txt"),
    ({"pyproject.toml": '[project]\nname="x"\nrequires-python = ">=3.11"\n'}, "3.12", "'>=3.11'"),
    ({"pyproject.toml": '[project]\nname="x"\nrequires-python = ">=3.13"\n'}, "3.13", "'>=3.13'"),
    ({"pyproject.toml": '[project]\nname="x"\nrequires-python = ">=3.8,<3.11"\n'}, "3.10", "'>=3.8,<3.11'"),
    ({".python-version": "pypy3.10\n"}, "3.12", "names no Python version"),
    ({}, "3.12", "the default"),
]


@pytest.mark.parametrize(("files", "version", "finding"), VERSIONS)
def test_the_python_version_comes_from_the_repository(build: Build, files: dict[str, str], version: str,
                                                     finding: str) -> None:
    found = build({"requirements.txt": "", "main.py": "", **files})
    assert instructions(found.dockerfile)[0] == f"FROM python:{version}-slim"
    assert any(finding in f for f in found.findings), found.findings


def test_the_version_goes_into_a_configured_image_and_one_without_it_is_used_as_is(build: Build) -> None:
    files = {"requirements.txt": "", "main.py": "", ".python-version": "3.11\n"}
    found = build(files, images={"python": "registry.local/py:{version}"})
    assert instructions(found.dockerfile)[0] == "FROM registry.local/py:3.11"
    found = build(files, images={"python": "mist-test-python"})
    assert instructions(found.dockerfile)[0] == "FROM mist-test-python"


DJANGO_MANAGE = "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"

STARTS = [
    pytest.param(
        {"requirements.txt": "django\ngunicorn\n", "manage.py": DJANGO_MANAGE,
         "mysite/settings.py": "WSGI_APPLICATION = 'mysite.wsgi.application'\n", "mysite/wsgi.py": ""},
        f"{GUNICORN} mysite.wsgi:application", "", "WSGI_APPLICATION in mysite/settings.py",
        id="django-settings",
    ),
    pytest.param(
        {"requirements.txt": "Django==5.0\n", "manage.py": "os.environ['DJANGO_SETTINGS_MODULE'] = 'x'\n",
         "config/wsgi.py": "", "config/settings.py": ""},
        f"{GUNICORN} config.wsgi:application", "gunicorn", "config/wsgi.py",
        id="django-wsgi-package",
    ),
    pytest.param(
        {"requirements.txt": "django\n", "manage.py": DJANGO_MANAGE,
         "mysite/settings/__init__.py": "", "mysite/settings/base.py": "WSGI_APPLICATION = \"mysite.wsgi.app\"\n"},
        f"{GUNICORN} mysite.wsgi:app", "gunicorn", "mysite/settings/base.py",
        id="django-settings-package",
    ),
    pytest.param(
        {"requirements.txt": "fastapi\nuvicorn[standard]\n", "helpers.py": "x = 1\n",
         "service/main.py": "from fastapi import FastAPI\napp = FastAPI()\n"},
        "exec uvicorn service.main:app --host 0.0.0.0 --port ${PORT:-8080}", "", "FastAPI, app defined in service.main",
        id="fastapi-in-a-package",
    ),
    pytest.param(
        {"requirements.txt": "starlette\n", "server.py": "app: Starlette = starlette.applications.Starlette()\n"},
        "exec uvicorn server:app --host 0.0.0.0 --port ${PORT:-8080}", "uvicorn", "Starlette, app defined in server",
        id="starlette",
    ),
    pytest.param(
        {"pyproject.toml": '[project]\nname="x"\ndependencies=["fastapi"]\n',
         "src/shop/api.py": "app = FastAPI(title='shop')\n"},
        "exec uvicorn --app-dir src shop.api:app --host 0.0.0.0 --port ${PORT:-8080}", "uvicorn", "shop.api",
        id="fastapi-src-layout",
    ),
    pytest.param(
        {"requirements.txt": "flask\n", "app.py": FLASK_APP},
        f"{GUNICORN} app:app", "gunicorn", "Flask, app in app", id="flask",
    ),
    pytest.param(
        {"requirements.txt": "Flask\n", "web/factory.py": "def create_app():\n    pass\n"},
        f"{GUNICORN} 'web.factory:create_app()'", "gunicorn", "Flask",
        id="flask-factory",
    ),
    pytest.param(
        {"requirements.txt": "requests\n", "main.py": "print('hi')\n", "app.py": ""},
        "exec python3 main.py", "", "main.py at the root", id="main-py",
    ),
    pytest.param(
        {"requirements.txt": "fastapi\n", "app.py": "import uvicorn\n"},
        "exec python3 app.py", "", "app.py at the root", id="fastapi-without-app-object-falls-back",
    ),
    pytest.param(
        {"requirements.txt": "flask\n", "app.py": FLASK_APP, "Procfile": "web: gunicorn -w 4 app:app\nworker: x\n"},
        "gunicorn -w 4 app:app", "", "from Procfile web:", id="procfile",
    ),
]


@pytest.mark.parametrize(("files", "command", "installed", "finding"), STARTS)
def test_the_start_command_is_inferred(build: Build, files: dict[str, str], command: str, installed: str,
                                       finding: str) -> None:
    found = build(files)
    assert instructions(found.dockerfile)[-1] == cmd(command)
    servers = ("RUN python3 -m pip install gunicorn", "RUN python3 -m pip install uvicorn")
    server_installs = [line for line in found.dockerfile.splitlines() if line in servers]
    if installed:
        # Installed with the dependencies, before the code: a code change does not reinstall it.
        assert server_installs == [f"RUN python3 -m pip install {installed}"], found.dockerfile
        assert_in_order(found.dockerfile, f"RUN python3 -m pip install {installed}", "COPY . .")
    else:
        assert not server_installs, found.dockerfile
    assert any(finding in f for f in found.findings), found.findings


def test_the_start_command_override_wins_over_the_procfile(build: Build) -> None:
    found = build({"requirements.txt": "", "main.py": "", "Procfile": "web: python3 main.py\n"},
                  overrides=Overrides(start_command="python3 -m myapp --port $PORT"))
    assert instructions(found.dockerfile)[-1] == cmd("python3 -m myapp --port $PORT")
    assert "start: python3 -m myapp --port $PORT (from startCommand)" in found.findings


def test_a_build_command_runs_after_the_code_is_copied(build: Build) -> None:
    found = build({"requirements.txt": "", "main.py": ""},
                  overrides=Overrides(build_command="python3 manage.py collectstatic --noinput"))
    assert_in_order(found.dockerfile, "COPY . .", "RUN python3 manage.py collectstatic --noinput",
                    cmd("exec python3 main.py"))


def test_build_args_are_declared_by_name_before_the_install(build: Build) -> None:
    found = build({"requirements.txt": "flask\n", "main.py": ""}, build_args=["PIP_INDEX_URL", "SENTRY_DSN"])
    assert_in_order(found.dockerfile, "ARG PIP_INDEX_URL", "ARG SENTRY_DSN",
                    "RUN python3 -m pip install -r requirements.txt")


@pytest.mark.parametrize(("files", "message"), [
    ({"requirements.txt": "requests\n", "worker.py": ""}, "no start command found for this Python app"),
    ({"requirements.txt": "django\n", "manage.py": "", "a/wsgi.py": "", "b/wsgi.py": ""}, "no single WSGI module"),
    ({"requirements.txt": "-r missing.txt\n", "main.py": ""}, "'missing.txt' is included by a requirements file"),
])
def test_what_cannot_be_inferred_is_said(build: Build, files: dict[str, str], message: str) -> None:
    with pytest.raises(Unbuildable, match=message) as error:
        build(files)
    assert "startCommand" in error.value.message or "missing.txt" in error.value.message
