"""Project networks on the real engine: a web app from a private repository reaches its database by
name through a referenced env var, with no secret copied by hand, and is then read and restarted
through the API; an app of another project reaches neither the database's name nor its address."""

from __future__ import annotations

import uuid

import docker
import httpx
from conftest import container_of, http_get
from support.client import MistClient
from support.engine import ip_of
from support.gitserver import GitServer
from support.httpgit import TokenGitServer

DOCKERFILE = """\
FROM mist-test/python:bookworm
WORKDIR /app
COPY . .
CMD ["python3", "server.py"]
"""

# Talks RESP to the redis in REDIS_URL: AUTH, SET, GET, and answers with what redis said.
WEB_PY = """\
import http.server, os, socket, urllib.parse
def redis(*commands):
    url = urllib.parse.urlsplit(os.environ["REDIS_URL"])
    with socket.create_connection((url.hostname, url.port), timeout=3) as conn:
        conn.sendall(f"AUTH {urllib.parse.unquote(url.password)}\\r\\n".encode())
        conn.recv(100)
        reply = b""
        for command in commands:
            conn.sendall(command.encode() + b"\\r\\n")
            reply += conn.recv(1000)
        return reply.decode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = repr(redis("SET visits 41", "INCR visits")).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""

# Tries the name and the address it is given, and reports what happened to each.
PROBE_PY = """\
import http.server, os, socket
def attempt(host):
    try:
        socket.create_connection((host, 6379), timeout=2).close()
        return "reached"
    except OSError as exc:
        return type(exc).__name__
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"name={attempt(os.environ['TARGET_NAME'])} ip={attempt(os.environ['TARGET_IP'])}".encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
http.server.HTTPServer(("0.0.0.0", 8000), H).serve_forever()
"""


def deployed(owner: MistClient, app: dict) -> None:
    deployment = owner.deploy(app["id"])
    final = owner.wait_final(app["id"], deployment["id"], timeout=180)
    assert final["status"] == "success", owner.logs(deployment["id"])


def test_web_app_reaches_its_database_by_alias_and_other_projects_cannot(
    owner: MistClient, git_server: GitServer, token_git_server: TokenGitServer, engine: docker.DockerClient
) -> None:
    suffix = uuid.uuid4().hex[:8]
    git_server.create_repo(f"net-web-{suffix}", {"server.py": WEB_PY, "Dockerfile": DOCKERFILE})
    git_server.create_repo(f"net-probe-{suffix}", {"server.py": PROBE_PY, "Dockerfile": DOCKERFILE})
    shop = owner.project("shop")
    cache = owner.app(shop["id"], "cache", appType="database", templateName="redis")
    web = owner.app(shop["id"], "web", token_git_server.url_for(f"net-web-{suffix}"), port=8000,
                    gitToken=token_git_server.token, envVars={"REDIS_URL": "${{cache.URL}}"})
    deployed(owner, cache)
    deployed(owner, web)
    assert http_get(engine, web["id"], 8000) == repr("+OK\r\n:42\r\n")

    # The password went from the database app to the web app without anyone handling it, and no
    # log or response of the web app shows it.
    password = owner.post("/api/apps/getById", {"appId": cache["id"]})["data"]["connection"]["password"]
    env = dict(e.split("=", 1) for e in container_of(engine, web["id"]).attrs["Config"]["Env"])
    assert env["REDIS_URL"] == f"redis://default:{password}@cache:6379/0"
    web_deployment = owner.deployments(web["id"])[0]
    assert password not in owner.logs(web_deployment["id"])
    assert password not in str(owner.post("/api/apps/getById", {"appId": web["id"]}))

    # Then read what it printed, and restart it: it comes back on the same database.
    logs = owner.get("/api/apps/container/logs", appId=web["id"])["data"]["logs"]
    assert '"GET / HTTP/1.1" 200' in logs and password not in logs
    assert owner.post(f"/api/apps/container/restart?appId={web['id']}", None)["data"]["state"] == "running"
    assert http_get(engine, web["id"], 8000) == repr("+OK\r\n:42\r\n")

    database = container_of(engine, cache["id"])
    assert list(database.attrs["NetworkSettings"]["Networks"]) == [f"mist-project-{shop['id']}"]
    aliases = database.attrs["NetworkSettings"]["Networks"][f"mist-project-{shop['id']}"]["Aliases"]
    assert "cache" in aliases

    other = owner.project("other")
    probe = owner.app(other["id"], "probe", git_server.url_for(f"net-probe-{suffix}"), port=8000,
                      envVars={"TARGET_NAME": "cache", "TARGET_IP": ip_of(database)})
    deployed(owner, probe)
    answer = httpx.get(f"http://{ip_of(container_of(engine, probe['id']))}:8000/", timeout=30).text
    assert answer == "name=gaierror ip=TimeoutError"


def test_deleting_a_referenced_app_fails_the_next_deployment_with_the_reason(
    owner: MistClient, git_server: GitServer, engine: docker.DockerClient
) -> None:
    suffix = uuid.uuid4().hex[:8]
    git_server.create_repo(f"net-ref-{suffix}", {"server.py": PROBE_PY, "Dockerfile": DOCKERFILE})
    project = owner.project()
    cache = owner.app(project["id"], "cache", appType="database", templateName="redis")
    web = owner.app(project["id"], "web", git_server.url_for(f"net-ref-{suffix}"), port=8000,
                    envVars={"TARGET_NAME": "${{cache.HOST}}", "TARGET_IP": "127.0.0.1"})
    deployed(owner, web)
    running = container_of(engine, web["id"]).id

    assert owner.http.request("DELETE", "/api/apps/delete", json={"appId": cache["id"]}).status_code == 200
    deployment = owner.deploy(web["id"])
    final = owner.wait_final(web["id"], deployment["id"])
    assert final["status"] == "failed"
    assert "'TARGET_NAME' refers to cache.HOST, which no longer exists" in final["error_message"]
    assert "no longer exists" in owner.logs(deployment["id"])
    assert container_of(engine, web["id"]).id == running  # the running version is left alone
