"""`mist projects`, `mist apps create|delete|dockerfile` and `mist domains` against a real `mist serve`
(and its Caddy), run as a user runs them: a subprocess. Nothing here deploys, so no engine is used."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import CLI, cli_env
from support.client import MistClient
from support.engine import engineless_servers
from support.gitserver import GitServer
from support.server import MistServer

REPO = "https://git.example.test/acme/shop.git"

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def server_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., MistServer]]:
    """A real server with its own Caddy and no engine (as tests/security has it): these commands
    only write rows and routes, and a server that reached the machine's engine would clean up
    containers of other suites running there."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start


@pytest.fixture
def cli(tmp_path: Path, server: MistServer, token: str) -> Run:
    """`cli(*args, input=None)`: run `mist ARGS...` with MIST_URL/MIST_TOKEN; `input` is its stdin."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [*CLI, *args], env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=token),
            input=input, stdin=subprocess.DEVNULL if input is None else None,
            capture_output=True, text=True, timeout=120,
        )
        print(f"$ mist {' '.join(args)}  -> {proc.returncode}\n{proc.stdout}{proc.stderr}")
        assert "Traceback" not in proc.stderr
        return proc

    return run


def app_named(owner: MistClient, name: str) -> dict | None:
    for project in owner.get("/api/projects/getAll")["data"]:
        for app in owner.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"]:
            if app["name"] == name:
                return owner.post("/api/apps/getById", {"appId": app["id"]})["data"]
    return None


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines() if line.strip()]


# ---------------------------------------------------------------------------- projects


def test_projects_create_list_and_delete(owner: MistClient, cli: Run) -> None:
    empty = cli("projects")
    assert empty.returncode == 0 and "no projects yet: mist projects create NAME" in empty.stdout

    made = cli("projects", "create", "shop", "--description", "the web shop")
    assert made.returncode == 0, made.stderr
    shop = owner.get("/api/projects/getAll")["data"][0]
    assert (shop["name"], shop["description"]) == ("shop", "the web shop")
    assert f"created project shop (id {shop['id']})" in made.stdout
    assert "next: mist apps create NAME --project shop --repo URL --port PORT" in made.stdout
    owner.app(shop["id"], "web", REPO, port=8000)

    listing = cli("projects", "list")
    assert listing.returncode == 0, listing.stderr
    assert [str(shop["id"]), "shop", "1", "1", "the", "web", "shop"] in rows(listing.stdout)
    assert cli("projects").stdout == listing.stdout  # `mist projects` alone lists

    # Project names need not be unique: a second "shop" is named by its id from then on.
    again = cli("projects", "create", "shop")
    assert again.returncode == 0, again.stderr
    second = max(owner.get("/api/projects/getAll")["data"], key=lambda p: p["id"])
    assert f"--project {second['id']} " in again.stdout and "refer to this one by its id" in again.stdout
    ambiguous = cli("projects", "delete", "shop", "--yes")
    assert ambiguous.returncode == 1
    assert (f"error: the project name 'shop' is ambiguous: projects {shop['id']}, {second['id']} have it"
            in ambiguous.stderr)

    # Without --yes it asks; anything but yes (or no terminal to answer) deletes nothing.
    for answer in (None, "", "n\n"):
        kept = cli("projects", "delete", str(shop["id"]), input=answer)
        assert kept.returncode == 1
        assert "Delete project shop" in kept.stderr and "1 app (web)" in kept.stderr
        assert "error: nothing deleted (answer y to confirm, or pass --yes)" in kept.stderr
        assert kept.stdout == ""
    assert len(owner.get("/api/projects/getAll")["data"]) == 2

    gone = cli("projects", "delete", str(shop["id"]), input="y\n")
    assert gone.returncode == 0, gone.stderr
    assert f"deleted project shop (id {shop['id']})" in gone.stdout
    assert [p["id"] for p in owner.get("/api/projects/getAll")["data"]] == [second["id"]]
    assert app_named(owner, "web") is None  # its apps went with it

    # Now one "shop" is left: its name is enough again.
    assert cli("projects", "delete", "shop", "--yes").returncode == 0
    assert owner.get("/api/projects/getAll")["data"] == []

    unknown = cli("projects", "delete", "nope", "--yes")
    assert unknown.returncode == 1
    assert "error: no project named 'nope': you see no projects on this server" in unknown.stderr


# ---------------------------------------------------------------------------- apps


def test_apps_create_sends_each_flag(owner: MistClient, cli: Run) -> None:
    project = owner.project("shop")
    made = cli(
        "apps", "create", "web", "--project", "shop", "--repo", REPO, "--branch", "prod", "--port", "8000",
        "--builder", "python", "--root-dir", "services/web", "--dockerfile", "docker/web.Dockerfile",
        "--build-command", "make assets", "--start-command", "gunicorn shop.wsgi",
        "--release-command", "python manage.py migrate",
    )
    assert made.returncode == 0, made.stderr
    app = app_named(owner, "web")
    assert app is not None
    assert app["projectId"] == project["id"] and app["appType"] == "web"
    assert (app["gitRepository"], app["gitBranch"], app["port"]) == (REPO, "prod", 8000)
    assert (app["rootDirectory"], app["dockerfilePath"]) == ("services/web", "docker/web.Dockerfile")
    assert app["builder"] == "python"
    assert (app["buildCommand"], app["startCommand"], app["releaseCommand"]) == (
        "make assets", "gunicorn shop.wsgi", "python manage.py migrate")
    assert f"created app web (id {app['id']}) in project shop" in made.stdout
    assert ["release", "command", "python", "manage.py", "migrate"] in rows(made.stdout)
    assert ["builder", "python"] in rows(made.stdout) and ["root", "directory", "services/web"] in rows(made.stdout)
    assert "mist domains add web DOMAIN" in made.stdout and "mist deploy web --follow" in made.stdout

    # Flags left out are not sent: the server's defaults apply. A service needs no port, and has no domains.
    service = cli("apps", "create", "worker", "--project", str(project["id"]), "--repo", REPO, "--type", "service")
    assert service.returncode == 0, service.stderr
    worker = app_named(owner, "worker")
    assert worker is not None
    assert (worker["appType"], worker["gitBranch"], worker["port"], worker["builder"]) == ("service", "main", None,
                                                                                          "auto")
    assert (worker["dockerfilePath"], worker["rootDirectory"], worker["startCommand"]) == ("Dockerfile", "", "")
    assert "mist domains add" not in service.stdout and "mist deploy worker --follow" in service.stdout

    # --template alone makes a database.
    database = cli("apps", "create", "db", "-p", "shop", "--template", "postgres")
    assert database.returncode == 0, database.stderr
    db = app_named(owner, "db")
    assert db is not None and (db["appType"], db["templateName"], db["port"]) == ("database", "postgres", 5432)
    assert ["template", "postgres"] in rows(database.stdout) and "builder" not in database.stdout

    # An app of the same name in another project: the next steps name the new one by id.
    owner.project("blog")
    twin = cli("apps", "create", "web", "--project", "blog", "--repo", REPO, "--port", "3000")
    assert twin.returncode == 0, twin.stderr
    twin_id = max(a["id"] for a in owner.post("/api/apps/getByProjectId", {"projectId": project["id"] + 1})["data"])
    assert f"mist domains add {twin_id} DOMAIN" in twin.stdout and f"mist deploy {twin_id} --follow" in twin.stdout


def test_apps_create_errors_are_one_line_and_write_nothing(owner: MistClient, cli: Run) -> None:
    project = owner.project("shop")
    owner.app(project["id"], "web", REPO, port=8000)

    def refused(*args: str) -> str:
        proc = cli("apps", "create", *args)
        assert proc.returncode != 0 and proc.stdout == ""
        return proc.stderr

    assert "error: no project named 'nope' (see `mist projects list`)" in refused(
        "api", "--project", "nope", "--repo", REPO, "--port", "80")
    assert "error: the project already has an application named 'web'" in refused(
        "web", "--project", "shop", "--repo", REPO, "--port", "80")
    assert "error: builder: must be one of" in refused(
        "api", "--project", "shop", "--repo", REPO, "--port", "80", "--builder", "nixpacks")
    assert "error: port: required for web apps" in refused("api", "--project", "shop", "--repo", REPO)
    assert "error: --repo URL is required for web and service apps" in refused("api", "--project", "shop",
                                                                              "--port", "80")
    assert "error: gitRepository" in refused("api", "--project", "shop", "--repo", "/srv/git/shop", "--port", "80")
    assert "error: templateName: must be one of" in refused("db", "--project", "shop", "--template", "oracle")
    assert "not a port" in refused("api", "--project", "shop", "--repo", REPO, "--port", "http")
    assert [a["name"] for a in owner.post("/api/apps/getByProjectId", {"projectId": project["id"]})["data"]] == ["web"]


def test_apps_delete_asks_unless_yes(owner: MistClient, cli: Run) -> None:
    shop, blog = owner.project("shop"), owner.project("blog")
    web = owner.app(shop["id"], "web", REPO, port=8000)
    owner.app(shop["id"], "api", REPO, port=8000)
    other = owner.app(blog["id"], "api", REPO, port=8000)

    for answer in (None, "no\n"):
        kept = cli("apps", "delete", "web", input=answer)
        assert kept.returncode == 1 and kept.stdout == ""
        assert f"Delete app web (id {web['id']}, project shop)" in kept.stderr
        assert "(its volumes are kept)" in kept.stderr and "error: nothing deleted" in kept.stderr
    assert app_named(owner, "web") is not None

    gone = cli("apps", "delete", "web", input="yes\n")
    assert gone.returncode == 0, gone.stderr
    assert f"deleted app web (id {web['id']}, project shop)" in gone.stdout
    assert app_named(owner, "web") is None

    ambiguous = cli("apps", "delete", "api", "--yes")
    assert ambiguous.returncode == 1 and "the app name 'api' is ambiguous" in ambiguous.stderr
    by_id = cli("apps", "delete", str(other["id"]), "--yes", "--delete-volumes")
    assert by_id.returncode == 0, by_id.stderr
    assert f"deleted app api (id {other['id']}, project blog)" in by_id.stdout
    assert [a["name"] for a in owner.post("/api/apps/getByProjectId", {"projectId": blog["id"]})["data"]] == []
    assert len(owner.post("/api/apps/getByProjectId", {"projectId": shop["id"]})["data"]) == 1

    listing = cli("apps")  # the listing, unchanged, with or without `list`
    assert listing.returncode == 0 and ["api", "shop", "web", "1", "main", "-"] in [r[1:] for r in rows(listing.stdout)]
    assert cli("apps", "list").stdout == listing.stdout


# ---------------------------------------------------------------------------- domains


def test_domains_add_list_and_remove(owner: MistClient, server: MistServer, cli: Run) -> None:
    project = owner.project("shop")
    owner.app(project["id"], "web", REPO, port=8000)
    owner.app(project["id"], "worker", REPO, appType="service")
    # The test server's Caddy listens on its own port (MIST_PROXY_LISTEN), so URLs carry it.
    url = f"http://shop.example.test:{server.proxy_port}"

    none = cli("domains", "list", "web")
    assert none.returncode == 0 and "web has no domains: mist domains add web DOMAIN" in none.stdout

    added = cli("domains", "add", "web", "Shop.Example.test")
    assert added.returncode == 0, added.stderr
    assert f"added shop.example.test to web: {url}" in added.stdout
    assert "it serves the app once deployed: mist deploy web --follow" in added.stdout
    assert cli("domains", "add", "web", "www.shop.example.test").returncode == 0
    domains = owner.post("/api/apps/domains/get", {"appId": app_named(owner, "web")["id"]})["data"]  # type: ignore[index]
    assert sorted(d["domain"] for d in domains) == ["shop.example.test", "www.shop.example.test"]

    listing = cli("domains", "list", "web")
    assert listing.returncode == 0, listing.stderr
    assert ["shop.example.test", url] in rows(listing.stdout)
    assert ["www.shop.example.test", f"http://www.shop.example.test:{server.proxy_port}"] in rows(listing.stdout)

    taken = cli("domains", "add", "web", "shop.example.test")
    assert taken.returncode == 1
    assert "error: the domain shop.example.test already belongs to an application" in taken.stderr
    service = cli("domains", "add", "worker", "worker.example.test")
    assert service.returncode == 1 and "error: domain: only web apps take domains" in service.stderr
    bad = cli("domains", "add", "web", "shop_1.example.test")
    assert bad.returncode == 1 and "error: domain: 'shop_1.example.test' may contain only letters" in bad.stderr

    removed = cli("domains", "remove", "web", "SHOP.example.test.")
    assert removed.returncode == 0, removed.stderr
    assert "removed shop.example.test from web" in removed.stdout
    unknown = cli("domains", "remove", "web", "shop.example.test")
    assert unknown.returncode == 1
    assert ("error: web has no domain 'shop.example.test' (its domains: www.shop.example.test); nothing was removed"
            in unknown.stderr)
    domains = owner.post("/api/apps/domains/get", {"appId": app_named(owner, "web")["id"]})["data"]  # type: ignore[index]
    assert [d["domain"] for d in domains] == ["www.shop.example.test"]


# ---------------------------------------------------------------------------- the Dockerfile


def test_apps_dockerfile_prints_only_the_dockerfile_on_stdout(
    owner: MistClient, git_server: GitServer, cli: Run,
) -> None:
    project = owner.project("shop")
    python_repo = f"py-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(python_repo, {
        "requirements.txt": "flask\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
    })
    own = "FROM scratch\n# the repository's own, byte for byte\nCMD [\"/app\"]\n"
    docker_repo = f"df-{uuid.uuid4().hex[:8]}"
    git_server.create_repo(docker_repo, {"Dockerfile": own})
    python = owner.app(project["id"], "py", git_server.url_for(python_repo), port=8000)
    own_app = owner.app(project["id"], "own", git_server.url_for(docker_repo), port=8000)

    generated = cli("apps", "dockerfile", "py")
    assert generated.returncode == 0, generated.stderr
    data = owner.get("/api/apps/dockerfile", appId=python["id"])["data"]
    assert data["builder"] == "python" and "\nFROM " in data["dockerfile"]
    text = data["dockerfile"]
    assert generated.stdout == (text if text.endswith("\n") else text + "\n")  # nothing else on stdout
    assert f"# py: written by Mist for builder python, commit {data['commitHash'][:7]}" in generated.stderr
    assert data["findings"] and all(f in text for f in data["findings"])  # said once, in the Dockerfile
    assert generated.stderr.count("\n") == 1

    ejected = cli("apps", "dockerfile", "own")
    assert ejected.returncode == 0, ejected.stderr
    assert ejected.stdout == own
    assert "# own: the repository's own Dockerfile" in ejected.stderr
    own_data = owner.get("/api/apps/dockerfile", appId=own_app["id"])["data"]
    assert own_data["builder"] == "dockerfile"
    for finding in own_data["findings"]:  # not in the file: said on stderr
        assert f"#   {finding}" in ejected.stderr

    owner.app(project["id"], "db", appType="database", templateName="redis")
    database = cli("apps", "dockerfile", "db")
    assert database.returncode == 1 and database.stdout == ""
    assert "error: appId: a database app builds nothing" in database.stderr

    unknown = cli("apps", "dockerfile", "nope")
    assert unknown.returncode == 1 and unknown.stdout == "" and "error: no app named 'nope'" in unknown.stderr
