"""Safe git: validated remote URLs, a bare mirror per app, exact commits, private remotes.

Every command is an argument list, with prompts off and only network transports allowed for remotes.
The mirror is the one place that talks to the remote; a build checks out from it locally.

Private remotes: an ssh remote is reached with the app's deploy key only, and the host keys it
presents are pinned per app on first use; an http(s) remote gets the app's access token from an
askpass program, so the token is never in a URL, a config file or a command line.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mist.errors import GitError, InvalidInput

LineSink = Callable[[str], Awaitable[None]]

_SCHEMES = ("https", "http", "ssh", "git")
_SCP_LIKE = re.compile(r"^(?:[A-Za-z0-9._~-]+@)?[A-Za-z0-9.-]+:(?!//)[A-Za-z0-9._~/-][^\s]*$")
_HOST = re.compile(r"^[a-z0-9.-]+$|^[0-9a-f:.]+$")
_FULL_HASH = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


def _check_host_length(host: str) -> None:
    # No host name is longer (DNS), and a git token's origin (scheme://host:port) is stored in 300.
    if len(host) > 253:
        raise InvalidInput("gitRepository: the host name is longer than 253 characters")


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
        _check_host_length(host)
        if not parts.path or parts.path == "/":
            raise InvalidInput("gitRepository: the URL names no repository path")
        return url
    if _SCP_LIKE.match(url):
        host = url.split("@", 1)[-1].split(":", 1)[0]
        if host.startswith("-"):
            raise InvalidInput("gitRepository: the host must not start with '-'")
        _check_host_length(host)
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


_DEFAULT_PORTS = {"https": 443, "http": 80, "ssh": 22, "git": 9418}


def url_origin(url: str) -> str:
    """`scheme://host:port` of a remote: what a git token is bound to, so that pointing the app at
    another server never takes the token along. '' when the URL has no recognisable host."""
    if "://" in url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        try:
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return ""
    elif _SCP_LIKE.match(url):
        scheme, host, port = "ssh", url.split("@", 1)[-1].split(":", 1)[0].lower(), None
    else:
        return ""
    if not host:
        return ""
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port or _DEFAULT_PORTS.get(scheme, '')}"


def is_ssh_url(url: str) -> bool:
    return url.lower().startswith("ssh://") or ("://" not in url and bool(_SCP_LIKE.match(url)))


def is_http_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def generate_deploy_key(comment: str) -> tuple[str, str]:
    """A new ed25519 key pair: (private key in OpenSSH format, public key line)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, f"{public.decode()} {comment}"


@dataclass(frozen=True)
class GitAuth:
    """The credentials of one app's remote. Never printed: both fields stay out of the repr."""

    ssh_key: str = field(default="", repr=False)  # OpenSSH private key
    token: str = field(default="", repr=False)
    token_origin: str = ""  # url_origin() of the repository the token was saved for; sent nowhere else


@dataclass(frozen=True)
class Commit:
    hash: str
    message: str


CHECKOUT_FILE_MAX_BYTES = 1024 * 1024  # .dockerignore, Dockerfile: text files of a few KiB


def path_problem(root: Path, relative: str, want_dir: bool) -> str:
    """What is wrong with `relative` as a directory (or file) of the checkout at `root`, symlinks
    followed: "" when it is one, inside the repository."""
    base = root.resolve()
    target = (root / relative).resolve()
    if target != base and base not in target.parents:
        return "points outside the repository"
    if not (target.is_dir() if want_dir else target.is_file()):
        return f"names no {'directory' if want_dir else 'file'} in the commit"
    return ""


