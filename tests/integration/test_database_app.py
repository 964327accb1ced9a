"""A database template (redis, built locally) deployed with a generated password and a lasting volume."""

from __future__ import annotations

import socket
import time

import docker
from conftest import container_of
from support.client import MistClient
from support.engine import ip_of


def redis(ip: str, *commands: str, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((ip, 6379), timeout=2) as conn:
                conn.sendall("".join(f"{c}\r\n" for c in commands).encode())
                time.sleep(0.3)
                return conn.recv(4096)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_redis_template_answers_with_its_password_and_keeps_data_across_redeploys(
    owner: MistClient, engine: docker.DockerClient
) -> None:
    project = owner.project()
    app = owner.app(project["id"], "cache", appType="database", templateName="redis")
    first = owner.deploy(app["id"])
    assert first["commit_hash"] == "" and "redis" in first["commit_message"]
    done = owner.wait_final(app["id"], first["id"], timeout=120)
    assert done["status"] == "success", owner.logs(first["id"])

    container = container_of(engine, app["id"])
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    password = env["REDIS_PASSWORD"]
    assert len(password) >= 24
    ip = ip_of(container)
    assert redis(ip, "PING").startswith(b"-NOAUTH")
    assert redis(ip, f"AUTH {password}", "SET greeting persisted") == b"+OK\r\n+OK\r\n"
    mounts = container.attrs["Mounts"]
    assert [(m["Name"], m["Destination"]) for m in mounts] == [(f"mist-app-{app['id']}-data", "/data")]
    assert password not in owner.logs(first["id"])
    # The owner reads it only as the connection details, never as an env value.
    shown = owner.post("/api/apps/getById", {"appId": app["id"]})["data"]
    assert shown["connection"]["password"] == password
    assert password not in str(shown["envVars"])

    second = owner.deploy(app["id"])
    assert owner.wait_final(app["id"], second["id"], timeout=120)["status"] == "success"
    replaced = container_of(engine, app["id"])
    assert replaced.id != container.id
    ip = ip_of(replaced)
    assert redis(ip, f"AUTH {password}", "GET greeting") == b"+OK\r\n$9\r\npersisted\r\n"
