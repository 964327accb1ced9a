"""The builder images the suite makes from Debian's packages do what Mist's generated Dockerfiles
need of the official images, offline: a venv and pip from the local index, npm ci, a static Go
build run from the runtime image, Caddy's file server."""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from support.engine import ip_of
from support.images import ensure_builder_images
from support.pyindex import PackageIndex, make_wheel

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def builders(engine: docker.DockerClient) -> dict[str, str]:
    return ensure_builder_images(engine)


@pytest.fixture
def build(engine: docker.DockerClient) -> Iterator:
    """Builds a context given as {path: text} and returns the tag; removes what it built."""
    tags: list[str] = []
    steps: list[str] = []  # the image of every step, newest last

    def run(files: dict[str, str], buildargs: dict[str, str] | None = None) -> str:
        tag = f"mist-test/selftest:{uuid.uuid4().hex[:12]}"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        buffer.seek(0)
        output = []
        for chunk in engine.api.build(fileobj=buffer, custom_context=True, tag=tag, buildargs=buildargs,
                                      rm=True, forcerm=True, decode=True, pull=False):
            output.append(chunk.get("stream", ""))
            steps.extend(re.findall(r"^ ---> ([0-9a-f]{12})$", chunk.get("stream", ""), re.MULTILINE))
            assert "error" not in chunk, "".join(output) + chunk["error"]
        tags.append(tag)
        return tag

    yield run
    for tag in tags:
        engine.images.remove(tag, force=True)
    # The legacy builder keeps a multi-stage build's earlier stages as untagged images.
    for image_id in reversed(steps):
        try:
            if not engine.images.get(image_id).tags:  # not the builder image a FROM step names
                engine.images.remove(image_id, force=True)
        except docker.errors.NotFound:
            pass  # removed with its child


def test_python_venv_and_pip_from_the_local_index(engine, builders, build, tmp_path: Path) -> None:
    make_wheel(tmp_path, "mist-greeting", "1.0", {"mist_greeting/__init__.py": "WORD = 'hello'\n"},
               requires=["mist-punctuation>=0.1"])
    make_wheel(tmp_path, "mist_punctuation", "0.2", {"mist_punctuation.py": "MARK = '!'\n"})
    with PackageIndex(tmp_path, engine) as index:
        tag = build({
            "requirements.txt": "mist-greeting==1.0\n",
            "Dockerfile": f"FROM {builders['python']}\n"
                          "ARG PIP_INDEX_URL\nARG PIP_TRUSTED_HOST\n"
                          "COPY requirements.txt .\n"
                          "RUN python3 -m venv /venv && /venv/bin/python -m pip install -r requirements.txt\n",
        }, buildargs=index.build_env)
    script = "import mist_greeting, mist_punctuation as p; print(mist_greeting.WORD + p.MARK)"
    out = engine.containers.run(tag, ["/venv/bin/python", "-c", script], remove=True)
    assert out.decode().strip() == "hello!"


def test_node_npm_ci_of_a_locked_package(engine, builders, build) -> None:
    package = {"name": "selftest", "version": "1.0.0", "scripts": {"start": "node index.js"}}
    lock = {"name": "selftest", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": {"": {"name": "selftest", "version": "1.0.0"}}}
    tag = build({
        "package.json": json.dumps(package),
        "package-lock.json": json.dumps(lock),
        "index.js": "console.log('node ' + process.version)\n",
        "Dockerfile": f"FROM {builders['node']}\nWORKDIR /app\nCOPY . .\n"
                      "RUN npm --version && npm ci\nCMD [\"npm\", \"start\", \"--silent\"]\n",
    })
    assert engine.containers.run(tag, remove=True).decode().strip().startswith("node v")


def test_go_static_build_runs_in_the_runtime_image(engine, builders, build) -> None:
    tag = build({
        "go.mod": "module example.com/hello\n\ngo 1.19\n",
        "main.go": 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go") }\n',
        "Dockerfile": f"FROM {builders['go']} AS build\nWORKDIR /src\nCOPY . .\n"
                      "RUN CGO_ENABLED=0 go build -o /out/app .\n"
                      f"FROM {builders['go-runtime']}\nCOPY --from=build /out/app /app\nCMD [\"/app\"]\n",
    })
    assert engine.containers.run(tag, remove=True).decode().strip() == "hello from go"


def test_caddy_serves_a_file(engine, builders, build) -> None:
    tag = build({
        "index.html": "<h1>static selftest</h1>\n",
        "Dockerfile": f"FROM {builders['static']}\nCOPY index.html /srv/\n"
                      'CMD ["caddy", "file-server", "--root", "/srv", "--listen", ":8080"]\n',
    })
    container = engine.containers.run(tag, detach=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            container.reload()
            try:
                body = httpx.get(f"http://{ip_of(container)}:8080/", timeout=2).text
                break
            except httpx.HTTPError:
                assert container.status == "running" and time.monotonic() < deadline, container.logs().decode()
                time.sleep(0.1)
        assert "static selftest" in body
    finally:
        container.remove(force=True)


def test_builder_images_are_cheap_once_built(engine, builders) -> None:
    assert ensure_builder_images(engine) == builders
    assert set(builders) == {"python", "node", "go", "go-runtime", "static"}
