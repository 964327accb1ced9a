"""A local Python package index (PEP 503 "simple") for builds that must not reach the internet.

Docker build containers reach it through the bridge network's gateway, an address of this host,
so `PackageIndex.url` names that address, for an app's build-time ``PIP_INDEX_URL``. Its wheels
are either written here by hand (`make_wheel`, for the tests) or real ones from PyPI downloaded
once on the host (`download_wheels`, for the benches).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterable
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import docker
from support.images import cache_dir

_WHEEL_NAME = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl$")


def normalize(name: str) -> str:
    """PEP 503's project name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def bridge_gateway(client: docker.DockerClient) -> str:
    """The host's address on the engine's default bridge, where build containers find it."""
    gateway: str = client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Gateway"]
    return gateway


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def make_wheel(directory: Path, name: str, version: str, modules: dict[str, str],
               requires: Iterable[str] = ()) -> Path:
    """Writes a minimal pure-Python wheel pip installs: `modules` maps a path inside the wheel
    ("hello.py", "pkg/__init__.py") to its source; `requires` are its Requires-Dist lines."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    metadata = "".join([f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
                        *(f"Requires-Dist: {requirement}\n" for requirement in requires)])
    wheel_meta = "Wheel-Version: 1.0\nGenerator: mist-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files = {**{path: source.encode() for path, source in modules.items()},
             f"{info}/METADATA": metadata.encode(), f"{info}/WHEEL": wheel_meta.encode()}
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for member, data in files.items():
            wheel.writestr(member, data)
        wheel.writestr(f"{info}/RECORD", record + f"{info}/RECORD,,\n")
    return path


def download_wheels(requirements: Iterable[str], python_version: str = "3.11",
                    platform: str = "manylinux2014_x86_64") -> Path:
    """Real wheels from PyPI (with their dependencies) for a Linux build container, cached under
    the test cache directory: a later call with the same requirements downloads nothing. Raises
    RuntimeError when pip cannot get them (no network, a name that is not there)."""
    requirements = sorted(requirements)
    key = hashlib.sha256("\n".join([python_version, platform, *requirements]).encode()).hexdigest()[:16]
    directory = cache_dir() / "wheels" / key
    done = directory / ".complete"
    if done.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
         "--only-binary", ":all:", "--python-version", python_version, "--platform", platform,
         "--implementation", "cp", "-d", str(directory), *requirements],
        capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip download failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    done.touch()  # a download cut half-way is simply completed by the next call
    return directory


class _Handler(SimpleHTTPRequestHandler):
    """/simple/ lists projects, /simple/<project>/ its files, /files/<file> serves one."""

    server: _IndexServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        parts = [p for p in self.path.split("?", 1)[0].split("/") if p]
        wheels = self.server.wheels()
        if parts == ["simple"]:
            links = "".join(f'<a href="{html.escape(n)}/">{html.escape(n)}</a>\n' for n in sorted(wheels))
            return self._page(links)
        if len(parts) == 2 and parts[0] == "simple":
            if (files := wheels.get(normalize(parts[1]))) is None:
                return self.send_error(HTTPStatus.NOT_FOUND)
            links = "".join(f'<a href="../../files/{html.escape(f.name)}#sha256={_sha256(f)}">'
                            f"{html.escape(f.name)}</a>\n" for f in files)
            return self._page(links)
        if len(parts) == 2 and parts[0] == "files":
            path = self.server.directory / parts[1]
            if "/" in parts[1] or not path.is_file():
                return self.send_error(HTTPStatus.NOT_FOUND)
            data = path.read_bytes()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return None
        return self.send_error(HTTPStatus.NOT_FOUND)

    def _page(self, links: str) -> None:
        body = f"<!DOCTYPE html>\n<html><body>\n{links}</body></html>\n".encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # a build's dozens of requests would drown the test output


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _IndexServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, directory: Path) -> None:
        # Every address: build containers come in through the bridge, not loopback.
        super().__init__(("0.0.0.0", 0), _Handler)
        self.directory = directory

    def wheels(self) -> dict[str, list[Path]]:
        """Read on every request, so wheels written after the start are served too."""
        found: dict[str, list[Path]] = {}
        for path in sorted(self.directory.glob("*.whl")):
            if match := _WHEEL_NAME.match(path.name):
                found.setdefault(normalize(match["name"]), []).append(path)
        return found


class PackageIndex:
    """Serves the wheels of `directory` on a free port of every address, from a thread.

    `url` is for build containers (the engine's bridge gateway); `local_url` for this host.
    """

    def __init__(self, directory: Path, client: docker.DockerClient) -> None:
        self.directory = directory
        self._gateway = bridge_gateway(client)
        self._server: _IndexServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the package index is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._gateway}:{self.port}/simple/"

    @property
    def local_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple/"

    @property
    def build_env(self) -> dict[str, str]:
        """An app's build-time variables that send pip to this index (plain HTTP to an address
        that is not localhost needs PIP_TRUSTED_HOST)."""
        return {"PIP_INDEX_URL": self.url, "PIP_TRUSTED_HOST": self._gateway}

    def start(self) -> PackageIndex:
        self._server = _IndexServer(self.directory)
        self._thread = threading.Thread(target=self._server.serve_forever, name="pyindex", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> PackageIndex:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
