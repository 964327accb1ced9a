"""A code-only redeploy's build against a cold build, for a Python app with dependencies and no
Dockerfile: the Dockerfile Mist generates copies the dependency manifests before the code, so a
commit that changes only app.py reuses the installed-dependencies layer.

Each round creates an app (requirements.txt, a Procfile, app.py), deploys it with nothing of it
cached (a fresh app whose earlier rounds' images are gone, the builder base image alone on the
engine), then commits a change to app.py alone and deploys again; then deletes the app with its
images. Times: the `building_image` stage (from the deployment's WebSocket status messages) and
the whole deployment (POST until the final status).

Everything is local: the builder images are the test suite's, made from Debian's packages, and pip
installs from a package index the bench serves on this host, reached from the build containers
through the bridge gateway. Its wheels are real ones from PyPI, downloaded once on the host and
cached; without PyPI the bench falls back to generated wheels (and a plain http.server app), and
says so.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import docker
import httpx
from harness import MistClient, MistServer, mist_bench
from support.engine import ip_of
from support.images import ensure_builder_images
from support.pyindex import PackageIndex, download_wheels, make_wheel
from websockets.sync.client import connect

REQUIREMENTS = ("flask==3.0.3", "gunicorn==23.0.0", "requests==2.32.3", "sqlalchemy==2.0.36", "pydantic==2.9.2")

FLASK_APP = """\
import pydantic, requests, sqlalchemy
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "version {version}"
"""

# Without PyPI: as many generated packages, each with some code to install, and the standard
# library's server instead of gunicorn.
FALLBACK_PACKAGES = 40
PLAIN_APP = """\
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import mist_bench_dep_0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"version {version}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"""


def wheels(workdir: Path) -> tuple[Path, dict[str, str], str]:
    """The wheel directory, the repository's files and `app.py`'s template."""
    try:
        directory = download_wheels(REQUIREMENTS)
        return directory, {
            "requirements.txt": "".join(f"{r}\n" for r in REQUIREMENTS),
            "Procfile": "web: gunicorn app:app --bind 0.0.0.0:$PORT\n",
        }, FLASK_APP
    except RuntimeError as exc:
        print(f"PyPI not reachable ({str(exc).splitlines()[0][:200]}): "
              f"falling back to {FALLBACK_PACKAGES} generated wheels and an http.server app", flush=True)
    directory = workdir / "wheels"
    filler = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(2000))
    names = [f"mist-bench-dep-{i}" for i in range(FALLBACK_PACKAGES)]
    for name in names:
        make_wheel(directory, name, "1.0", {f"{name.replace('-', '_')}/__init__.py": filler})
    return directory, {
        "requirements.txt": "".join(f"{n}==1.0\n" for n in names),
        "Procfile": "web: python3 app.py\n",
    }, PLAIN_APP


def deploy(server: MistServer, client: MistClient, app_id: int) -> tuple[float, float, dict]:
    """(whole deployment s, building_image s, the deployment): the stage's time runs from the status
    message that enters it to the one that leaves it, as the WebSocket delivers them."""
    cookie = f"mist_session={client.http.cookies['mist_session']}"
    began = time.perf_counter()
    deployment = client.deploy(app_id)
    entered = left = 0.0
    with connect(f"{server.ws_url}/ws/deployment/logs?deploymentId={deployment['id']}",
                 additional_headers={"Cookie": cookie}) as ws:
        for raw in ws:
            message = json.loads(raw)
            if message["type"] != "status":
                continue
            now, stage = time.perf_counter(), message["data"].get("stage")
            if stage == "building_image" and not entered:
                entered = now
            elif entered and not left and stage != "building_image":
                left = now
            final = message
    elapsed = time.perf_counter() - began
    if final["data"]["status"] != "success":
        raise SystemExit(f"deployment {deployment['id']} ended {final['data']['status']}:\n"
                         f"{client.logs(deployment['id'])}")
    return elapsed, (left or time.perf_counter()) - entered, deployment


def serves(engine: docker.DockerClient, app_id: int, expected: str, timeout: float = 30) -> None:
    container = engine.containers.list(filters={"label": f"mist.app={app_id}"})[0]
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = httpx.get(f"http://{ip_of(container)}:8000/", timeout=2).text
            if body == expected:
                return
        except httpx.HTTPError:
            body = "(no answer)"
        if time.monotonic() > deadline:
            raise SystemExit(f"app {app_id} answers {body!r}, expected {expected!r}")
        time.sleep(0.2)


