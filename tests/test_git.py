"""mist.git: URL validation, and exact commits through the per-app mirror over git://."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest
from support.gitserver import GitServer

from mist.errors import GitError, InvalidInput
from mist.git import (
    GitRepos,
    checkout_file,
    read_checkout_file,
    redact_url,
    url_secrets,
    validate_branch,
    validate_remote_url,
)


@pytest.mark.parametrize("url", [
    "https://github.com/acme/shop.git",
    "http://git.internal:3000/acme/shop",
    "ssh://git@github.com:22/acme/shop.git",
    "git://127.0.0.1:9418/shop.git",
    "git@github.com:acme/shop.git",
    "github.com:acme/shop.git",
])
def test_accepts_network_remotes(url: str) -> None:
    assert validate_remote_url(url) == url


@pytest.mark.parametrize("url, reason", [
    ("file:///etc", "scheme 'file'"),
    ("ext::sh -c touch% /tmp/pwned", "whitespace"),
    ("ext::sh", "transport helpers"),
    ("-uhttps://x/y", "start with '-'"),
    ("--upload-pack=touch /tmp/x", "whitespace"),
    ("https://github.com/a/b\n", "control"),
    ("https://gith\x00ub.com/a/b", "control"),
    ("/srv/git/shop.git", "not a git URL"),
    ("../shop", "not a git URL"),
    ("ftp://host/repo", "scheme 'ftp'"),
    ("https://", "no valid host"),
    ("https://host", "no repository path"),
    ("ssh://-oProxyCommand=x/repo", "start with '-'"),
    ("", "non-empty"),
])
def test_refuses_local_and_dangerous_remotes(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        validate_remote_url(url)


@pytest.mark.parametrize("branch", ["-f", "a..b", "a b", "x~1", "ref:x", "end/", "a.lock", "", "@{-1}"])
def test_refuses_bad_branch_names(branch: str) -> None:
    with pytest.raises(InvalidInput):
        validate_branch(branch)


def test_url_credentials_are_known_for_redaction() -> None:
    assert url_secrets("https://bot:s3cr3t-token@git.example.com/a/b.git") == ["s3cr3t-token"]
    assert url_secrets("https://ghp_tokenonly@git.example.com/a/b.git") == ["ghp_tokenonly"]
    assert url_secrets("git@github.com:acme/shop.git") == []
    assert redact_url("https://bot:s3cr3t-token@git.example.com/a/b.git") == "https://bot:********@git.example.com/a/b.git"
    assert redact_url("https://ghp_tokenonly@git.example.com/a") == "https://********@git.example.com/a"
    assert redact_url("git@github.com:acme/shop.git") == "git@github.com:acme/shop.git"


def test_resolve_fetches_the_exact_tip_and_checkout_gets_that_tree(
    git_server: GitServer, tmp_path: Path
) -> None:
    first = git_server.create_repo("resolve", {"app.txt": "v1"}, message="first version")
    repos = GitRepos(tmp_path / "git", timeout=30)
    url = git_server.url_for("resolve")

    async def scenario() -> None:
        commit = await repos.resolve(1, url, "main")
        assert (commit.hash, commit.message) == (first, "first version")
        second = git_server.commit("resolve", {"app.txt": "v2"}, message="second version")
        newer = await repos.resolve(1, url, "main")
        assert (newer.hash, newer.message) == (second, "second version")

        lines: list[str] = []

        async def sink(line: str) -> None:
            lines.append(line)

        # The older commit is no longer a branch tip; it still checks out exactly.
        await repos.checkout(1, url, first, tmp_path / "old", sink)
        assert (tmp_path / "old" / "app.txt").read_text() == "v1"
        assert not (tmp_path / "old" / ".git").exists()
        assert any(line.startswith(f"Checking out {first}") for line in lines)

    asyncio.run(scenario())


def test_checkout_fetches_a_commit_missing_from_a_lost_mirror(git_server: GitServer, tmp_path: Path) -> None:
    sha = git_server.create_repo("lost-mirror", {"f": "x"})
    git_server.commit("lost-mirror", {"f": "y"}, message="tip moves on")
    repos = GitRepos(tmp_path / "git", timeout=30)

    async def scenario() -> None:
        async def sink(_line: str) -> None:
            pass

        await repos.checkout(7, git_server.url_for("lost-mirror"), sha, tmp_path / "out", sink)

    asyncio.run(scenario())
    assert (tmp_path / "out" / "f").read_text() == "x"
    mirror = repos.mirror_path(7)
    assert subprocess.run(["git", "-C", str(mirror), "cat-file", "-e", sha]).returncode == 0


def test_unknown_branch_and_unreachable_remote_are_git_errors(git_server: GitServer, tmp_path: Path) -> None:
    git_server.create_repo("branches", {"f": "x"})
    repos = GitRepos(tmp_path / "git", timeout=30)
    with pytest.raises(GitError, match="fetch branch 'nope'"):
        asyncio.run(repos.resolve(1, git_server.url_for("branches"), "nope"))
    with pytest.raises(GitError):
        asyncio.run(repos.resolve(2, "git://127.0.0.1:1/none.git", "main"))


def test_files_read_from_a_checkout_stay_small_regular_and_inside_it(tmp_path: Path) -> None:
    root = tmp_path / "checkout"
    (root / "sub").mkdir(parents=True)
    (root / "ignore.txt").write_text("node_modules\n")
    (root / ".dockerignore").symlink_to("ignore.txt")  # inside the checkout: fine
    (root / "Dockerfile").symlink_to("/etc/passwd")
    (root / "zero").symlink_to("/dev/zero")
    (root / "escape").symlink_to("../outside")
    (tmp_path / "outside").write_text("host file")
    (root / "dangling").symlink_to("missing")
    (root / "big").write_bytes(b"x" * 2048)

    assert read_checkout_file(root, ".dockerignore") == b"node_modules\n"
    assert read_checkout_file(root, "absent") is None
    assert checkout_file(root, "ignore.txt") == (root / "ignore.txt").resolve()
    for name in ("Dockerfile", "zero", "escape"):
        with pytest.raises(GitError, match=f"'{name}' in the repository is a symlink pointing outside it"):
            read_checkout_file(root, name)
    with pytest.raises(GitError, match="not a regular file"):
        checkout_file(root, "sub")
    with pytest.raises(GitError, match="symlink to nothing"):
        checkout_file(root, "dangling")
    with pytest.raises(GitError, match="larger than 1 KiB"):
        read_checkout_file(root, "big", max_bytes=1024)


def test_ancestry_is_read_from_the_mirror(git_server: GitServer, tmp_path: Path) -> None:
    first = git_server.create_repo("ancestry", {"a": "1"})
    second = git_server.commit("ancestry", {"a": "2"}, message="second")
    repos = GitRepos(tmp_path / "git", timeout=30)

    async def scenario() -> None:
        assert not await repos.is_ancestor(1, first, second)  # no mirror yet: cannot tell
        await repos.resolve(1, git_server.url_for("ancestry"), "main")
        assert await repos.is_ancestor(1, first, second)
        assert not await repos.is_ancestor(1, second, first)
        assert not await repos.is_ancestor(1, second, second)
        assert not await repos.is_ancestor(1, "f" * 40, second)  # a commit the mirror never saw
        assert not await repos.is_ancestor(1, "--all", second)

    asyncio.run(scenario())


def test_a_path_of_a_checkout_is_refused_when_it_leads_out_or_is_missing(tmp_path: Path) -> None:
    from mist.git import path_problem

    checkout = tmp_path / "checkout"
    (checkout / "web").mkdir(parents=True)
    (checkout / "web" / "Dockerfile").write_text("FROM scratch\n")
    (checkout / "escape").symlink_to(tmp_path)
    assert path_problem(checkout, "", want_dir=True) == ""
    assert path_problem(checkout, "web", want_dir=True) == ""
    assert path_problem(checkout, "web/Dockerfile", want_dir=False) == ""
    assert path_problem(checkout, "escape", want_dir=True) == "points outside the repository"
    assert path_problem(checkout, "../checkout/web/../..", want_dir=True) == "points outside the repository"
    assert path_problem(checkout, "api", want_dir=True) == "names no directory in the commit"
    assert path_problem(checkout, "web", want_dir=False) == "names no file in the commit"