def checkout_file(root: Path, relative: str, max_bytes: int = CHECKOUT_FILE_MAX_BYTES) -> Path | None:
    """The real path of a file Mist reads from a checkout, once it is safe to read; None if absent.

    A repository chooses what its files are: a committed symlink may point at /dev/zero or at the
    server's own files. So the file must, symlinks followed, stay inside `root`, be a regular file
    (not a device, FIFO or directory) and be at most `max_bytes`."""
    path = root / relative
    try:
        path.lstat()
    except FileNotFoundError:
        return None
    base, target = root.resolve(), path.resolve()
    if target != base and base not in target.parents:
        raise GitError(
            f"'{relative}' in the repository is a symlink pointing outside it;"
            " Mist reads only files inside the checkout"
        )
    try:
        info = target.stat()
    except FileNotFoundError:
        raise GitError(f"'{relative}' in the repository is a symlink to nothing") from None
    if not stat.S_ISREG(info.st_mode):
        raise GitError(f"'{relative}' in the repository is not a regular file")
    if info.st_size > max_bytes:
        raise GitError(f"'{relative}' in the repository is larger than {max_bytes // 1024} KiB")
    return target


def read_checkout_file(root: Path, relative: str, max_bytes: int = CHECKOUT_FILE_MAX_BYTES) -> bytes | None:
    """The contents of `checkout_file`; never more than `max_bytes`, whatever the file turns into."""
    target = checkout_file(root, relative, max_bytes)
    if target is None:
        return None
    with open(target, "rb", opener=lambda p, flags: os.open(p, flags | os.O_NOFOLLOW)) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise GitError(f"'{relative}' in the repository is larger than {max_bytes // 1024} KiB")
    return data


# Run by git as GIT_SSH (without a shell): ssh with the app's key only, no user or system config,
# and the app's own pinned host keys.
_SSH_HELPER = """#!{python}
import os, sys
args = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
        "-o", "IdentityAgent=none", "-o", "StrictHostKeyChecking=accept-new",
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", 'UserKnownHostsFile="%s"' % os.environ["MIST_SSH_KNOWN_HOSTS"],
        "-i", os.environ["MIST_SSH_KEY"]]
os.execvp("ssh", args + sys.argv[1:])
"""

# Run by git as GIT_ASKPASS: answers the password prompt with the token. A user name written in
# the URL is used as given; otherwise any name works with the token on GitHub, GitLab and Gitea.
# git names the server in the prompt ("Password for 'https://user@host:port': "); the token is
# given only when that is the origin it was saved for, not to a host a redirect led git to.
_ASKPASS_HELPER = """#!{python}
import os, sys
from urllib.parse import urlsplit
prompt = sys.argv[1] if len(sys.argv) > 1 else ""
if prompt.lower().startswith("username"):
    print("x-access-token")
    sys.exit(0)
asked = urlsplit(prompt.partition("'")[2].rpartition("'")[0])
scheme, host = asked.scheme.lower(), (asked.hostname or "").lower()
port = asked.port or {"http": 80, "https": 443}.get(scheme, "")
if f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}" != os.environ["MIST_GIT_TOKEN_ORIGIN"]:
    sys.exit("mist: the git token is not sent to " + scheme + "://" + host)
print(os.environ["MIST_GIT_TOKEN"])
"""


