"""The pure parts of the Swarm services adapter: the health command (run here by /bin/sh with only one of
curl, wget or python3 on its PATH, as in an app image), the service spec, task states, progress phases and
merged log lines."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mist.errors import RuntimeEngineError
from mist.runtime.services import (
    STARTING_NEW,
    STOPPING_OLD,
    NetworkAttachment,
    ServiceHealth,
    ServiceRequest,
    TaskState,
)
from mist.runtime.swarmservices import (
    NS,
    failed_task_id,
    generation,
    health_command,
    named_line,
    progress_phase,
    restart_condition,
    service_spec,
    task_state,
)

TOOLS = {"curl": shutil.which("curl"), "wget": shutil.which("wget"), "python3": sys.executable}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/healthz" else 500)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """Accepts connections and never says a word (a database speaking only when spoken to)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture(scope="module")
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def run_check(tmp_path: Path, tool: str | None, port: int, path: str = "") -> subprocess.CompletedProcess[str]:
    """Runs the health test as Docker would (`/bin/sh -c`), with `tool` the only program on PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    if tool is not None and not (bin_dir / tool).exists():
        found = TOOLS[tool]
        if found is None:
            pytest.skip(f"{tool} is not installed here")
        os.symlink(found, bin_dir / tool)
    kind, script = health_command(port, ServiceHealth(path=path, timeout=1))
    assert kind == "CMD-SHELL"
    return subprocess.run(["/bin/sh", "-c", script], env={"PATH": str(bin_dir)}, capture_output=True, text=True,
                          timeout=30)


@pytest.mark.parametrize("tool", ["curl", "wget", "python3"])
def test_the_http_check_passes_below_400_and_fails_otherwise_with_any_one_tool(
    tmp_path: Path, tool: str, http_port: int, closed_port: int,
) -> None:
    assert run_check(tmp_path, tool, http_port, "/healthz").returncode == 0
    failing = run_check(tmp_path, tool, http_port, "broken")
    assert failing.returncode == 1
    if tool != "wget":  # quiet: its exit code says it all
        assert "500" in failing.stderr and len(failing.stderr.strip().splitlines()) == 1, failing.stderr
    assert run_check(tmp_path, tool, closed_port, "/healthz").returncode == 1


@pytest.mark.parametrize("tool", ["curl", "wget", "python3"])
def test_the_tcp_check_passes_when_the_port_accepts_even_without_an_answer(
    tmp_path: Path, tool: str, http_port: int, silent_port: int, closed_port: int,
) -> None:
    assert run_check(tmp_path, tool, http_port).returncode == 0
    assert run_check(tmp_path, tool, silent_port).returncode == 0
    assert run_check(tmp_path, tool, closed_port).returncode == 1


def test_without_curl_wget_or_python3_the_check_fails_saying_why(tmp_path: Path, http_port: int) -> None:
    result = run_check(tmp_path, None, http_port, "/healthz")
    assert result.returncode == 1
    assert "none of curl, wget or python3" in result.stderr


def test_the_health_path_cannot_break_out_of_the_shell_command(tmp_path: Path, http_port: int) -> None:
    marker = tmp_path / "ran"
    result = run_check(tmp_path, "python3", http_port, f"x'; touch {marker}; echo '")
    assert result.returncode == 1 and not marker.exists()


REQUEST = ServiceRequest(
    name="mist-app-3", image="127.0.0.1:5000/mist-app-3@sha256:" + "a" * 64,
    labels={"mist.app": "3", "mist.deployment": "17"}, env={"PORT": "8000", "A": "b=c"}, replicas=2,
    networks=(NetworkAttachment("mist-project-1", ("web",)),), port=8000,
    health=ServiceHealth(path="/healthz", interval=2, timeout=5, retries=3, start_period=1.5),
    command=["python3", "app.py"], volumes={"mist-app-3-data": "/data"},
    constraints=("node.labels.mist.volumes.app-3 == true",), cpu_limit=0.5, memory_limit=256,
    restart_policy="on-failure", stop_timeout=7,
)


def test_a_request_becomes_a_dnsrr_service_updated_start_first_and_rolled_back_by_swarm() -> None:
    spec = service_spec(REQUEST, monitor=5)
    assert spec["Name"] == "mist-app-3" and spec["Labels"] == REQUEST.labels
    assert spec["EndpointSpec"] == {"Mode": "dnsrr"}
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    assert spec["UpdateConfig"] == {"Parallelism": 1, "Delay": 0, "FailureAction": "rollback",
                                    "Monitor": 5 * NS, "MaxFailureRatio": 0, "Order": "start-first"}
    assert spec["RollbackConfig"]["FailureAction"] == "pause"
    template = spec["TaskTemplate"]
    container = template["ContainerSpec"]
    assert container["Image"] == REQUEST.image and container["Labels"] == REQUEST.labels
    assert container["Env"] == ["PORT=8000", "A=b=c"]
    assert container["Args"] == ["python3", "app.py"] and "Command" not in container  # the ENTRYPOINT stays
    assert container["Mounts"] == [
        {"Type": "volume", "Source": "mist-app-3-data", "Target": "/data", "ReadOnly": False}]
    assert container["StopGracePeriod"] == 7 * NS and container["Init"] is True
    health = container["Healthcheck"]
    assert health["Test"][0] == "CMD-SHELL" and "127.0.0.1:8000/healthz" in health["Test"][1]
    assert (health["Interval"], health["Timeout"], health["Retries"], health["StartPeriod"]) == (
        2 * NS, 5 * NS, 3, int(1.5 * NS))
    assert template["Resources"] == {"Limits": {"NanoCPUs": NS // 2, "MemoryBytes": 256 * 1024 * 1024}}
    assert template["RestartPolicy"]["Condition"] == "on-failure"
    assert template["Placement"] == {"Constraints": ["node.labels.mist.volumes.app-3 == true"]}
    assert template["Networks"] == [{"Target": "mist-project-1", "Aliases": ["web"]}]
    assert template["ForceUpdate"] == 0


def test_a_plain_request_has_no_health_check_limits_or_command() -> None:
    spec = service_spec(ServiceRequest("mist-app-1", "img@sha256:b", {}, order="stop-first"), monitor=2, force_update=4)
    container = spec["TaskTemplate"]["ContainerSpec"]
    assert "Healthcheck" not in container and "Args" not in container
    assert spec["TaskTemplate"]["Resources"] == {"Limits": {}}
    assert spec["TaskTemplate"]["ForceUpdate"] == 4
    assert spec["UpdateConfig"]["Order"] == spec["RollbackConfig"]["Order"] == "stop-first"


def test_restart_policies_map_to_swarm_conditions() -> None:
    assert [restart_condition(p) for p in ("no", "on-failure", "always", "unless-stopped")] == [
        "none", "on-failure", "any", "any"]
    with pytest.raises(RuntimeEngineError, match="sometimes"):
        restart_condition("sometimes")


def raw_task(task_id: str, slot: int, state: str, desired: str = "running", deployment: str = "17",
             **status: object) -> dict[str, object]:
    return {
        "ID": task_id, "Slot": slot, "NodeID": "node1", "DesiredState": desired,
        "Spec": {"ContainerSpec": {"Image": "img@sha256:b", "Labels": {"mist.deployment": deployment},
                                   "Healthcheck": {"Test": ["CMD-SHELL", "true"]}}},
        "Status": {"State": state, "Message": "started", "Timestamp": "2030-01-01T00:00:00Z", **status},
    }


def test_a_task_is_named_by_its_slot_with_its_node_and_inferred_health() -> None:
    raw = raw_task("t" * 25, 2, "running", ContainerStatus={"ContainerID": "c1", "PID": 9})
    state = task_state(raw, "mist-app-3", {"node1": "manager-1"})
    assert (state.name, state.node, state.health, state.container_id) == ("mist-app-3.2", "manager-1", "healthy", "c1")
    assert state.exit_code is None and state.deployment == "17" and state.image == "img@sha256:b"
    assert task_state(raw_task("u" * 25, 1, "starting"), "s", {}).health == "starting"
    assert task_state(raw, "s", {}, health="unhealthy").health == "unhealthy"  # as inspected on its node
    failed = task_state(raw_task("v" * 25, 1, "failed", Err="task: non-zero exit (3)",
                                 ContainerStatus={"ContainerID": "c2", "ExitCode": 3}), "s", {})
    assert (failed.exit_code, failed.error, failed.node) == (3, "task: non-zero exit (3)", "")


def test_generation_tells_the_new_spec_from_the_old() -> None:
    old, new = raw_task("a" * 25, 1, "running", deployment="16"), raw_task("b" * 25, 1, "running")
    assert generation(old["Spec"]) != generation(new["Spec"])  # type: ignore[arg-type]
    assert generation(new["Spec"]) == ("img@sha256:b", "17", 0)  # type: ignore[arg-type]


def state(task_id: str, current: str, desired: str = "running") -> TaskState:
    return task_state(raw_task(task_id * 25, 1, current, desired), "s", {})


def test_progress_is_starting_new_then_stopping_old() -> None:
    assert progress_phase([(state("a", "running"), False), (state("b", "starting"), True)]) == STARTING_NEW
    assert progress_phase([(state("a", "running", "shutdown"), False), (state("b", "running"), True)]) == STOPPING_OLD
    assert progress_phase([(state("a", "shutdown", "shutdown"), False), (state("b", "running"), True)]) is None


def test_service_log_lines_are_named_after_their_task() -> None:
    line = ("2030-01-01T00:00:00.000000001Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
            "com.docker.swarm.task.id=abc123 GET / 200 ok")
    assert named_line(line, {"abc123": "mist-app-3.2"}, "mist-app-3") == (
        "abc123", "2030-01-01T00:00:00.000000001Z mist-app-3.2 GET / 200 ok")
    assert named_line(line, {}, "mist-app-3")[1].split(" ")[1] == "mist-app-3.abc123"
    assert named_line("2030-01-01T00:00:00Z plain", {}, "svc") == ("", "2030-01-01T00:00:00Z svc plain")


def test_the_failed_task_is_read_from_swarms_message() -> None:
    message = "update rolled back due to failure or early termination of task lkzq0cvt4fnfn0ftz4ouygnfr"
    assert failed_task_id(message) == "lkzq0cvt4fnfn0ftz4ouygnfr"
    assert failed_task_id("rollback completed") == ""
