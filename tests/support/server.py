"""A real `mist serve` process for integration tests: started, stopped, or killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from mist.proxy.caddy import CaddyProxy


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MistServer:
    def __init__(
        self, data_dir: Path, workers: int = 2, template_images: dict[str, str] | None = None,
        proxy_port: int | None = None, proxy_admin_port: int | None = None, **settings: str,
    ) -> None:
        self.data_dir = data_dir
        self.workers = workers
        self.template_images = template_images or {}
        self.port = free_port()
        # Caddy outlives Mist on purpose: a restarted server is handed the same ports to adopt it.
        self.proxy_port = proxy_port or free_port()
        self.proxy_admin_port = proxy_admin_port or free_port()
        self.settings = settings
        self.log_path = data_dir.parent / "mist-server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy_port}"

    def stop_proxy(self) -> None:
        CaddyProxy(admin=f"127.0.0.1:{self.proxy_admin_port}", state_dir=self.data_dir / "caddy").stop()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> MistServer:
        env = {
            **os.environ,
            "MIST_DATA_DIR": str(self.data_dir),
            "MIST_WORKERS": str(self.workers),
            "MIST_TEMPLATE_IMAGES": json.dumps(self.template_images),
            "MIST_LOG_LEVEL": "info",
            "MIST_PROXY_LISTEN": f"127.0.0.1:{self.proxy_port}",
            "MIST_PROXY_ADMIN": f"127.0.0.1:{self.proxy_admin_port}",
            **{f"MIST_{k.upper()}": v for k, v in self.settings.items()},
        }
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mist.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mist serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/auth/me", timeout=1).status_code == 401:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"mist serve did not answer within {timeout} s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except FileNotFoundError:
            return ""
