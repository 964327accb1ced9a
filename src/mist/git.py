"""Safe git: validated remote URLs, a bare mirror per app, exact commits.

Every command is an argument list, with prompts off and only network transports allowed for remotes.
The mirror is the one place that talks to the remote; a build checks out from it locally.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mist.errors import GitError, InvalidInput

LineSink = Callable[[str], Awaitable[None]]

_SCHEMES = ("https", "http", "ssh", "git")
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:(?!//)[A-Za-z0-9._~/-][^\s]*$")
_HOST = re.compile(r"^[a-z0-9.-]+$|^[0-9a-f:.]+$")
_FULL_HASH = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def validate_remote_url(url: str) -> str:
    """Accepts https, http, ssh, git and scp-style remotes; refuses anything git could run or read
    locally (file://, ext::, plain paths, option-like strings)."""
    if not isinstance(url, str) or not url:
        raise InvalidInput("gitRepository: must be a non-empty git URL")
    if len(url) > 2048:
        raise InvalidInput("gitRepository: longer than 2048 characters")
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c.isspace() for c in url):
        raise InvalidInput("gitRepository: must not contain whitespace or control characters")
    if url.startswith("-"):
        raise InvalidInput("gitRepository: must not start with '-'")
    if "::" in url.split("/", 1)[0]:
        raise InvalidInput("gitRepository: transport helpers such as 'ext::' are not allowed")
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme.lower() not in _SCHEMES:
            raise InvalidInput(
                f"gitRepository: scheme '{parts.scheme}' is not allowed; use https, http, ssh or git"
            )
        try:
            host = parts.hostname or ""
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError as exc:
            raise InvalidInput("gitRepository: the URL has a malformed port") from exc
        if host.startswith("-"):
            raise InvalidInput("gitRepository: the host must not start with '-'")
        if not _HOST.match(host):
            raise InvalidInput("gitRepository: the URL has no valid host")
        if not parts.path or parts.path == "/":
            raise InvalidInput("gitRepository: the URL names no repository path")
        return url
    if _SCP_LIKE.match(url):
        host = url.split("@", 1)[-1].split(":", 1)[0]
        if host.startswith("-"):
            raise InvalidInput("gitRepository: the host must not start with '-'")
        return url
    raise InvalidInput(
        "gitRepository: not a git URL; use https://, http://, ssh://, git:// or user@host:path"
    )


_BAD_REF = re.compile(r"(^[-./])|(\.\.)|([\x00-\x20\x7f~^:?*\[\\])|(@\{)|(\.lock$)|(/$)|(\.$)|(//)")


def validate_branch(branch: str) -> str:
    if not isinstance(branch, str) or not branch or len(branch) > 255 or _BAD_REF.search(branch):
        raise InvalidInput("gitBranch: not a valid branch name")
    return branch


