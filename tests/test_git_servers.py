"""Self-checks for the ssh:// and token-over-HTTP git servers the private-repo tests rely on."""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.gitserver import GIT_ENV, GitServer
from support.httpgit import TokenGitServer
from support.sshgit import SshGitServer

REPO = "git-servers-check"


def run_git(*args: str | Path, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *map(str, args)], cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def shas(git_server: GitServer, ssh_git_server: SshGitServer,
         token_git_server: TokenGitServer) -> list[str]:
    """Two commits, both made after the servers started: they must see them without any extra call."""
    return [git_server.create_repo(REPO, {"app.py": "v1\n"}),
            git_server.commit(REPO, {"app.py": "v2\n"}, "second")]


# ---------------------------------------------------------------------- ssh


@pytest.fixture
def client_key(tmp_path: Path) -> Path:
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return key


def ssh_env(key: Path, known_hosts: Path, checking: str = "accept-new") -> dict[str, str]:
    # -F /dev/null and BatchMode: no personal ssh config, agent keys or prompts get involved.
    return {"GIT_SSH_COMMAND": shlex.join([
        "ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={known_hosts}", "-o", f"StrictHostKeyChecking={checking}",
    ])}


@pytest.fixture
def authorized(ssh_git_server: SshGitServer, client_key: Path) -> Iterator[Path]:
    ssh_git_server.authorize(client_key.with_suffix(".pub").read_text())
    yield client_key
    ssh_git_server.revoke_all()


def test_ssh_clone_with_authorized_key(ssh_git_server: SshGitServer, authorized: Path,
                                       shas: list[str], tmp_path: Path) -> None:
    env = ssh_env(authorized, tmp_path / "known_hosts")
    clone = run_git("clone", "--quiet", ssh_git_server.url_for(REPO), tmp_path / "c", env=env)
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "c" / "app.py").read_text() == "v2\n"
    older = run_git("fetch", "--quiet", "origin", shas[0], cwd=tmp_path / "c", env=env)
    assert older.returncode == 0, older.stderr


def test_ssh_refuses_unauthorized_key(ssh_git_server: SshGitServer, client_key: Path,
                                      shas: list[str], tmp_path: Path) -> None:
    proc = run_git("ls-remote", ssh_git_server.url_for(REPO),
                   env=ssh_env(client_key, tmp_path / "known_hosts"))
    assert proc.returncode != 0
    assert "Permission denied (publickey)" in proc.stderr


def test_ssh_rotated_host_key_fails_pinned_client(git_server: GitServer, client_key: Path,
                                                  shas: list[str], tmp_path: Path) -> None:
    # A server of its own: rotating the shared one would break other tests' pins.
    with SshGitServer(git_server.root) as server:
        server.authorize(client_key.with_suffix(".pub").read_text())
        known_hosts = tmp_path / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{server.port} {server.host_public_key()}\n")
        env = ssh_env(client_key, known_hosts, checking="yes")
        pinned = run_git("ls-remote", server.url_for(REPO), env=env)
        assert pinned.returncode == 0, pinned.stderr
        assert shas[1] in pinned.stdout

        old_key, port = server.host_public_key(), server.port
        server.rotate_host_key()
        assert server.port == port
        assert server.host_public_key() != old_key
        proc = run_git("ls-remote", server.url_for(REPO), env=env)
        assert proc.returncode != 0
        assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in proc.stderr
        assert "Host key verification failed" in proc.stderr


# ---------------------------------------------------------------------- token over HTTP


def basic_auth(password: str) -> str:
    return "Basic " + base64.b64encode(f"mist:{password}".encode()).decode()


def with_auth(password: str, *args: str | Path) -> tuple[str | Path, ...]:
    return ("-c", f"http.extraHeader=Authorization: {basic_auth(password)}", *args)


def test_http_clone_and_exact_older_commit_with_token(token_git_server: TokenGitServer,
                                                      shas: list[str], tmp_path: Path) -> None:
    url = token_git_server.url_for(REPO)
    clone = run_git(*with_auth(token_git_server.token, "clone", "--quiet", url, tmp_path / "c"))
    assert clone.returncode == 0, clone.stderr
    assert (tmp_path / "c" / "app.py").read_text() == "v2\n"

    # A stateless v0 fetch could only want advertised tips; this needs Git-Protocol passed through.
    run_git("init", "--quiet", tmp_path / "empty")
    older = run_git(*with_auth(token_git_server.token, "fetch", "--quiet", url, shas[0]),
                    cwd=tmp_path / "empty")
    assert older.returncode == 0, older.stderr
    assert run_git("cat-file", "-t", shas[0], cwd=tmp_path / "empty").stdout.strip() == "commit"


@pytest.mark.parametrize("args", [(), with_auth("wrong-token")], ids=["no-token", "wrong-token"])
def test_http_refuses_missing_or_wrong_token(token_git_server: TokenGitServer, shas: list[str],
                                             args: tuple[str | Path, ...]) -> None:
    before = len(token_git_server.requests)
    proc = run_git(*args, "ls-remote", token_git_server.url_for(REPO))
    assert proc.returncode != 0
    assert [r["status"] for r in token_git_server.requests[before:]] == [401]


def test_http_token_only_ever_in_header(token_git_server: TokenGitServer, shas: list[str]) -> None:
    proc = run_git(*with_auth(token_git_server.token, "ls-remote", token_git_server.url_for(REPO)))
    assert proc.returncode == 0, proc.stderr
    assert any(r["authorization"] == basic_auth(token_git_server.token)
               for r in token_git_server.requests)
    assert all(token_git_server.token not in r["path"] for r in token_git_server.requests)


def test_http_chunked_gzipped_request_body(token_git_server: TokenGitServer, shas: list[str]) -> None:
    """git sends big POSTs chunked and medium ones gzipped; a fetch this small does neither."""
    def pkt(line: str) -> bytes:
        return f"{len(line) + 4:04x}{line}".encode()

    body = gzip.compress(pkt("command=ls-refs\n") + b"0001" + pkt("ref-prefix refs/heads/\n") + b"0000")
    assert token_git_server.port is not None
    conn = http.client.HTTPConnection("127.0.0.1", token_git_server.port, timeout=10)
    conn.request("POST", f"/{REPO}.git/git-upload-pack", body=iter([body[:10], body[10:]]),
                 encode_chunked=True, headers={
                     "Authorization": basic_auth(token_git_server.token),
                     "Content-Type": "application/x-git-upload-pack-request",
                     "Content-Encoding": "gzip", "Git-Protocol": "version=2",
                 })
    response = conn.getresponse()
    assert response.status == 200
    assert f"{shas[1]} refs/heads/main".encode() in response.read()
    conn.close()
