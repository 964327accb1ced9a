"""mist.git with private remotes: deploy keys over a real sshd, tokens over real smart HTTP."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from support.gitserver import GitServer
from support.httpgit import TokenGitServer
from support.recorder import CredentialRecorder
from support.sshgit import SshGitServer

from mist.errors import GitError
from mist.git import GitAuth, GitRepos, generate_deploy_key, url_origin


async def _noop(line: str) -> None:
    return None


def leftovers(repos: GitRepos) -> list[str]:
    """Key files are written for one command and must be gone after it."""
    return [p.name for p in repos.root.glob(".key-*")]


@pytest.fixture(scope="module")
def private_repo(git_server: GitServer) -> tuple[str, list[str]]:
    name = "private-creds"
    first = git_server.create_repo(name, {"Dockerfile": "FROM scratch\n", "app.txt": "v1\n"})
    second = git_server.commit(name, {"app.txt": "v2\n"}, "second")
    return name, [first, second]


@pytest.fixture
def deploy_key(ssh_git_server: SshGitServer):
    private, public = generate_deploy_key("mist-app-test")
    ssh_git_server.authorize(public)
    yield private
    ssh_git_server.revoke_all()


def test_deploy_key_is_an_ed25519_openssh_pair() -> None:
    private, public = generate_deploy_key("mist-app-7")
    assert private.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert public.startswith("ssh-ed25519 ") and public.endswith(" mist-app-7")
    assert generate_deploy_key("x")[1] != public


def test_ssh_remote_with_the_authorized_deploy_key_gives_exact_commits(
    tmp_path: Path, ssh_git_server: SshGitServer, deploy_key: str, private_repo: tuple[str, list[str]]
) -> None:
    name, shas = private_repo
    repos = GitRepos(tmp_path / "git", timeout=30)
    url = ssh_git_server.url_for(name)
    auth = GitAuth(ssh_key=deploy_key)

    commit = asyncio.run(repos.resolve(5, url, "main", auth))
    assert commit.hash == shas[1] and commit.message == "second"
    asyncio.run(repos.checkout(5, url, shas[0], tmp_path / "out", _noop, auth))
    assert (tmp_path / "out" / "app.txt").read_text() == "v1\n"
    assert not (tmp_path / "out" / ".git").exists()
    # The host key was learned on first use and pinned for this app.
    assert ssh_git_server.host_public_key().split()[1] in repos.known_hosts_path(5).read_text()
    assert leftovers(repos) == []
    assert "PRIVATE KEY" not in (repos.mirror_path(5) / "config").read_text()


def test_ssh_remote_refuses_a_key_the_repository_does_not_know(
    tmp_path: Path, ssh_git_server: SshGitServer, private_repo: tuple[str, list[str]]
) -> None:
    repos = GitRepos(tmp_path / "git", timeout=30)
    unknown, _ = generate_deploy_key("not-authorized")
    with pytest.raises(GitError, match="refused the app's deploy key"):
        asyncio.run(repos.resolve(5, ssh_git_server.url_for(private_repo[0]), "main", GitAuth(ssh_key=unknown)))
    assert leftovers(repos) == []


def test_ssh_remote_without_a_deploy_key_says_how_to_get_one(tmp_path: Path, ssh_git_server: SshGitServer) -> None:
    repos = GitRepos(tmp_path / "git", timeout=30)
    with pytest.raises(GitError, match="POST /api/apps/deployKey"):
        asyncio.run(repos.resolve(5, ssh_git_server.url_for("any"), "main", GitAuth()))


def test_a_changed_host_key_fails_until_the_pin_is_forgotten(tmp_path: Path, git_server: GitServer) -> None:
    name = "private-rotation"
    shas = [git_server.create_repo(name, {"app.txt": "v1\n"}), git_server.commit(name, {"app.txt": "v2\n"}, "v2")]
    private, public = generate_deploy_key("rotation")
    repos = GitRepos(tmp_path / "git", timeout=30)
    auth = GitAuth(ssh_key=private)
    with SshGitServer(git_server.root) as server:  # its own server: others' pins stay valid
        server.authorize(public)
        url = server.url_for(name)
        assert asyncio.run(repos.resolve(8, url, "main", auth)).hash == shas[1]
        server.rotate_host_key()
        with pytest.raises(GitError, match="host key has changed"):
            asyncio.run(repos.resolve(8, url, "main", auth))
        # A worker fetching a pushed commit it lacks fails the same way, before anything is built.
        pushed = git_server.commit(name, {"app.txt": "v3\n"}, "pushed")
        with pytest.raises(GitError, match="host key has changed"):
            asyncio.run(repos.checkout(8, url, pushed, tmp_path / "out", _noop, auth))
        assert not (tmp_path / "out").exists()
        asyncio.run(repos.forget_host_keys(8))
        assert asyncio.run(repos.resolve(8, url, "main", auth)).hash == pushed


def test_token_reaches_the_server_in_a_header_and_is_stored_nowhere(
    tmp_path: Path, token_git_server: TokenGitServer, private_repo: tuple[str, list[str]]
) -> None:
    name, shas = private_repo
    repos = GitRepos(tmp_path / "git", timeout=30)
    url = token_git_server.url_for(name)
    before = len(token_git_server.requests)
    auth = GitAuth(token=token_git_server.token, token_origin=url_origin(url))

    assert asyncio.run(repos.resolve(6, url, "main", auth)).hash == shas[1]
    asyncio.run(repos.checkout(6, url, shas[0], tmp_path / "out", _noop, auth))
    assert (tmp_path / "out" / "app.txt").read_text() == "v1\n"

    seen = token_git_server.requests[before:]
    assert any(r["status"] == 200 for r in seen)
    assert all(token_git_server.token not in r["path"] for r in seen)
    sent = [base64.b64decode(r["authorization"].split()[1]).decode() for r in seen if r["authorization"]]
    assert sent and all(s.endswith(":" + token_git_server.token) for s in sent)
    for path in [*repos.root.rglob("*"), *(tmp_path / "out").rglob("*")]:
        if path.is_file():
            assert token_git_server.token.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("token, reason", [
    ("", "needs credentials: set the app's gitToken"),
    ("wrong-token", "refused the app's access token"),
])
def test_token_remote_refusals_name_the_problem(
    tmp_path: Path, token_git_server: TokenGitServer, private_repo: tuple[str, list[str]], token: str, reason: str
) -> None:
    repos = GitRepos(tmp_path / "git", timeout=30)
    url = token_git_server.url_for(private_repo[0])
    with pytest.raises(GitError, match=reason):
        asyncio.run(repos.resolve(6, url, "main", GitAuth(token=token, token_origin=url_origin(url))))


def test_https_remote_with_a_token_and_a_private_ca(
    tmp_path: Path, https_git_server: TokenGitServer, private_repo: tuple[str, list[str]]
) -> None:
    name, shas = private_repo
    url = https_git_server.url_for(name)
    assert url.startswith("https://")
    auth = GitAuth(token=https_git_server.token, token_origin=url_origin(url))
    untrusting = GitRepos(tmp_path / "plain", timeout=30)
    with pytest.raises(GitError, match="TLS certificate is not trusted.*MIST_GIT_CA_FILE"):
        asyncio.run(untrusting.resolve(6, url, "main", auth))

    repos = GitRepos(tmp_path / "git", timeout=30, ca_file=https_git_server.ca_file)
    assert asyncio.run(repos.resolve(6, url, "main", auth)).hash == shas[1]
    with pytest.raises(GitError, match="refused the app's access token"):
        asyncio.run(repos.resolve(7, url, "main", GitAuth(token="wrong", token_origin=url_origin(url))))


def test_a_token_is_never_handed_to_git_for_another_origin(tmp_path: Path) -> None:
    repos = GitRepos(tmp_path / "git", timeout=30)
    with CredentialRecorder() as recorder:
        auth = GitAuth(token="tok-for-elsewhere", token_origin="https://git.example.com:443")
        with pytest.raises(GitError, match="saved for https://git.example.com:443.*not sent"):
            asyncio.run(repos.resolve(6, recorder.url_for("repo"), "main", auth))
        assert not recorder.received("tok-for-elsewhere")


def test_a_redirect_to_another_host_gets_no_token(tmp_path: Path) -> None:
    """The token's own server redirects git elsewhere: askpass refuses to answer for that host."""
    repos = GitRepos(tmp_path / "git", timeout=30)
    with CredentialRecorder() as elsewhere, CredentialRecorder(redirect_to=elsewhere.url) as home:
        url = home.url_for("repo")
        auth = GitAuth(token="tok-for-home", token_origin=url_origin(url))
        with pytest.raises(GitError, match="redirected to another host"):
            asyncio.run(repos.resolve(6, url, "main", auth))
        assert elsewhere.requests, "git never followed the redirect"
        assert not elsewhere.received("tok-for-home") and not home.received("tok-for-home")


@pytest.mark.parametrize("url, origin", [
    ("https://git.example.com/a/b.git", "https://git.example.com:443"),
    ("https://user@Git.Example.com:443/a/b.git", "https://git.example.com:443"),
    ("http://127.0.0.1:8080/a.git", "http://127.0.0.1:8080"),
    ("http://[::1]/a.git", "http://[::1]:80"),
    ("ssh://git@host.x/a.git", "ssh://host.x:22"),
    ("git@host.x:a/b.git", "ssh://host.x:22"),
    ("not a url", ""),
])
def test_url_origin(url: str, origin: str) -> None:
    assert url_origin(url) == origin
