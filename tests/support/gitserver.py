"""A real ``git daemon`` on loopback, serving throwaway repositories.

Repos are bare under ``root`` (the daemon's base path); each has a working
clone under a sibling directory that the daemon does not export, used only to
author commits.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

# Fixed identity and no user/system config, so commits work on a bare machine
# and nobody's ~/.gitconfig (signing, hooks, templates) leaks into tests.
GIT_ENV: dict[str, str] = {
    "GIT_AUTHOR_NAME": "Mist Test",
    "GIT_AUTHOR_EMAIL": "test@mist.invalid",
    "GIT_COMMITTER_NAME": "Mist Test",
    "GIT_COMMITTER_EMAIL": "test@mist.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_TERMINAL_PROMPT": "0",
}


def git(*args: str | os.PathLike[str], cwd: str | os.PathLike[str] | None = None) -> str:
    """Run git with the test identity; return stripped stdout, raise with stderr on failure."""
    proc = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *map(str, args)],
        cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout.strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class GitServer:
    def __init__(self, base_dir: str | os.PathLike[str] | None = None) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if base_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mist-gitserver-")
            base_dir = self._tmp.name
        self.root = Path(base_dir) / "repos"     # exported by the daemon
        self.work_root = Path(base_dir) / "work"  # authoring clones, not exported
        self.root.mkdir(parents=True, exist_ok=True)
        self.work_root.mkdir(parents=True, exist_ok=True)
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = Path(base_dir) / "daemon.log"

    # ------------------------------------------------------------------ lifecycle

    def start(self, attempts: int = 5, timeout: float = 10.0) -> GitServer:
        errors: list[str] = []
        for _ in range(attempts):
            # The probe port can be grabbed by someone else before the daemon
            # binds it; the daemon then exits and we just try another port.
            port = _free_port()
            with open(self._log, "wb") as log:
                proc = subprocess.Popen(
                    ["git", "daemon", "--reuseaddr", "--export-all",
                     f"--base-path={self.root}", "--listen=127.0.0.1", f"--port={port}",
                     "--informative-errors", str(self.root)],
                    env={**os.environ, **GIT_ENV}, stdout=log, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # own process group: stop() reaps upload-pack children too
                )
            if self._wait_listening(proc, port, timeout):
                self._proc, self.port = proc, port
                return self
            self._kill(proc)
            errors.append(f"port {port}: {self._log.read_text(errors='replace').strip()}")
        raise RuntimeError("git daemon did not start:\n" + "\n".join(errors))

    @staticmethod
    def _wait_listening(proc: subprocess.Popen[bytes], port: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        if self._proc is not None:
            self._kill(self._proc)
            self._proc = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> GitServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ repos

    def url_for(self, name: str) -> str:
        if self.port is None:
            raise RuntimeError("GitServer not started")
        return f"git://127.0.0.1:{self.port}/{name}.git"

    def bare_path(self, name: str) -> Path:
        return self.root / f"{name}.git"

    def work_path(self, name: str) -> Path:
        return self.work_root / name

    def create_repo(self, name: str, files: Mapping[str, str | bytes],
                    message: str = "initial", branch: str = "main") -> str:
        """Create ROOT/name.git with one commit on ``branch`` (also its HEAD); return the sha. A repo of
        that name from an earlier test (the same test on another database) is replaced."""
        bare, work = self.bare_path(name), self.work_path(name)
        for path in (bare, work):
            shutil.rmtree(path, ignore_errors=True)
        bare.parent.mkdir(parents=True, exist_ok=True)
        work.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", "--bare", f"--initial-branch={branch}", bare)
        git("init", "--quiet", f"--initial-branch={branch}", work)
        git("remote", "add", "origin", bare, cwd=work)
        return self.commit(name, files, message, branch=branch)

    def commit(self, name: str, files: Mapping[str, str | bytes], message: str,
               branch: str = "main", delete: Iterable[str] = ()) -> str:
        """Write/delete files on ``branch``, commit, push; return the full sha.

        A branch that does not exist yet is forked from the clone's current commit.
        Empty commits are allowed so tests can force a new sha without changes.
        """
        work = self.work_path(name)
        current = git("symbolic-ref", "--short", "HEAD", cwd=work)
        if branch != current:
            exists = git("branch", "--list", branch, cwd=work) != ""
            git("checkout", "--quiet", *([] if exists else ["-b"]), branch, cwd=work)
        for rel, content in files.items():
            path = work / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, str):
                content = content.encode()
            path.write_bytes(content)
        deletions = list(delete)
        if deletions:
            git("rm", "--quiet", "-r", "--", *deletions, cwd=work)
        git("add", "--all", cwd=work)
        git("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
        git("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", cwd=work)
        return git("rev-parse", "HEAD", cwd=work)
