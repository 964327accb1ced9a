"""A real OpenSSH ``sshd`` on loopback, serving a GitServer's bare repos over ssh://.

Logins land on a dedicated system user whose shell is git-shell, with public-key
auth only, so tests go through what a real git host does: host key verification,
key authentication, then upload-pack. The repos are read in place from
``repos_root``, so commits pushed there later are visible at once.

Needs root (sshd switches to the git user) and Debian's openssh-server.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from support.gitserver import GitServer, _free_port, git

SSHD = Path("/usr/sbin/sshd")
USER = "mistgit"
USER_HOME = Path("/var/lib/mistgit")
# Debian's sshd refuses to start without its privilege-separation directory,
# which only systemd's tmpfiles would create at boot.
PRIVSEP_DIR = Path("/run/sshd")


def _ensure_user() -> None:
    """Create the git login user once, and let its git read repos owned by root."""
    try:
        home = Path(pwd.getpwnam(USER).pw_dir)
    except KeyError:
        git_shell = shutil.which("git-shell") or "/usr/bin/git-shell"
        # Password "*" rather than useradd's default "!": with UsePAM no, sshd
        # treats a "!" password as a locked account and refuses even key logins.
        subprocess.run(
            ["useradd", "--system", "--shell", git_shell, "--home-dir", str(USER_HOME),
             "--create-home", "--password", "*", USER],
            check=True, capture_output=True,
        )
        home = USER_HOME
    # safe.directory only counts in global/system config, i.e. this user's ~/.gitconfig.
    git("config", "--file", home / ".gitconfig", "--replace-all", "safe.directory", "*")


def _grant_traversal(path: Path) -> None:
    """Add search (not read) permission for others on ``path`` and its ancestors.

    GitServer's temp dir is root's 0700; the git user only needs to walk through
    it to the repos, not list what else is there.
    """
    for directory in (path, *path.parents):
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


class SshGitServer:
    def __init__(self, repos_root: str | os.PathLike[str]) -> None:
        self.repos_root = Path(repos_root).resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="mist-sshgit-")
        base = Path(self._tmp.name)
        # sshd opens AuthorizedKeysFile as the git user, so it must reach the file.
        base.chmod(0o711)
        self._config = base / "sshd_config"
        self._host_key = base / "host_ed25519_key"
        self._authorized_keys = base / "authorized_keys"
        self.log_path = base / "sshd.log"
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self, attempts: int = 5, timeout: float = 10.0) -> Self:
        if os.geteuid() != 0:
            raise RuntimeError("SshGitServer needs root: sshd must switch to the git user")
        if not SSHD.exists():
            raise RuntimeError(f"{SSHD} missing: run scripts/setup --test (installs openssh-server)")
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        _ensure_user()
        _grant_traversal(self.repos_root)
        self._authorized_keys.touch()
        self._authorized_keys.chmod(0o644)  # read by sshd as the git user, whatever the umask
        self._new_host_key()
        errors: list[str] = []
        for _ in range(attempts):
            # Same race as GitServer: the probed port may be taken before sshd binds it.
            port = _free_port()
            if self._launch(port, timeout):
                return self
            errors.append(f"port {port}: {self._log_text()}")
        raise RuntimeError("sshd did not start:\n" + "\n".join(errors))

    def stop(self) -> None:
        # Connections already accepted run in their own sessions (sshd setsid()s
        # them) and end with their git command; only the listener is stopped here.
        if self._proc is not None:
            GitServer._kill(self._proc)
            self._proc = None
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _launch(self, port: int, timeout: float) -> bool:
        self._write_config(port)
        with open(self.log_path, "ab") as log:
            proc = subprocess.Popen(
                # sshd re-executes itself per connection, which requires an absolute path.
                [str(SSHD), "-D", "-e", "-f", str(self._config)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if GitServer._wait_listening(proc, port, timeout):
            self._proc, self.port = proc, port
            return True
        GitServer._kill(proc)
        return False

    def _write_config(self, port: int) -> None:
        lines = [
            f"Port {port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self._host_key}",
            "PidFile none",
            f"AllowUsers {USER}",
            "AuthenticationMethods publickey",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            f"AuthorizedKeysFile {self._authorized_keys}",
            # The key file sits under world-writable /tmp, which StrictModes rejects.
            "StrictModes no",
            "DisableForwarding yes",
            "PermitTTY no",
            # git sends its wire protocol version this way; v2 lets clients fetch any reachable sha.
            "AcceptEnv GIT_PROTOCOL",
            # VERBOSE logs the fingerprint of every accepted or refused key.
            "LogLevel VERBOSE",
            # The default (10 unauthenticated connections) drops parallel clones at random.
            "MaxStartups 64",
        ]
        self._config.write_text("\n".join(lines) + "\n")

    def _new_host_key(self) -> None:
        for path in (self._host_key, self._host_key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mist-sshgit-host",
             "-f", str(self._host_key)],
            check=True, capture_output=True,
        )

    def _log_text(self) -> str:
        return self.log_path.read_text(errors="replace").strip()

    # ------------------------------------------------------------------ keys and URLs

    def url_for(self, name: str) -> str:
        if self.port is None:
            raise RuntimeError("SshGitServer not started")
        return f"ssh://{USER}@127.0.0.1:{self.port}{self.repos_root}/{name}.git"

    def authorize(self, public_key: str) -> None:
        """Allow logins with this OpenSSH public key line; sshd rereads the file per login."""
        line = public_key.strip()
        if "\n" in line:
            raise ValueError("one public key line expected")
        with open(self._authorized_keys, "a") as f:
            f.write(line + "\n")

    def revoke_all(self) -> None:
        self._authorized_keys.write_text("")

    def host_public_key(self) -> str:
        return self._host_key.with_suffix(".pub").read_text().strip()

    def rotate_host_key(self, timeout: float = 10.0) -> None:
        """Restart sshd on the same port with a new host key, as a re-installed host would."""
        if self._proc is None or self.port is None:
            raise RuntimeError("SshGitServer not started")
        GitServer._kill(self._proc)
        self._proc = None
        self._new_host_key()
        if not self._launch(self.port, timeout):
            raise RuntimeError(f"sshd did not restart on port {self.port}:\n{self._log_text()}")
