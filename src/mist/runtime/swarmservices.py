"""The services port on Docker Swarm: apps as replicated Swarm services, through a manager's Engine API.

Every call is an HTTP request on the engine's socket, made by the event loop (as logstream.py does): no
thread, even for a deployment followed for minutes or logs followed for hours. The pure parts (the spec a
request becomes, the health command, task states, progress) are plain functions, tested without an engine.

Choices forced by the machines Mist runs on: services are in `dnsrr` endpoint mode (a VIP and the routing
mesh need IPVS, which is often missing), so a service's name resolves to its tasks' addresses.

Health checks run inside the task's container, so they need a program there: `health_command` works for
images having a POSIX shell and any one of curl, wget or python3, tried in that order; without one of
them every check fails, saying so in the container's health log, and the update is rolled back.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from mist.errors import Conflict, NotFound, RuntimeEngineError
from mist.runtime.engine import DEPLOYMENT_LABEL
from mist.runtime.logstream import API_VERSION, LogStreams, _lines, _message, _payloads
from mist.runtime.services import (
    COMPLETED,
    ENDED,
    ENDED_BADLY,
    FAILED,
    PAUSED,
    ROLLED_BACK,
    STARTING_NEW,
    STOPPING_OLD,
    ProgressCallback,
    ServiceHealth,
    ServiceRequest,
    TaskState,
    UpdateOutcome,
)

NS = 1_000_000_000  # the Engine API counts durations in nanoseconds
CALL_TIMEOUT = httpx.Timeout(60, connect=10)
NO_AUTH = "e30="  # base64 of "{}": the engine wants an X-Registry-Auth header, the registry needs none
OUTPUT_LINES = 20  # a failed task's last lines quoted in an outcome
# Update states Swarm reports, and how a deployment that reached them ended.
FINAL_STATES = {"completed": COMPLETED, "rollback_completed": ROLLED_BACK, "paused": PAUSED,
                "rollback_paused": PAUSED}
_RESTART_CONDITIONS = {"no": "none", "on-failure": "on-failure", "always": "any", "unless-stopped": "any"}
# GNU wget retries a read that timed out (up to 20 times) unless told `-t 1`, which busybox's refuses.
GNU_WGET = "w=; wget -V >/dev/null 2>&1 && w='-t 1'; "
_TASK_IN_MESSAGE = re.compile(r"\btask ([0-9a-z]{10,})")


# --------------------------------------------------------------------------- pure parts


def health_command(port: int, health: ServiceHealth) -> list[str]:
    """A Docker `CMD-SHELL` health test probing the app on 127.0.0.1:`port` from inside its container:
    an HTTP GET of `health.path` must answer below 400; without a path, the port must accept a TCP
    connection. It tries curl, then wget, then python3, whichever the image has; a shell is required."""
    timeout = f"{max(health.timeout, 1):g}"
    if health.path:
        url = shlex.quote(f"http://127.0.0.1:{port}/{health.path.lstrip('/')}")
        python = ("import sys, urllib.request\ntry: urllib.request.urlopen(sys.argv[1], timeout=float(sys.argv[2]))\n"
                  "except Exception as e: sys.exit(f'GET {sys.argv[1]}: {e}')")
        probes = [
            ("curl", f"curl -fsS -o /dev/null --max-time {timeout} {url} && exit 0 || exit 1"),
            ("wget", f"{GNU_WGET}wget $w -q -O /dev/null -T {timeout} {url} && exit 0 || exit 1"),
            ("python3", f"python3 -c {shlex.quote(python)} {url} {timeout} && exit 0 || exit 1"),
        ]
    else:
        url = f"http://127.0.0.1:{port}/"
        python = ("import socket, sys\n"
                  "try: socket.create_connection(('127.0.0.1', int(sys.argv[1])), float(sys.argv[2]))\n"
                  "except OSError as e: sys.exit(f'port {sys.argv[1]}: {e}')")
        probes = [
            # Any answer, even an error or silence after connecting, means the port accepted: exit code 7
            # is "could not connect"; on a timeout (28) the connect time says whether it had connected.
            ("curl", f"t=$(curl -s -o /dev/null --max-time {timeout} -w '%{{time_connect}}' {url}); r=$?; "
                     "[ $r -ne 7 ] && { [ $r -ne 28 ] || case $t in *[1-9]*) true;; *) false;; esac; } "
                     "&& exit 0 || exit 1"),
            # GNU wget says "connected." before reading; busybox wget names an HTTP error it received.
            ("wget", f"{GNU_WGET}o=$(wget $w -O /dev/null -T {timeout} {url} 2>&1) && exit 0; "
                     "case $o in *connected.*|*'server returned error'*) exit 0;; esac; exit 1"),
            ("python3", f"python3 -c {shlex.quote(python)} {port} {timeout} && exit 0 || exit 1"),
        ]
    script = "".join(f"if command -v {tool} >/dev/null 2>&1; then {probe}; fi; " for tool, probe in probes)
    script += 'echo "the image has none of curl, wget or python3 to run the health check with" >&2; exit 1'
    return ["CMD-SHELL", script]


def restart_condition(policy: str) -> str:
    """Docker's restart policies as Swarm's conditions (`unless-stopped`: stopping is scaling to 0)."""
    try:
        return _RESTART_CONDITIONS[policy]
    except KeyError:
        raise RuntimeEngineError(f"unknown restart policy {policy!r}") from None


def service_spec(request: ServiceRequest, monitor: float, force_update: int = 0) -> dict[str, Any]:
    """The Swarm ServiceSpec for `request`: replicated, `dnsrr`, updated one task at a time in the
    request's order, rolled back by Swarm when a new task fails within `monitor` seconds of starting
    (a task with a health check starts only once healthy, so an unhealthy one fails there)."""
    container: dict[str, Any] = {
        "Image": request.image,
        "Labels": dict(request.labels),
        "Env": [f"{key}={value}" for key, value in request.env.items()],
        "Mounts": [{"Type": kind, "Source": source, "Target": path, "ReadOnly": path in request.read_only}
                   for kind, mounts in (("volume", request.volumes), ("bind", request.binds))
                   for source, path in mounts.items()],
        "StopGracePeriod": request.stop_timeout * NS,
        # An init process as PID 1 forwards SIGTERM and reaps zombies, as Mist's plain containers have.
        "Init": True,
    }
    if request.command is not None:
        container["Args"] = list(request.command)
    if request.health is not None and request.port:
        health = request.health
        container["Healthcheck"] = {
            "Test": health_command(request.port, health),
            "Interval": int(health.interval * NS),
            "Timeout": int(health.timeout * NS),
            "Retries": health.retries,
            "StartPeriod": int(health.start_period * NS),
        }
    limits: dict[str, int] = {}
    if request.cpu_limit is not None:
        limits["NanoCPUs"] = int(request.cpu_limit * NS)
    if request.memory_limit is not None:
        limits["MemoryBytes"] = request.memory_limit * 1024 * 1024
    update = {"Parallelism": 1, "Delay": 0, "FailureAction": "rollback", "Monitor": int(monitor * NS),
              "MaxFailureRatio": 0, "Order": request.order}
    return {
        "Name": request.name,
        "Labels": dict(request.labels),
        "TaskTemplate": {
            "ContainerSpec": container,
            "Resources": {"Limits": limits},
            "RestartPolicy": {"Condition": restart_condition(request.restart_policy), "Delay": NS, "MaxAttempts": 0},
            "Placement": {"Constraints": list(request.constraints)},
            "Networks": [{"Target": n.network, "Aliases": list(n.aliases)} for n in request.networks],
            "ForceUpdate": force_update,
        },
        "Mode": {"Replicated": {"Replicas": request.replicas}},
        "UpdateConfig": update,
        # Going back, a failure pauses: there is nothing older to go back to.
        "RollbackConfig": {**update, "FailureAction": "pause"},
        "EndpointSpec": {"Mode": "dnsrr"},
    }


Generation = tuple[str, str, int]  # image, mist.deployment label, ForceUpdate: which spec a task runs


def generation(task_template: dict[str, Any]) -> Generation:
    container = task_template.get("ContainerSpec") or {}
    return (container.get("Image", ""), (container.get("Labels") or {}).get(DEPLOYMENT_LABEL, ""),
            int(task_template.get("ForceUpdate") or 0))


def task_state(raw: dict[str, Any], service: str, hostnames: dict[str, str], health: str = "") -> TaskState:
    """A task as the API answers it; `health` as inspected on its node, else inferred from its state."""
    status, spec = raw.get("Status") or {}, raw.get("Spec") or {}
    container = status.get("ContainerStatus") or {}
    state = status.get("State", "")
    checked = bool((spec.get("ContainerSpec") or {}).get("Healthcheck"))
    if not health and checked:
        # A task with a health check is `starting` until its container is healthy, then `running`.
        health = {"running": "healthy", "starting": "starting"}.get(state, "")
    slot = int(raw.get("Slot") or 0)
    node_id = raw.get("NodeID", "")
    exited = state in ENDED and "ExitCode" in container
    image, deployment, _ = generation(spec)
    return TaskState(
        id=raw["ID"], name=f"{service}.{slot}" if slot else f"{service}.{raw['ID'][:12]}", slot=slot,
        node_id=node_id, node=hostnames.get(node_id, ""), state=state,
        desired_state=raw.get("DesiredState", ""), message=status.get("Message", ""),
        error=status.get("Err", ""), container_id=container.get("ContainerID", ""),
        started_at=status.get("Timestamp", ""), exit_code=int(container["ExitCode"]) if exited else None,
        health=health, image=image, deployment=deployment,
    )


def progress_phase(tasks: list[tuple[TaskState, bool]]) -> str | None:
    """STARTING_NEW while a new task (the bool) meant to run is not running yet; else STOPPING_OLD while
    an old one told to stop still runs; None when neither (nothing to report)."""
    if any(new and t.desired_state == "running" and not t.running for t, new in tasks):
        return STARTING_NEW
    if any(not new and t.desired_state != "running" and t.state in ("running", "starting") for t, new in tasks):
        return STOPPING_OLD
    return None


def named_line(line: str, names: dict[str, str], service: str) -> tuple[str, str]:
    """A service log line read with `timestamps` and `details` (`TIMESTAMP ATTRS MESSAGE`, ATTRS being
    `key=value,...` with the task's id) as (task id, `TIMESTAMP TASK MESSAGE`)."""
    stamp, _, rest = line.partition(" ")
    attrs, _, message = rest.partition(" ")
    task_id = ""
    for pair in attrs.split(","):
        key, _, value = pair.partition("=")
        if key == "com.docker.swarm.task.id":
            task_id = value
    if not task_id:  # not the details Swarm adds: keep the whole line
        return "", f"{stamp} {service} {rest}"
    return task_id, f"{stamp} {names.get(task_id, f'{service}.{task_id[:12]}')} {message}"


def failed_task_id(message: str) -> str:
    """The task Swarm names in "update rolled back due to failure or early termination of task ID"."""
    found = _TASK_IN_MESSAGE.search(message)
    return found.group(1) if found else ""


# --------------------------------------------------------------------------- the adapter


@dataclass
class _Service:
    id: str
    version: int
    spec: dict[str, Any]
    update: dict[str, Any]  # UpdateStatus, {} before the first update

    @property
    def replicas(self) -> int:
        return int(((self.spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 0))


class SwarmServices:
    """The `Services` port on the swarm behind DOCKER_HOST (or the local socket), which must be a manager.
    `registry` is MIST_REGISTRY (host:port every node pulls from); `monitor` is how long Swarm watches each
    new task for a failure before it counts as updated; `poll` how often a running update is looked at."""

    def __init__(self, registry: str, monitor: float = 5, poll: float = 0.5) -> None:
        self.registry = registry.rstrip("/")
        self.monitor = monitor
        self.poll = poll
        self._streams = LogStreams()

    # ---- HTTP

    async def _request(self, method: str, path: str, what: str, **kwargs: Any) -> httpx.Response:
        """The engine's answer; an error status becomes NotFound (404), Conflict (409) or RuntimeEngineError."""
        try:
            response = await self._streams.http.request(
                method, f"/v{API_VERSION}{path}", timeout=CALL_TIMEOUT, **kwargs)
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot {what}: the Docker engine did not answer ({exc})") from exc
        if response.status_code == 404:
            raise NotFound(f"cannot {what}: {_message(response)}")
        if response.status_code == 409:
            raise Conflict(f"cannot {what}: {_message(response)}")
        if response.status_code >= 400:
            raise RuntimeEngineError(f"cannot {what}: {_message(response)}")
        return response

    async def _service(self, name: str) -> _Service | None:
        try:
            raw = (await self._request("GET", f"/services/{name}", f"inspect service {name}")).json()
        except NotFound:
            return None
        return _Service(raw["ID"], int(raw["Version"]["Index"]), raw["Spec"], raw.get("UpdateStatus") or {})

    async def _require(self, name: str) -> _Service:
        service = await self._service(name)
        if service is None:
            raise NotFound(f"no service {name} in the swarm")
        return service

    async def _update(self, service: _Service, spec: dict[str, Any], what: str, rollback: bool = False) -> None:
        params: dict[str, str | int] = {"version": service.version}
        if rollback:
            params["rollback"] = "previous"
        await self._request("POST", f"/services/{service.id}/update", what, params=params, json=spec,
                            headers={"X-Registry-Auth": NO_AUTH})

    async def _raw_tasks(self, service_id: str) -> list[dict[str, Any]]:
        filters = json.dumps({"service": [service_id]})
        found: list[dict[str, Any]] = (
            await self._request("GET", "/tasks", "list the tasks", params={"filters": filters})).json()
        return [t for t in found if t.get("ServiceID") == service_id]

    async def _hostnames(self) -> dict[str, str]:
        nodes = (await self._request("GET", "/nodes", "list the swarm's nodes")).json()
        return {n["ID"]: (n.get("Description") or {}).get("Hostname", "") for n in nodes}

    async def _local_health(self, container_id: str) -> str:
        """The container's health as this engine sees it; "" when it runs on another node (or is gone)."""
        if not container_id:
            return ""
        try:
            raw = (await self._request("GET", f"/containers/{container_id}/json", "inspect a task")).json()
        except NotFound:
            return ""
        return str(((raw.get("State") or {}).get("Health") or {}).get("Status", ""))

    async def _states(self, name: str, raw: list[dict[str, Any]]) -> list[TaskState]:
        hostnames = await self._hostnames()
        healths = await asyncio.gather(*(
            self._local_health(((t.get("Status") or {}).get("ContainerStatus") or {}).get("ContainerID", ""))
            for t in raw))
        states = [task_state(t, name, hostnames, h) for t, h in zip(raw, healths, strict=True)]
        newest_first = sorted(states, key=lambda t: t.started_at, reverse=True)
        return sorted(newest_first, key=lambda t: (t.slot, t.desired_state != "running"))

    # ---- the port

    async def push(self, image: str, repository: str) -> str:
        target = f"{self.registry}/{repository}"
        tag = image.rpartition(":")[2] if ":" in image.rpartition("/")[2] else "latest"
        await self._request("POST", f"/images/{image}/tag", f"tag {image} for the registry",
                            params={"repo": target, "tag": tag})
        try:
            digest = await self._push_stream(target, tag)
        finally:
            # The digest reference is what services name; the tag would only keep the image alive.
            try:
                await self._request("DELETE", f"/images/{target}:{tag}", f"untag {target}:{tag}",
                                    params={"noprune": "1"})
            except (NotFound, Conflict):
                pass
        return f"{target}@{digest}"

    async def _push_stream(self, target: str, tag: str) -> str:
        what = f"push {target}:{tag} to the registry {self.registry} (MIST_REGISTRY)"
        digest, error = "", ""
        try:
            async with self._streams.http.stream(
                "POST", f"/v{API_VERSION}/images/{target}/push", params={"tag": tag},
                headers={"X-Registry-Auth": NO_AUTH}, timeout=httpx.Timeout(None, connect=10),
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise RuntimeEngineError(f"cannot {what}: {_message(response)}")
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    error = event.get("error") or error
                    digest = (event.get("aux") or {}).get("Digest") or digest
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot {what}: the Docker engine did not answer ({exc})") from exc
        if error:
            raise RuntimeEngineError(f"cannot {what}: {error}")
        if not digest:
            raise RuntimeEngineError(f"cannot {what}: the engine reported no digest")
        return str(digest)

    async def pin(self, label: str) -> str:
        constraint = f"node.labels.{label} == true"
        nodes = (await self._request("GET", "/nodes", "list the swarm's nodes")).json()
        if any(((n.get("Spec") or {}).get("Labels") or {}).get(label) == "true" for n in nodes):
            return constraint
        info = (await self._request("GET", "/info", "read the engine's swarm state")).json()
        own = str((info.get("Swarm") or {}).get("NodeID") or "")
        if not own:
            raise RuntimeEngineError("cannot place a service with a volume: the engine is not a swarm node")
        raw = (await self._request("GET", f"/nodes/{own}", "inspect this node")).json()
        spec = raw.get("Spec") or {}
        spec["Labels"] = {**(spec.get("Labels") or {}), label: "true"}
        await self._request("POST", f"/nodes/{own}/update", f"label this node {label}",
                            params={"version": raw["Version"]["Index"]}, json=spec)
        return constraint

    async def deploy(self, request: ServiceRequest, on_progress: ProgressCallback) -> UpdateOutcome:
        current = await self._service(request.name)
        if current is None:
            spec = service_spec(request, self.monitor)
            await self._request("POST", "/services/create", f"create service {request.name}", json=spec,
                                headers={"X-Registry-Auth": NO_AUTH})
            return await self._follow_creation(request.name, generation(spec["TaskTemplate"]), on_progress)
        # Keep counting forced updates: going back to 0 would itself look like a change to Swarm.
        force = int(current.spec["TaskTemplate"].get("ForceUpdate") or 0)
        spec = service_spec(request, self.monitor, force)
        await self._update(current, spec, f"update service {request.name}")
        return await self._follow_update(request.name, current.update, generation(spec["TaskTemplate"]), on_progress)

    async def force_update(self, name: str, on_progress: ProgressCallback | None = None) -> UpdateOutcome:
        current = await self._require(name)
        spec = json.loads(json.dumps(current.spec))
        spec["TaskTemplate"]["ForceUpdate"] = int(spec["TaskTemplate"].get("ForceUpdate") or 0) + 1
        await self._update(current, spec, f"restart service {name}")
        return await self._follow_update(name, current.update, generation(spec["TaskTemplate"]), on_progress)

    async def rollback(self, name: str) -> UpdateOutcome:
        current = await self._require(name)
        await self._update(current, current.spec, f"roll service {name} back", rollback=True)
        while True:
            await asyncio.sleep(self.poll)
            service = await self._require(name)
            # An earlier rollback's status stays until this one starts: a new one has a start of its own.
            fresh = service.update.get("StartedAt") != current.update.get("StartedAt")
            state = service.update.get("State", "") if fresh else ""
            if state in ("rollback_completed", "rollback_paused"):
                status = ROLLED_BACK if state == "rollback_completed" else PAUSED
                return UpdateOutcome(status, service.update.get("Message", ""))

    async def scale(self, name: str, replicas: int) -> None:
        current = await self._require(name)
        spec = json.loads(json.dumps(current.spec))
        spec["Mode"] = {"Replicated": {"Replicas": replicas}}
        await self._update(current, spec, f"scale service {name}")
        seen: set[str] = {t["ID"] for t in await self._raw_tasks(current.id)
                          if (t.get("Status") or {}).get("State") in ENDED_BADLY}
        while True:
            tasks = await self._states(name, await self._raw_tasks(current.id))
            failed = [t for t in tasks if t.state in ENDED_BADLY and t.id not in seen]
            if failed and replicas:
                raise RuntimeEngineError(f"a task of {name} failed while scaling to {replicas}: "
                                         f"{failed[0].error or failed[0].message}")
            meant = [t for t in tasks if t.desired_state == "running"]
            lingering = [t for t in tasks if t.desired_state != "running" and t.state in ("running", "starting")]
            if len(meant) == replicas and all(t.running for t in meant) and not lingering:
                return
            await asyncio.sleep(self.poll)

    async def tasks(self, name: str) -> list[TaskState]:
        service = await self._require(name)
        return await self._states(name, await self._raw_tasks(service.id))

    async def logs(self, name: str, tail: int | str, follow: bool = False) -> AsyncIterator[str]:
        service = await self._service(name)
        if service is None:
            return
        names = {t.id: t.name for t in await self.tasks(name)}
        params = {"stdout": "1", "stderr": "1", "timestamps": "1", "details": "1", "tail": str(tail),
                  "follow": "1" if follow else "0"}
        try:
            async with self._streams.http.stream(
                "GET", f"/v{API_VERSION}/services/{service.id}/logs", params=params,
                timeout=httpx.Timeout(None, connect=10),
            ) as response:
                if response.status_code == 404:
                    return
                if response.status_code >= 400:
                    await response.aread()
                    raise RuntimeEngineError(f"cannot read the logs of {name}: {_message(response)}")
                async for line in _lines(_payloads(response.aiter_raw()), tty=False):
                    task_id, named = named_line(line, names, name)
                    if task_id and task_id not in names:  # a task started since: learn its name
                        names.update({t.id: t.name for t in await self.tasks(name)})
                        task_id, named = named_line(line, names, name)
                    yield named
        except httpx.HTTPError as exc:
            raise RuntimeEngineError(f"cannot read the logs of {name}: {exc}") from exc

    async def remove(self, name: str) -> None:
        service = await self._service(name)
        if service is None:
            return
        try:
            await self._request("DELETE", f"/services/{service.id}", f"remove service {name}")
        except NotFound:
            return
        # Its containers go asynchronously; its networks and volumes are in use until they are gone.
        filters = json.dumps({"label": [f"com.docker.swarm.service.id={service.id}"]})
        while (await self._request("GET", "/containers/json", "list containers",
                                   params={"all": "1", "filters": filters})).json():
            await asyncio.sleep(self.poll)

    async def aclose(self) -> None:
        await self._streams.aclose()

    # ---- following what Swarm does

    async def _task_output(self, task: TaskState) -> tuple[str, ...]:
        """The task's last log lines, and its container's last health check output when it is here."""
        lines: list[str] = []
        try:
            async with self._streams.http.stream(
                "GET", f"/v{API_VERSION}/tasks/{task.id}/logs", timeout=CALL_TIMEOUT,
                params={"stdout": "1", "stderr": "1", "tail": str(OUTPUT_LINES)},
            ) as response:
                if response.status_code < 400:
                    lines = [line async for line in _lines(_payloads(response.aiter_raw()), tty=False)]
            if task.container_id:
                raw = (await self._request("GET", f"/containers/{task.container_id}/json", "inspect a task")).json()
                checks = ((raw.get("State") or {}).get("Health") or {}).get("Log") or []
                if checks and checks[-1].get("ExitCode"):
                    said = str(checks[-1].get("Output", "")).strip().splitlines() or [""]
                    lines.append(f"health check: {said[-1]}")
        except (httpx.HTTPError, RuntimeEngineError, NotFound):
            pass  # the outcome stands without the output
        return tuple(lines[-OUTPUT_LINES:])

    async def _snapshot(self, name: str, service_id: str, wanted: Generation) -> list[tuple[TaskState, bool]]:
        raw = await self._raw_tasks(service_id)
        states = {s.id: s for s in await self._states(name, raw)}
        return [(states[t["ID"]], generation(t.get("Spec") or {}) == wanted) for t in raw]

    async def _report(
        self, tasks: list[tuple[TaskState, bool]], last: tuple[str, list[TaskState]] | None,
        on_progress: ProgressCallback | None,
    ) -> tuple[str, list[TaskState]] | None:
        """Tells `on_progress` of a new phase or a change in the tasks; answers what it last told."""
        phase = progress_phase(tasks)
        if phase is None or on_progress is None:
            return last
        current = [t for t, _ in tasks if t.desired_state == "running" or t.state in ("running", "starting")]
        told = (phase, current)
        if last is None or _shown(last) != _shown(told):
            await on_progress(phase, current)
            return told
        return last

    async def _follow_creation(
        self, name: str, wanted: Generation, on_progress: ProgressCallback,
    ) -> UpdateOutcome:
        service = await self._require(name)
        last: tuple[str, list[TaskState]] | None = None
        while True:
            tasks = await self._snapshot(name, service.id, wanted)
            last = await self._report(tasks, last, on_progress)
            failed = [t for t, new in tasks if new and t.state in ENDED_BADLY]
            if failed:
                message = f"task {failed[0].name} failed: {failed[0].error or failed[0].message}"
                return UpdateOutcome(FAILED, message, failed[0], await self._task_output(failed[0]))
            meant = [t for t, _ in tasks if t.desired_state == "running"]
            if len(meant) == service.replicas and all(t.running for t in meant):
                return UpdateOutcome(COMPLETED, "")
            await asyncio.sleep(self.poll)

    async def _follow_update(
        self, name: str, before: dict[str, Any], wanted: Generation, on_progress: ProgressCallback | None,
    ) -> UpdateOutcome:
        """Until Swarm's update status (a new one: its start differs from `before`'s) reaches a final
        state, or, when the change needed no task replaced (no update starts), every task runs the spec."""
        last: tuple[str, list[TaskState]] | None = None
        reason = ""  # Swarm's message when it started rolling back: it names the failed task
        while True:
            service = await self._require(name)
            update = service.update if service.update.get("StartedAt") != before.get("StartedAt") else {}
            state = update.get("State", "")
            if state == "rollback_started":
                reason = update.get("Message", "") or reason
            tasks = await self._snapshot(name, service.id, wanted)
            if state in ("", "updating"):
                last = await self._report(tasks, last, on_progress)
            if state in FINAL_STATES:
                return await self._outcome(FINAL_STATES[state], reason or update.get("Message", ""), tasks)
            meant = [t for t, _ in tasks if t.desired_state == "running"]
            if not state and len(meant) == service.replicas and all(new and t.running for t, new in tasks
                                                                    if t.desired_state == "running"):
                return UpdateOutcome(COMPLETED, "")
            await asyncio.sleep(self.poll)

    async def _outcome(self, status: str, message: str, tasks: list[tuple[TaskState, bool]]) -> UpdateOutcome:
        if status == COMPLETED:
            return UpdateOutcome(COMPLETED, message)
        named = failed_task_id(message)
        candidates = [t for t, new in tasks if (t.id == named if named else new and t.state in ENDED_BADLY)]
        failed = candidates[-1] if candidates else None
        output = await self._task_output(failed) if failed else ()
        return UpdateOutcome(status, message, failed, output)


def _shown(told: tuple[str, list[TaskState]]) -> tuple[str, list[tuple[str, str, str]]]:
    """What a progress report shows: the phase and each task's state (not its timestamps)."""
    phase, tasks = told
    return phase, [(t.id, t.state, t.desired_state) for t in tasks]
