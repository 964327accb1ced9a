"""mist.settings_report and Settings.source: every setting as the server uses it, with where it came
from, and never a secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from mist.config import Settings
from mist.settings_report import MASK, mask_url, report


def rows(settings: Settings) -> dict[str, tuple[object, str]]:
    return {row["key"]: (row["value"], row["source"]) for row in report(settings)}  # type: ignore[misc]


def test_each_setting_says_whether_the_environment_the_command_line_or_the_default_gave_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIST_PORT", "9000")  # overridden by the command line below
    monkeypatch.setenv("MIST_LEASE_SECONDS", "45")
    monkeypatch.setenv("MIST_HOST_MOUNT_ROOTS", f"{tmp_path}/srv/../srv, {tmp_path}/data")
    monkeypatch.setenv("MIST_RESERVED_DOMAINS", "Admin.Example.com., internal.example.com")
    monkeypatch.setenv("MIST_TEMPLATE_IMAGES", '{"redis": "registry.local/redis:7"}')
    monkeypatch.setenv("MIST_DATA_DIR", str(tmp_path / "x" / ".." / "data"))
    table = rows(Settings(port=8081))

    assert list(table) == [f"MIST_{name.upper()}" for name in Settings.model_fields]
    assert table["MIST_PORT"] == (8081, "command line")
    assert table["MIST_LEASE_SECONDS"] == (45, "environment")
    assert table["MIST_WORKERS"] == (2, "default")
    assert table["MIST_DATA_DIR"] == (str(tmp_path / "data"), "environment")
    assert table["MIST_HOST_MOUNT_ROOTS"] == ([str(tmp_path / "srv"), str(tmp_path / "data")], "environment")
    assert table["MIST_RESERVED_DOMAINS"] == (["admin.example.com", "internal.example.com"], "environment")
    assert table["MIST_TEMPLATE_IMAGES"] == ({"redis": "registry.local/redis:7"}, "environment")
    # The database URL the server connects to, default filled in.
    assert table["MIST_DATABASE_URL"] == (f"sqlite:///{tmp_path / 'x' / '..' / 'data' / 'mist.db'}", "default")
    # Where the server secret is (never its contents), default filled in.
    assert table["MIST_SECRET_KEY_FILE"] == (str(tmp_path / "data" / "secret.key"), "default")


def test_no_password_leaves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIST_DATABASE_URL", "postgresql+psycopg://mist:hunter2@db.internal:5432/mist")
    monkeypatch.setenv("MIST_PUBLIC_URL", "https://ops:s3cret@mist.example.com")
    table = rows(Settings(data_dir=tmp_path))
    assert table["MIST_DATABASE_URL"] == ("postgresql+psycopg://mist:********@db.internal:5432/mist", "environment")
    assert table["MIST_PUBLIC_URL"][0] == "https://ops:********@mist.example.com"
    assert "hunter2" not in repr(report(Settings(data_dir=tmp_path)))


@pytest.mark.parametrize("url, shown", [
    ("postgresql+psycopg://mist:p%40ss:w@host/db", f"postgresql+psycopg://mist:{MASK}@host/db"),
    ("postgresql://mist@host/db", "postgresql://mist@host/db"),  # no password to hide
    ("sqlite:////var/lib/mist/mist.db", "sqlite:////var/lib/mist/mist.db"),
    ("http://u:p@[::1/x", MASK),  # cannot be taken apart: shown as nothing rather than risked
    ("127.0.0.1:2019", "127.0.0.1:2019"),
])
def test_mask_url(url: str, shown: str) -> None:
    assert mask_url(url) == shown
