"""Credentials storage: where, with which modes, and which credentials win."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mist.client.config import (
    Credentials,
    config_dir,
    credentials_path,
    load_credentials,
    normalize_url,
    read_stored,
    save_credentials,
)
from mist.client.errors import CredentialsError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_path_follows_xdg_config_home_and_defaults_to_dot_config(tmp_path: Path, monkeypatch) -> None:
    assert credentials_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "mist" / "credentials.json"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir({}) == tmp_path / "home" / ".config" / "mist"
    # A relative XDG_CONFIG_HOME is invalid by the spec and ignored.
    assert config_dir({"XDG_CONFIG_HOME": "relative/dir"}) == tmp_path / "home" / ".config" / "mist"


def test_saved_credentials_are_0600_in_a_0700_directory_even_with_a_permissive_umask(tmp_path: Path) -> None:
    path = credentials_path({"XDG_CONFIG_HOME": str(tmp_path / "cfg")})
    old = os.umask(0)
    try:
        assert save_credentials("http://mist.test:8080/", "mist_secret", path) == path
    finally:
        os.umask(old)
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert json.loads(path.read_text()) == {"url": "http://mist.test:8080", "token": "mist_secret"}
    assert [p.name for p in path.parent.iterdir()] == ["credentials.json"]  # no temporary left behind


def test_saving_again_replaces_a_too_open_file_and_tightens_the_directory(tmp_path: Path) -> None:
    path = tmp_path / "mist" / "credentials.json"
    path.parent.mkdir(mode=0o755)
    os.chmod(path.parent, 0o755)
    path.write_text('{"url": "http://old", "token": "old"}')
    os.chmod(path, 0o644)
    save_credentials("https://new.example", "mist_new", path)
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    assert read_stored(path) == Credentials("https://new.example", "mist_new", str(path))


def test_env_vars_win_over_the_stored_credentials(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    save_credentials("http://stored:8080", "mist_stored", path)
    assert load_credentials({}, path) == Credentials("http://stored:8080", "mist_stored", str(path))
    both = load_credentials({"MIST_URL": "https://ci.example/", "MIST_TOKEN": "mist_ci"}, path)
    assert (both.url, both.token) == ("https://ci.example", "mist_ci")
    # MIST_TOKEN alone: the stored server, the given token.
    token_only = load_credentials({"MIST_TOKEN": "mist_ci"}, path)
    assert (token_only.url, token_only.token) == ("http://stored:8080", "mist_ci")
    # MIST_URL alone: the stored token only for the server that issued it.
    same = load_credentials({"MIST_URL": "http://stored:8080/"}, path)
    assert (same.url, same.token) == ("http://stored:8080", "mist_stored")
    with pytest.raises(CredentialsError, match="no token for https://elsewhere"):
        load_credentials({"MIST_URL": "https://elsewhere"}, path)


def test_env_vars_work_without_any_stored_file(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "credentials.json"
    creds = load_credentials({"MIST_URL": "http://127.0.0.1:9", "MIST_TOKEN": "mist_x"}, missing)
    assert (creds.url, creds.token) == ("http://127.0.0.1:9", "mist_x")
    with pytest.raises(CredentialsError, match="not logged in"):
        load_credentials({}, missing)
    with pytest.raises(CredentialsError, match="MIST_URL is not"):
        load_credentials({"MIST_TOKEN": "mist_x"}, missing)


def test_an_unusable_credentials_file_is_named_in_the_error(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text("{not json")
    with pytest.raises(CredentialsError, match=str(path)):
        load_credentials({}, path)
    path.write_text('{"url": "http://x"}')
    with pytest.raises(CredentialsError, match="no url and token"):
        load_credentials({}, path)


@pytest.mark.parametrize("url", ["mist.example.com", "ftp://x", "http://", "http://x/?a=1", ""])
def test_only_http_urls_are_servers(url: str) -> None:
    with pytest.raises(CredentialsError):
        normalize_url(url)


def test_urls_are_normalized() -> None:
    assert normalize_url(" https://mist.example.com/ ") == "https://mist.example.com"
    assert normalize_url("http://h:8080/prefix/") == "http://h:8080/prefix"
