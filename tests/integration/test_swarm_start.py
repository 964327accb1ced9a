"""`mist serve` with MIST_RUNTIME=swarm refuses to start on an engine that cannot manage a swarm, in one
line saying what to do: the test engine outside the swarm suites is a plain engine."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import docker
import pytest


def test_swarm_mode_on_a_plain_engine_refuses_to_start_saying_how_to_make_a_swarm(
    tmp_path: Path, engine: docker.DockerClient
) -> None:
    if (engine.info().get("Swarm") or {}).get("LocalNodeState") not in ("", "inactive"):
        pytest.skip("the test engine is in a swarm (a swarm suite left it so)")
    env = {**os.environ, "MIST_DATA_DIR": str(tmp_path / "data"), "MIST_RUNTIME": "swarm",
           "MIST_PROXY_ENABLED": "false", "MIST_REGISTRY": "127.0.0.1:5000"}
    proc = subprocess.run([sys.executable, "-m", "mist.cli", "serve", "--port", "1"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("mist: cannot start: the Docker engine is not part of a swarm")
    assert "docker swarm init --advertise-addr" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "data" / "mist.db").exists()  # nothing was made


def test_swarm_mode_without_a_registry_refuses_to_start_naming_the_setting(tmp_path: Path) -> None:
    env = {**os.environ, "MIST_DATA_DIR": str(tmp_path / "data"), "MIST_RUNTIME": "swarm",
           "MIST_PROXY_ENABLED": "false", "MIST_REGISTRY": ""}
    proc = subprocess.run([sys.executable, "-m", "mist.cli", "serve", "--port", "1"], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.startswith("mist: cannot start: MIST_RUNTIME=swarm needs MIST_REGISTRY")
    assert not (tmp_path / "data" / "mist.db").exists()
