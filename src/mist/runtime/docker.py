"""The Docker engine, through its API (docker SDK): the `Engine` port's one adapter, and the only
module that touches the Docker API or bridges to threads. Engine errors become MistErrors here.

The SDK blocks, so `_Docker` holds the blocking calls and `DockerEngine` runs each in a bounded
thread pool of its own: a slow engine then cannot starve the event loop's default pool, which
the API routes and the WebSocket access checks share. Builds run in a second pool, one thread per
running build, so a long build never waits behind short calls nor holds one of their threads.
`follow_logs` and `exec` hold no thread however long they last (see logstream.py, execstream.py).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import re
import socket
import tempfile
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, TypeVar

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.utils import kwargs_from_env
from docker.utils.build import create_archive, exclude_paths

from mist.errors import BuildFailed, Conflict, RuntimeEngineError
from mist.lines import LineSplitter, split_lines
from mist.runtime.engine import APP_LABEL, DEPLOYMENT_LABEL, image_repository
from mist.runtime.eventstream import ContainerEvents
from mist.runtime.execstream import ExecStreams
from mist.runtime.logstream import LogStreams
from mist.runtime.requests import BuildRequest, ContainerEvent, ContainerRequest, ContainerState

log = logging.getLogger(__name__)

CPU_PERIOD = 100_000  # µs; a CPU limit is a quota of this period, which `docker update` can change
CALL_THREADS = 8  # engine calls in flight at once; more wait for a free thread
T = TypeVar("T")


class _BuildAPI(docker.APIClient):
    """Hands each thread's streaming build response to that thread's BuildHandle the moment the
    engine answers, so another thread can cut it off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handles: dict[int, BuildHandle] = {}

    def _stream_helper(self, response: Any, decode: bool = False) -> Any:  # the SDK's private signature
        handle = self.handles.get(threading.get_ident())
        if handle is not None:
            handle._streaming(response)
        return super()._stream_helper(response, decode)  # type: ignore[misc]  # private: not in the stubs