class GitRepos:
    """Per-app bare mirrors under one directory."""

    def __init__(self, root: Path, timeout: float, ca_file: Path | None = None) -> None:
        self.root = root
        self.timeout = timeout
        self.ca_file = ca_file
        self._locks: dict[int, asyncio.Lock] = {}
        self._remotes: dict[int, str] = {}  # the URL each mirror's origin was last set to
        self._helpers: set[str] = set()  # helper programs written by this process

    def mirror_path(self, app_id: int) -> Path:
        return self.root / f"app-{app_id}.git"

    def known_hosts_path(self, app_id: int) -> Path:
        return self.root / "known_hosts" / f"app-{app_id}"

    async def forget_host_keys(self, app_id: int) -> None:
        await asyncio.to_thread(self.known_hosts_path(app_id).unlink, missing_ok=True)

    def _lock(self, app_id: int) -> asyncio.Lock:
        return self._locks.setdefault(app_id, asyncio.Lock())

    async def resolve(self, app_id: int, url: str, branch: str, auth: GitAuth | None = None) -> Commit:
        """Fetches the branch into the app's mirror and returns its exact tip."""
        validate_remote_url(url)
        validate_branch(branch)
        async with self._lock(app_id):
            mirror = await self._ensure_mirror(app_id, url)
            ref = f"refs/heads/{branch}"
            await self._fetch(
                app_id, url, auth, mirror, f"fetch branch '{branch}'",
                ["--prune", "--no-tags", "--no-show-forced-updates", "--no-write-fetch-head",
                 "origin", f"+{ref}:{ref}"],
            )
            out = await self._git(["log", "-1", "--format=%H%x1f%s", ref, "--"], cwd=mirror)
            commit_hash, _, subject = out.strip().partition("\x1f")
            return Commit(commit_hash, subject)

    async def checkout(
        self, app_id: int, url: str, commit: str, dest: Path, sink: LineSink, auth: GitAuth | None = None
    ) -> None:
        """Puts exactly `commit` into `dest`, fetching it into the mirror only if it is missing."""
        if not _FULL_HASH.match(commit):
            raise GitError(f"'{commit}' is not a full commit hash")
        async with self._lock(app_id):
            mirror = await self._ensure_mirror(app_id, url)
            if not await self._has_commit(mirror, commit):
                await sink(f"Fetching commit {commit[:12]} into the mirror...")
                await self._fetch(app_id, url, auth, mirror, "fetch the commit", ["--no-tags", "origin", commit], sink)
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

    async def discard(self, checkout: Path) -> None:
        """Removes a checkout (in a thread: a large tree takes a while)."""
        await asyncio.to_thread(shutil.rmtree, checkout, True)

    async def is_ancestor(self, app_id: int, older: str, newer: str) -> bool:
        """Whether `older` is in the history of `newer`, as the app's mirror knows them. False when
        the mirror cannot tell (none yet, or it lacks `older`): a commit it has never seen is new."""
        if not (_FULL_HASH.match(older) and _FULL_HASH.match(newer)) or older == newer:
            return False
        mirror = self.mirror_path(app_id)
        if not (mirror / "HEAD").exists():
            return False
        try:  # exit 0: an ancestor; 1: not one; 128: a commit it lacks
            await self._git(["merge-base", "--is-ancestor", older, newer], cwd=mirror)
        except GitError:
            return False
        return True

    async def forget(self, app_id: int) -> None:
        """The app's mirror and pinned host keys go (in a thread: a large mirror takes a while)."""
        self._remotes.pop(app_id, None)
        await asyncio.to_thread(shutil.rmtree, self.mirror_path(app_id), True)
        await self.forget_host_keys(app_id)

    async def _fetch(
        self, app_id: int, url: str, auth: GitAuth | None, mirror: Path, what: str, args: list[str],
        sink: LineSink | None = None,
    ) -> None:
        """The one kind of command that reaches the remote, so the one that gets its credentials."""
        async with self._remote_env(app_id, url, auth or GitAuth()) as remote_env:
            await self._git(["fetch", *args], cwd=mirror, what=what, sink=sink, extra_env=remote_env)

    def _helper(self, name: str, text: str) -> Path:
        """Writes the helper program once per process (an older Mist's copy may differ)."""
        path = self.root / ".bin" / name
        if name not in self._helpers:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            staged = path.with_suffix(".tmp")
            staged.write_text(text.replace("{python}", sys.executable))
            staged.chmod(0o700)
            staged.replace(path)
            self._helpers.add(name)
        return path

    @asynccontextmanager
    async def _remote_env(self, app_id: int, url: str, auth: GitAuth) -> AsyncIterator[dict[str, str]]:
        """The environment that lets git reach this remote with the app's credentials; a key file
        exists (mode 0600, in a private directory) only while the command runs."""
        env: dict[str, str] = {}
        if is_http_url(url) and auth.token:
            # The API drops a token when the repository moves to another origin; this is the last
            # line, at the one place a token is handed to git.
            origin = url_origin(url)
            if not origin or origin != auth.token_origin:
                raise GitError(
                    f"the app's git token was saved for {auth.token_origin or 'another repository'}, "
                    f"not {origin or url}, so it is not sent there; set gitToken again for this repository"
                )
            env["GIT_ASKPASS"] = str(self._helper("mist-askpass", _ASKPASS_HELPER))
            env["MIST_GIT_TOKEN"] = auth.token
            env["MIST_GIT_TOKEN_ORIGIN"] = origin
        if not is_ssh_url(url):
            yield env
            return
        if not auth.ssh_key:
            raise GitError(
                "an ssh remote needs the app's deploy key: create it with POST /api/apps/deployKey and "
                "add its public key to the repository"
            )
        known_hosts = self.known_hosts_path(app_id)
        known_hosts.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        private = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix=".key-", dir=self.root))
        try:
            key_file = private / "id_ed25519"
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(auth.ssh_key)
            env.update({
                "GIT_SSH": str(self._helper("mist-ssh", _SSH_HELPER)),
                "GIT_SSH_VARIANT": "ssh",
                "MIST_SSH_KEY": str(key_file),
                "MIST_SSH_KNOWN_HOSTS": str(known_hosts),
            })
            yield env
        finally:
            await asyncio.to_thread(shutil.rmtree, private, True)

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
        index_file: Path | None = None, extra_env: dict[str, str] | None = None,
    ) -> str:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root),
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "/bin/false",
            "SSH_ASKPASS": "/bin/false",
            # Only _remote_env's helper may open ssh connections, with the app's key.
            "GIT_SSH": "/bin/false",
            # Remotes may only use network transports; the local mirror clone opts in explicitly.
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }
        if index_file is not None:
            env["GIT_INDEX_FILE"] = str(index_file)
        if self.ca_file is not None:
            env["GIT_SSL_CAINFO"] = str(self.ca_file)
        env.update(extra_env or {})
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

        assert proc.stdout is not None
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
            raise GitError(f"git could not {what or args[0]}: {_explain(errors, proc.returncode, env)}")
        return stdout.decode(errors="replace")