def url_secrets(url: str) -> list[str]:
    """Credentials embedded in a remote URL, so logs can redact them."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    return [s for s in (parts.password, parts.username if parts.password is None else None) if s]


def redact_url(url: str) -> str:
    """The URL as it may be shown: embedded credentials replaced, the rest kept."""
    for secret in url_secrets(url):
        url = url.replace(f"{secret}@", "********@").replace(f":{secret}@", ":********@")
    return url


@dataclass(frozen=True)
class Commit:
    hash: str
    message: str


class GitRepos:
    """Per-app bare mirrors under one directory."""

    def __init__(self, root: Path, timeout: float) -> None:
        self.root = root
        self.timeout = timeout
        self._locks: dict[int, asyncio.Lock] = {}
        self._remotes: dict[int, str] = {}  # the URL each mirror's origin was last set to

    def mirror_path(self, app_id: int) -> Path:
        return self.root / f"app-{app_id}.git"

    def _lock(self, app_id: int) -> asyncio.Lock:
        return self._locks.setdefault(app_id, asyncio.Lock())

    async def resolve(self, app_id: int, url: str, branch: str) -> Commit:
        """Fetches the branch into the app's mirror and returns its exact tip."""
        validate_remote_url(url)
        validate_branch(branch)
        async with self._lock(app_id):
            mirror = await self._ensure_mirror(app_id, url)
            ref = f"refs/heads/{branch}"
            await self._git(
                ["fetch", "--prune", "--no-tags", "--no-show-forced-updates", "--no-write-fetch-head",
                 "origin", f"+{ref}:{ref}"],
                cwd=mirror,
                what=f"fetch branch '{branch}'",
            )
            out = await self._git(["log", "-1", "--format=%H%x1f%s", ref, "--"], cwd=mirror)
            commit_hash, _, subject = out.strip().partition("\x1f")
            return Commit(commit_hash, subject)

    async def checkout(
        self, app_id: int, url: str, commit: str, dest: Path, sink: LineSink
    ) -> None:
        """Puts exactly `commit` into `dest`, fetching it into the mirror only if it is missing."""
        if not _FULL_HASH.match(commit):
            raise GitError(f"'{commit}' is not a full commit hash")
        async with self._lock(app_id):
            mirror = await self._ensure_mirror(app_id, url)
            if not await self._has_commit(mirror, commit):
                await sink(f"Fetching commit {commit[:12]} into the mirror...")
                await self._git(
                    ["fetch", "--no-tags", "origin", commit], cwd=mirror, what="fetch the commit", sink=sink
                )
            dest.mkdir(parents=True)
            await sink(f"Checking out {commit} into '{dest}'...")
            # Straight from the mirror into the build directory: no repository is created there,
            # so the build context never holds .git (nor any credential in its config).
            index = dest.parent / f".{dest.name}.index"
            try:
                await self._git(
                    ["--work-tree", str(dest), "restore", f"--source={commit}", "--worktree", "--", "."],
                    cwd=mirror, what=f"check out {commit[:12]}", sink=sink, index_file=index,
                )
            finally:
                index.unlink(missing_ok=True)

    def forget(self, app_id: int) -> None:
        self._remotes.pop(app_id, None)
        shutil.rmtree(self.mirror_path(app_id), ignore_errors=True)

    async def _ensure_mirror(self, app_id: int, url: str) -> Path:
        mirror = self.mirror_path(app_id)
        if not (mirror / "HEAD").exists():
            shutil.rmtree(mirror, ignore_errors=True)
            mirror.parent.mkdir(parents=True, exist_ok=True)
            await self._git(["init", "--quiet", "--bare", str(mirror)], cwd=self.root)
            await self._git(["remote", "add", "origin", "--", url], cwd=mirror)
        elif self._remotes.get(app_id) != url:
            await self._git(["remote", "set-url", "origin", "--", url], cwd=mirror)
        self._remotes[app_id] = url
        return mirror

    async def _has_commit(self, mirror: Path, commit: str) -> bool:
        try:
            await self._git(["cat-file", "-e", f"{commit}^{{commit}}"], cwd=mirror)
            return True
        except GitError:
            return False

    async def _git(
        self, args: list[str], cwd: Path, what: str = "", sink: LineSink | None = None,
        index_file: Path | None = None,
    ) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
            # Remotes may only use network transports; the local mirror clone opts in explicitly.
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }
        if index_file is not None:
            env["GIT_INDEX_FILE"] = str(index_file)
        proc = await asyncio.create_subprocess_exec(
            # No surprise pauses: background maintenance never runs inside a deploy.
            "git", "-c", "gc.auto=0", "-c", "maintenance.auto=false", *args, cwd=cwd, env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        errors: list[str] = []

        async def read_stderr() -> None:
            assert proc.stderr is not None
            async for raw in proc.stderr:
                for line in raw.decode(errors="replace").replace("\r", "\n").splitlines():
                    if line.strip():
                        errors.append(line)
                        if sink is not None:
                            await sink(line)

        try:
            async with asyncio.timeout(self.timeout):
                stdout, _, _ = await asyncio.gather(proc.stdout.read(), read_stderr(), proc.wait())
        except TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise GitError(f"git could not {what or args[0]} within {self.timeout:.0f} s") from exc
        except asyncio.CancelledError:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
        if proc.returncode != 0:
            detail = next((e for e in reversed(errors) if e.startswith(("fatal:", "error:"))), "")
            detail = detail or (errors[-1] if errors else f"exit code {proc.returncode}")
            raise GitError(f"git could not {what or args[0]}: {detail}")
        return stdout.decode(errors="replace")