def layers(engine: docker.DockerClient, app_id: int, deployment_id: int, base: str) -> list[str]:
    """The deployment's image and its parents down to the builder image (the legacy builder keeps
    one image per step), newest first."""
    chain, image = [], engine.images.get(f"mist-app-{app_id}:{deployment_id}").id
    while image and image != base:
        chain.append(image)
        image = engine.api.inspect_image(image)["Parent"]
    return chain


def remove_app(engine: docker.DockerClient, client: MistClient, app_id: int, built: list[str]) -> None:
    """Deletes the app, which removes its images, and then whatever of `built` is still there
    (an image untagged while a container still used it stays as a dangling one), so nothing of
    this round is left on the engine."""
    client.http.request("DELETE", "/api/apps/delete", json={"appId": app_id}).raise_for_status()
    deadline = time.monotonic() + 60
    while engine.containers.list(all=True, filters={"label": f"mist.app={app_id}"}) \
            or engine.images.list(name=f"mist-app-{app_id}"):
        if time.monotonic() > deadline:
            raise SystemExit(f"the container or images of app {app_id} were not removed")
        time.sleep(0.2)
    left, pending = 0, built
    while pending:
        waiting = []
        for image in pending:  # removing a child also removes the parents no other image uses
            try:
                engine.api.remove_image(image, force=True)
                left += 1
            except docker.errors.NotFound:
                pass  # already gone, with the app or with a child removed just before
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # 409: a child of it is still there; next pass
                    raise
                waiting.append(image)
        if len(waiting) == len(pending):
            # Steps cached before this round (those above the round's own ARG, e.g. the Dockerfile's
            # ENV line) are shared with other images built from the same builder image: they stay.
            print(f"  {len(waiting)} of app {app_id}'s build images are shared with images from before "
                  "the round; left", flush=True)
            break
        pending = waiting
    if left:
        print(f"  {left} of app {app_id}'s {len(built)} build images outlived its deletion; removed", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engine = docker.from_env()
    began = time.perf_counter()
    images = ensure_builder_images(engine)
    print(f"rebuild_cache: {args.rounds} rounds; builder images ready in {time.perf_counter() - began:.1f} s",
          flush=True)
    with tempfile.TemporaryDirectory(prefix="mist-bench-wheels-") as tmp:
        directory, files, app_template = wheels(Path(tmp))
        print(f"{len(list(directory.glob('*.whl')))} wheels in the local index", flush=True)
        with mist_bench(builder_images=json.dumps(images)) as bench, PackageIndex(directory, engine) as index:
            client, git, server = bench.client, bench.git, bench.server
            project = client.project("bench")["id"]
            base = engine.images.get(images["python"]).id
            cold, warm, cold_build, warm_build, cached = [], [], [], [], []
            for n in range(1, args.rounds + 1):
                repo = f"rebuild-{n}"
                git.create_repo(repo, {**files, "app.py": app_template.format(version=f"{n}.0")})
                # BENCH_ROUND: a build-time variable, so a layer left by an earlier run can't serve this one.
                build_env = {**index.build_env, "BENCH_ROUND": f"{n}-{time.time_ns()}"}
                app = client.app(project, repo, git.url_for(repo), port=8000, updateStrategy="recreate",
                                 envVars=[{"key": k, "value": v, "buildTime": True, "runtime": False}
                                          for k, v in build_env.items()])
                total, build, deployment = deploy(server, client, app["id"])
                built = layers(engine, app["id"], deployment["id"], base)
                serves(engine, app["id"], f"version {n}.0")
                cold.append(total)
                cold_build.append(build)
                git.commit(repo, {"app.py": app_template.format(version=f"{n}.1")}, message="code only")
                total, build, deployment = deploy(server, client, app["id"])
                built = layers(engine, app["id"], deployment["id"], base) + built
                serves(engine, app["id"], f"version {n}.1")
                warm.append(total)
                warm_build.append(build)
                cached.append(client.logs(deployment["id"]).count("Using cache"))
                print(f"round {n}: building_image cold {cold_build[-1]:.2f} s, code-only {warm_build[-1]:.2f} s "
                      f"({cached[-1]} cached steps); deployment cold {cold[-1]:.2f} s, code-only {warm[-1]:.2f} s",
                      flush=True)
                remove_app(engine, client, app["id"], list(dict.fromkeys(built)))
    median = statistics.median
    print(f"median building_image: cold {median(cold_build):.2f} s  code-only {median(warm_build):.2f} s")
    print(f"median deployment: cold {median(cold):.2f} s  code-only {median(warm):.2f} s")
    print(f"rebuild_cache ratio (code-only / cold, building_image): {median(warm_build) / median(cold_build):.3f}  "
          f"(target <= 0.30); whole deployment: {median(warm) / median(cold):.3f}")


if __name__ == "__main__":
    main()