def _explain(errors: list[str], code: int | None, env: dict[str, str]) -> str:
    """The reason a user can act on: authentication problems are named as such, since git itself
    ends them all with the same "Could not read from remote repository"."""
    text = "\n".join(errors)
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in text or "Host key verification failed" in text:
        return (
            "the git server's SSH host key has changed since Mist first connected to it, so Mist refuses "
            "to fetch (the server may be impersonated). If the key change is expected, forget the pinned "
            "key with POST /api/apps/deployKey {appId, forgetHostKeys: true}"
        )
    if "Permission denied (publickey" in text:
        return (
            "the git server refused the app's deploy key (Permission denied (publickey)): add the public key "
            "from POST /api/apps/deployKey to the repository's deploy keys"
        )
    if "server certificate verification failed" in text or "SSL certificate problem" in text:
        return (
            "the git server's TLS certificate is not trusted; if it comes from a private CA, point "
            "MIST_GIT_CA_FILE at that CA's certificate"
        )
    if "mist: the git token is not sent to" in text:
        return (
            "the git server redirected to another host;"
            " the app's access token is sent only to its own repository's host"
        )
    if "Authentication failed" in text or "could not read Username" in text or "could not read Password" in text:
        if "MIST_GIT_TOKEN" in env:
            return "the git server refused the app's access token (gitToken): check it and its permissions"
        return "the repository needs credentials: set the app's gitToken (or use an ssh URL with a deploy key)"
    detail = next((e for e in reversed(errors) if e.startswith(("fatal:", "error:"))), "")
    return detail or (errors[-1] if errors else f"exit code {code}")