class BuildHandle:
    """Lets a stop or a timeout interrupt a build at once, at any moment of it: while the context
    is packed, before the engine has answered, or during a step that prints nothing. Shutting the
    socket down ends the stream, and the engine cancels a build whose client left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: _BuildAPI | None = None
        self._thread: int | None = None
        self._response: Any = None
        self.cancelled = False

    def check(self) -> None:
        if self.cancelled:
            raise BuildFailed("the build was cancelled")

    def _attach(self, api: _BuildAPI) -> None:
        with self._lock:
            self._api, self._thread = api, threading.get_ident()
            api.handles[self._thread] = self
            self.check()

    def _streaming(self, response: Any) -> None:
        """The engine answered. A cancel that came while the request was still being sent (no
        socket to cut yet) cuts it now."""
        with self._lock:
            self._response = response
            if self.cancelled:
                _cut(response)

    def _detach(self) -> None:
        with self._lock:
            if self._api is not None and self._thread is not None:
                self._api.handles.pop(self._thread, None)
            self._api = self._response = None

    def cancel(self) -> None:
        with self._lock:
            self.cancelled = True
            if self._response is not None:
                _cut(self._response)


def _cut(response: Any) -> None:
    connection = getattr(getattr(response, "raw", None), "_connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _BoundedFile:
    """Where the build context tar is written: it refuses to grow past the limit, so an oversized
    context is refused while it is packed (costing at most the limit), and a cancel stops it."""

    def __init__(self, file: IO[bytes], limit: int, handle: BuildHandle) -> None:
        self.file = file
        self.limit = limit
        self.handle = handle
        self.size = 0

    def write(self, data: bytes) -> int:
        self.handle.check()
        self.size += len(data)
        if self.limit and self.size > self.limit:
            raise BuildFailed(
                f"the build context is larger than the limit of {self.limit / 2**20:g} MiB "
                "(settings.build_context_max_mb, MIST_BUILD_CONTEXT_MAX_MB): leave files out with "
                ".dockerignore, or raise the limit"
            )
        return self.file.write(data)

    def tell(self) -> int:
        return self.file.tell()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.file.seek(offset, whence)


def _context_archive(request: BuildRequest, handle: BuildHandle) -> IO[bytes]:
    """The build context as a tar in a temporary file, leaving out what .dockerignore says as
    `docker build` does. Packing never follows a symlink: one is stored as a symlink."""
    lines = (line.strip() for line in request.dockerignore.splitlines())
    patterns = [line for line in lines if line and not line.startswith("#")]
    root = os.path.abspath(request.context_dir)
    files = sorted(exclude_paths(root, patterns, dockerfile=request.dockerfile))
    archive = tempfile.TemporaryFile()
    try:
        # tarfile only writes to it; the stubs ask for a file that can also read and close.
        bounded = _BoundedFile(archive, request.context_max_bytes, handle)
        create_archive(root, files=files, fileobj=bounded, extra_files=_generated(request))  # type: ignore[arg-type]
    except BaseException:
        archive.close()
        raise
    archive.seek(0)
    return archive


def _generated(request: BuildRequest) -> list[tuple[str, str]]:
    """A generated Dockerfile goes into the context as `docker build -f <file outside>` puts it:
    under its own name, listed in .dockerignore, which makes the engine take it (and a
    .dockerignore that was not in the repository) out of the context before any COPY sees it."""
    if not request.dockerfile_text:
        return []
    ignore = request.dockerignore.rstrip("\n") if request.dockerignore.strip() else ".dockerignore"
    return [(request.dockerfile, request.dockerfile_text), (".dockerignore", f"{ignore}\n{request.dockerfile}\n")]


_LOST_CACHE = re.compile(r'unable to find image "?sha256:[0-9a-f]{64}')
_STEP_IMAGE = re.compile(r"^ ---> ([0-9a-f]{12,64})$")
_FROM_STEP = re.compile(r"^Step \d+/\d+ : FROM ", re.IGNORECASE)


class _Stages:
    """The image each earlier stage of a multi-stage build ended with, read from the build's output.
    The classic builder keeps them untagged, where no removal of the app's images would find them:
    tagged `<tag>-stage<N>`, they go with the image they were built for (and serve as its cache
    until then)."""

    def __init__(self) -> None:
        self.last = ""
        self.ends: list[str] = []

    def feed(self, line: str) -> None:
        line = line.rstrip()
        if found := _STEP_IMAGE.match(line):
            self.last = found[1]
        elif _FROM_STEP.match(line) and self.last:
            self.ends.append(self.last)
            self.last = ""

    def tags(self, tag: str) -> list[tuple[str, str, str]]:
        """(image, repository, tag) for each earlier stage."""
        repository, _, version = tag.rpartition(":")
        return [(image, repository, f"{version}-stage{n}") for n, image in enumerate(self.ends)]


class _Docker:
    """The blocking calls. Connects on first use, so Mist starts (and reports clearly) while the
    engine is down."""

    def __init__(self, build_timeout: float, network_driver: str = "bridge") -> None:
        self._build_timeout = build_timeout
        # Swarm mode: projects are attachable overlays, which a service and a plain container can join.
        self._network_driver = network_driver
        self._client: docker.DockerClient | None = None
        self._build_api: _BuildAPI | None = None

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            try:
                env = kwargs_from_env()
                client = docker.DockerClient(**env)
                # A quiet RUN step sends nothing for minutes: a build may read nothing for as long
                # as its stage may last (MIST_BUILD_TIMEOUT_SECONDS).
                self._build_api = _BuildAPI(
                    version=client.api.api_version, timeout=self._build_timeout, **env
                )
            except DockerException as exc:
                raise RuntimeEngineError(f"cannot reach the Docker engine: {exc}") from exc
            self._client = client
        return self._client

    def _builder(self) -> _BuildAPI:
        self.client  # noqa: B018 - connecting creates the build client too
        assert self._build_api is not None
        return self._build_api

    def ping(self) -> None:
        try:
            self.client.ping()
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot reach the Docker engine: {exc}") from exc

    def build(
        self, request: BuildRequest, on_line: Callable[[str], None], handle: BuildHandle
    ) -> str:
        """Builds and tags the image, sending each output line to `on_line`; returns the image id.

        The classic builder looks for a cached step among the images built on the same parent; one
        removed at that moment (an app's old image pruned after its deployment, maybe another app's)
        fails the build with "unable to find image", though nothing is wrong with it: once, it is
        built again."""
        try:
            return self._build(request, on_line, handle)
        except BuildFailed as exc:
            if handle.cancelled or not _LOST_CACHE.search(exc.message):
                raise
        on_line("The engine lost a cached layer while reading it (an image was removed at that moment): "
                "building again")
        return self._build(request, on_line, handle)

    def _build(
        self, request: BuildRequest, on_line: Callable[[str], None], handle: BuildHandle
    ) -> str:
        image_id = ""
        # The engine cuts output into `stream` pieces anywhere, mid-line included: a line is what
        # the build printed between two newlines, so pieces go through one splitter.
        splitter = LineSplitter()
        stages = _Stages()

        def flush() -> None:
            for line in splitter.flush():
                stages.feed(line)
                if line.strip():
                    on_line(line)
        api = self._builder()
        try:
            handle._attach(api)
            # Mist packs the context itself: the SDK would read .dockerignore whatever it is
            # (a symlink to /dev/zero), and has no size limit.
            with _context_archive(request, handle) as context:
                stream = api.build(
                    fileobj=context, custom_context=True, dockerfile=request.dockerfile, tag=request.tag,
                    buildargs=request.build_args or None,
                    rm=True, forcerm=True, decode=True, pull=False,
                )
            for chunk in stream:
                if "error" in chunk:
                    flush()
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    for line in split_lines(detail.rstrip()):
                        on_line(line)
                    raise BuildFailed(f"Failed to build Docker image: {detail.strip()}")
                if "stream" in chunk:
                    for line in splitter.feed(chunk["stream"].encode(errors="replace")):
                        stages.feed(line)
                        if line.strip():
                            on_line(line)
                elif "status" in chunk:
                    flush()
                    on_line(chunk["status"] + (f" {chunk['progress']}" if chunk.get("progress") else ""))
                if "aux" in chunk and "ID" in chunk["aux"]:
                    image_id = chunk["aux"]["ID"]
            flush()
            handle.check()  # a stream cut before its first chunk ends quietly
            for image, repository, stage_tag in stages.tags(request.tag):
                api.tag(image, repository, stage_tag)
        except BuildFailed:
            raise
        except Exception as exc:  # the engine's, or the cut connection's (urllib3, requests)
            if handle.cancelled:
                raise BuildFailed("the build was cancelled") from exc
            raise BuildFailed(f"Failed to build Docker image: {_explain(exc)}") from exc
        finally:
            handle._detach()
        return image_id or self.image_id(request.tag)

    def image_id(self, ref: str) -> str:
        try:
            return self.client.images.get(ref).id or ""
        except ImageNotFound:
            return ""
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot inspect image {ref}: {_explain(exc)}") from exc

    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        try:
            self.client.volumes.get(name)
        except NotFound:
            try:
                self.client.volumes.create(name=name, labels=labels)
            except DockerException as exc:
                raise RuntimeEngineError(f"cannot create volume {name}: {_explain(exc)}") from exc
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot inspect volume {name}: {_explain(exc)}") from exc

    def remove_volume(self, name: str) -> None:
        try:
            self.client.api.remove_volume(name)
        except NotFound:
            return
        except APIError as exc:
            if exc.status_code == 409:
                raise Conflict(f"volume {name} is in use by a container; redeploy without it first") from exc
            raise RuntimeEngineError(f"cannot remove volume {name}: {_explain(exc)}") from exc
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot remove volume {name}: {_explain(exc)}") from exc

    def app_volumes(self, app_id: int) -> list[str]:
        try:
            found = self.client.api.volumes(filters={"label": f"{APP_LABEL}={app_id}"})
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot list volumes: {_explain(exc)}") from exc
        return [v["Name"] for v in (found or {}).get("Volumes") or []]

    def _networks_named(self, name: str) -> list[dict[str, Any]]:
        # The engine's name filter matches part of a name too: mist-project-1 would find mist-project-10.
        return [n for n in self.client.api.networks(names=[name]) if n.get("Name") == name]

    def has_network(self, name: str) -> bool:
        try:
            return bool(self._networks_named(name))
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot list networks: {_explain(exc)}") from exc

    def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        api = self.client.api
        try:
            if self._networks_named(name):
                return
            overlay = self._network_driver == "overlay"
            api.create_network(name, driver=self._network_driver, labels=labels, check_duplicate=True,
                               attachable=overlay or None, scope="swarm" if overlay else None)
            # The engine's duplicate check is not atomic: something else creating it at the same moment
            # (Mist's own deployments take turns) can make two, and a name two networks share can no
            # longer be attached to. Whoever looks keeps the same one, the oldest, and removes the rest.
            found = sorted(self._networks_named(name), key=lambda n: (n.get("Created", ""), n["Id"]))
            for extra in found[1:]:
                try:
                    api.remove_network(extra["Id"])
                except NotFound:
                    pass  # the other creator removed it too
        except APIError as exc:
            if exc.status_code == 409:
                return  # created meanwhile by another deployment of the project
            raise RuntimeEngineError(f"cannot create network {name}: {_explain(exc)}") from exc
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot create network {name}: {_explain(exc)}") from exc

    def remove_network(self, name: str) -> None:
        api = self.client.api
        try:
            for network in self._networks_named(name):
                api.remove_network(network["Id"])
        except NotFound:
            return
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot remove network {name}: {_explain(exc)}") from exc

    def _on_container(self, doing: str, container_id: str, call: Callable[[], Any]) -> None:
        try:
            call()
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot {doing} container {container_id[:12]}: {_explain(exc)}") from exc

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._on_container("stop", container_id, lambda: self.client.api.stop(container_id, timeout=timeout))

    def start(self, container_id: str) -> None:
        self._on_container("start", container_id, lambda: self.client.api.start(container_id))

    def restart(self, container_id: str, timeout: int = 10) -> None:
        self._on_container("restart", container_id, lambda: self.client.api.restart(container_id, timeout=timeout))

    def update_resources(self, container_id: str, cpu_limit: float | None, memory_limit: int | None,
                         restart_policy: str) -> None:
        """Applies limits and restart policy to a container in place (what a restart picks up)."""
        limits: dict[str, Any] = {}
        if cpu_limit:
            limits.update(cpu_period=CPU_PERIOD, cpu_quota=int(cpu_limit * CPU_PERIOD))
        if memory_limit:
            limits.update(mem_limit=f"{memory_limit}m", memswap_limit=f"{memory_limit}m")
        # The stubs know only the "always" and "on-failure" policies.
        self._on_container("update the limits of", container_id, lambda: self.client.api.update_container(
            container_id, restart_policy={"Name": restart_policy}, **limits  # type: ignore[arg-type]
        ))

    def logs(self, container_id: str, tail: int) -> list[str]:
        try:
            raw = self.client.api.logs(container_id, tail=tail, timestamps=True)
        except NotFound:
            return []
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot read the logs of {container_id[:12]}: {_explain(exc)}") from exc
        return _capped_lines(raw)

    def app_containers(self, app_id: int) -> list[ContainerState]:
        try:
            found = self.client.containers.list(all=True, filters={"label": f"{APP_LABEL}={app_id}"})
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot list containers: {_explain(exc)}") from exc
        return [_state(c.attrs) for c in found]

    def deployment_containers(self, deployment_id: int) -> list[ContainerState]:
        try:
            found = self.client.containers.list(
                all=True, filters={"label": f"{DEPLOYMENT_LABEL}={deployment_id}"}
            )
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot list containers: {_explain(exc)}") from exc
        return [_state(c.attrs) for c in found]

    def remove(self, container_id: str, stop_timeout: int = 10) -> None:
        """Stops gracefully (SIGTERM, then SIGKILL after `stop_timeout`), then removes."""
        api = self.client.api
        try:
            api.stop(container_id, timeout=stop_timeout)
            api.remove_container(container_id, force=True, v=True)  # and its anonymous volumes
        except NotFound:
            return
        except APIError as exc:
            if exc.status_code == 409 and "already in progress" in str(exc.explanation):
                return  # someone else is removing it: the outcome is the same
            raise RuntimeEngineError(f"cannot remove container {container_id[:12]}: {_explain(exc)}") from exc
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot remove container {container_id[:12]}: {_explain(exc)}") from exc

    def run(self, request: ContainerRequest) -> ContainerState:
        container_id = self._create(request)
        try:
            self.client.api.start(container_id)
            return _state(self.client.api.inspect_container(container_id))
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot start container {request.name}: {_explain(exc)}") from exc

    def create(self, request: ContainerRequest) -> ContainerState:
        container_id = self._create(request)
        try:
            return _state(self.client.api.inspect_container(container_id))
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot create container {request.name}: {_explain(exc)}") from exc

    def _create(self, request: ContainerRequest) -> str:
        api = self.client.api
        try:
            mounts = {**request.volumes, **request.binds}
            host_config = api.create_host_config(
                restart_policy={"Name": request.restart_policy} if request.restart_policy != "no" else None,
                binds={
                    source: {"bind": path, "mode": "ro" if path in request.read_only else "rw"}
                    for source, path in mounts.items()
                },
                init=request.init,
                network_mode=request.network or None,
                cpu_period=CPU_PERIOD if request.cpu_limit else None,
                cpu_quota=int(request.cpu_limit * CPU_PERIOD) if request.cpu_limit else None,
                mem_limit=f"{request.memory_limit}m" if request.memory_limit else None,
                memswap_limit=f"{request.memory_limit}m" if request.memory_limit else None,
            )
            # "none" is a network mode, not a network an endpoint can join.
            networking = (
                api.create_networking_config(  # the stubs want one EndpointConfig; the SDK takes one per network
                    {request.network: api.create_endpoint_config(aliases=list(request.aliases))}  # type: ignore[arg-type]
                )
                if request.network and request.network != "none" else None
            )
            created = api.create_container(
                request.image, command=request.command, name=request.name, labels=request.labels,
                environment=request.env, host_config=host_config, networking_config=networking, detach=True,
            )
            return str(created["Id"])
        except ImageNotFound as exc:
            raise RuntimeEngineError(f"image {request.image} is not on this machine") from exc
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot create container {request.name}: {_explain(exc)}") from exc

    def set_restart_policy(self, container_id: str, policy: str) -> None:
        # The stubs know only the "always" and "on-failure" policies.
        self._on_container("set the restart policy of", container_id, lambda: self.client.api.update_container(
            container_id, restart_policy={"Name": policy}  # type: ignore[arg-type]
        ))

    def inspect(self, container_id: str) -> ContainerState | None:
        try:
            return _state(self.client.api.inspect_container(container_id))
        except NotFound:
            return None
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot inspect container {container_id[:12]}: {_explain(exc)}") from exc

    def rename(self, container_id: str, name: str) -> None:
        self._on_container("rename", container_id, lambda: self.client.api.rename(container_id, name))

    def remove_image(self, ref: str) -> None:
        """The image and the earlier stages it was built with (`_Stages`)."""
        api = self.client.api
        try:
            stages = [t for i in api.images(name=f"{ref}-stage*") for t in i.get("RepoTags") or []
                      if t.startswith(f"{ref}-stage")]
            for tag in (ref, *stages):
                try:
                    api.remove_image(tag, force=True)
                except NotFound:
                    pass
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot remove image {ref}: {_explain(exc)}") from exc

    def remove_images(self, app_id: int) -> None:
        """Removes the app's tags; an image another app was also tagged with (same build, same
        layers) stays for that app."""
        repository = image_repository(app_id)
        try:
            for image in self.client.images.list(name=repository):
                for tag in image.tags:
                    if tag.startswith(f"{repository}:"):
                        self.client.api.remove_image(tag, force=True)
        except NotFound:
            return
        except DockerException as exc:
            raise RuntimeEngineError(f"cannot remove images of app {app_id}: {_explain(exc)}") from exc

    def tail(self, container_id: str, lines: int = 20) -> list[str]:
        try:
            raw = self.client.containers.get(container_id).logs(tail=lines)
        except DockerException:
            return []
        return _capped_lines(raw)


class DockerEngine:
    """The `Engine` port on the Docker engine. Each call runs the blocking SDK call in this
    engine's own pools; a cancelled call leaves its thread to finish on its own, as the engine
    would finish the request anyway (the pipeline waits where that matters: a container start)."""

    def __init__(self, build_timeout: float = 3600, call_threads: int = CALL_THREADS, build_threads: int = 2,
                 network_driver: str = "bridge") -> None:
        self._docker = _Docker(build_timeout, network_driver)
        self._call_threads = call_threads
        self._build_threads = build_threads
        self._calls: ThreadPoolExecutor | None = None
        self._builds: ThreadPoolExecutor | None = None
        self._log_streams = LogStreams()
        self._events = ContainerEvents(self._log_streams)
        self._execs = ExecStreams(self._log_streams)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._calls is None:
            self._calls = ThreadPoolExecutor(self._call_threads, thread_name_prefix="mist-engine")
        return await asyncio.get_running_loop().run_in_executor(self._calls, functools.partial(fn, *args))

    async def ping(self) -> None:
        await self._call(self._docker.ping)

    async def build(self, request: BuildRequest, on_line: Callable[[str], Awaitable[None]]) -> str:
        if self._builds is None:
            self._builds = ThreadPoolExecutor(self._build_threads, thread_name_prefix="mist-build")
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        handle = BuildHandle()

        def queue_line(line: str) -> None:
            loop.call_soon_threadsafe(lines.put_nowait, line)

        build = loop.run_in_executor(self._builds, self._docker.build, request, queue_line, handle)
        # Lines are queued from the build thread before its result, so the sentinel comes last.
        build.add_done_callback(lambda _: lines.put_nowait(None))
        try:
            while (line := await lines.get()) is not None:
                await on_line(line)
            return await build
        finally:
            if not build.done():
                handle.cancel()  # a stop or a timeout: cut the build off now, not at its end
                await asyncio.shield(asyncio.wait({build}))

    async def image_id(self, ref: str) -> str:
        return await self._call(self._docker.image_id, ref)

    async def remove_image(self, ref: str) -> None:
        await self._call(self._docker.remove_image, ref)

    async def remove_images(self, app_id: int) -> None:
        await self._call(self._docker.remove_images, app_id)

    async def has_network(self, name: str) -> bool:
        return await self._call(self._docker.has_network, name)

    async def ensure_network(self, name: str, labels: dict[str, str]) -> None:
        await self._call(self._docker.ensure_network, name, labels)

    async def remove_network(self, name: str) -> None:
        await self._call(self._docker.remove_network, name)

    async def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        await self._call(self._docker.ensure_volume, name, labels)

    async def remove_volume(self, name: str) -> None:
        await self._call(self._docker.remove_volume, name)

    async def app_volumes(self, app_id: int) -> list[str]:
        return await self._call(self._docker.app_volumes, app_id)

    async def run(self, request: ContainerRequest) -> ContainerState:
        return await self._call(self._docker.run, request)

    async def create(self, request: ContainerRequest) -> ContainerState:
        return await self._call(self._docker.create, request)

    async def inspect(self, container_id: str) -> ContainerState | None:
        return await self._call(self._docker.inspect, container_id)

    async def app_containers(self, app_id: int) -> list[ContainerState]:
        return await self._call(self._docker.app_containers, app_id)

    async def deployment_containers(self, deployment_id: int) -> list[ContainerState]:
        return await self._call(self._docker.deployment_containers, deployment_id)

    async def rename(self, container_id: str, name: str) -> None:
        await self._call(self._docker.rename, container_id, name)

    async def start(self, container_id: str) -> None:
        await self._call(self._docker.start, container_id)

    async def stop(self, container_id: str, timeout: int = 10) -> None:
        await self._call(self._docker.stop, container_id, timeout)

    async def restart(self, container_id: str, timeout: int = 10) -> None:
        await self._call(self._docker.restart, container_id, timeout)

    async def remove(self, container_id: str, stop_timeout: int = 10) -> None:
        await self._call(self._docker.remove, container_id, stop_timeout)

    async def set_restart_policy(self, container_id: str, policy: str) -> None:
        await self._call(self._docker.set_restart_policy, container_id, policy)

    async def update_resources(
        self, container_id: str, cpu_limit: float | None, memory_limit: int | None, restart_policy: str
    ) -> None:
        await self._call(self._docker.update_resources, container_id, cpu_limit, memory_limit, restart_policy)

    async def logs(self, container_id: str, tail: int) -> list[str]:
        return await self._call(self._docker.logs, container_id, tail)

    async def tail(self, container_id: str, lines: int = 20) -> list[str]:
        return await self._call(self._docker.tail, container_id, lines)

    def follow_logs(self, container_id: str, tail: int | str, since: float | None = None) -> AsyncIterator[str]:
        return self._log_streams.follow(container_id, tail, since)

    def exec(
        self,
        container_id: str,
        command: list[str],
        env: dict[str, str] | None = None,
        stdin: AsyncIterable[bytes] | None = None,
    ) -> AsyncIterator[bytes]:
        return self._execs.run(container_id, command, env, stdin)

    def container_events(self) -> AsyncIterator[ContainerEvent]:
        return self._events.follow()

    async def aclose(self) -> None:
        await self._log_streams.aclose()
        for pool in (self._calls, self._builds):
            if pool is not None:
                pool.shutdown(wait=False)  # a thread still in a call ends with it
        self._calls = self._builds = None


def _capped_lines(raw: bytes) -> list[str]:
    splitter = LineSplitter()
    return splitter.feed(raw) + splitter.flush()


def _state(attrs: dict[str, Any]) -> ContainerState:
    state = attrs.get("State", {})
    host: dict[str, Any] = attrs.get("HostConfig") or {}
    settings = attrs.get("NetworkSettings", {})
    networks = settings.get("Networks") or {}
    ip = settings.get("IPAddress") or next(
        (n.get("IPAddress") for n in networks.values() if n.get("IPAddress")), ""
    )
    return ContainerState(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        status=state.get("Status", ""),
        exit_code=state.get("ExitCode", 0),
        ip_address=ip,
        labels=(attrs.get("Config") or {}).get("Labels") or {},
        restart_count=attrs.get("RestartCount", 0),
        started_at=state.get("StartedAt", "") if state.get("Running") else "",
        image=(attrs.get("Config") or {}).get("Image", ""),
        cpu_limit=(host["CpuQuota"] / (host.get("CpuPeriod") or CPU_PERIOD)) if host.get("CpuQuota") else None,
        memory_limit=host["Memory"] // (1024 * 1024) if host.get("Memory") else None,
        restart_policy=(host.get("RestartPolicy") or {}).get("Name") or "no",
    )


def _explain(exc: Exception) -> str:
    if isinstance(exc, APIError):
        return exc.explanation or str(exc)
    return str(exc)
