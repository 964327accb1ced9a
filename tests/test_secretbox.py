"""mist.secretbox: credentials encrypted at rest with a key only the data directory holds."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from mist.errors import MistError
from mist.secretbox import SecretBox


def test_round_trip_with_a_private_server_secret(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "data" / "secret.key")
    sealed = box.encrypt("ghp_example_token")
    assert "ghp_example_token" not in sealed
    assert sealed != box.encrypt("ghp_example_token")  # a fresh nonce each time
    assert box.decrypt(sealed) == "ghp_example_token"
    assert stat.S_IMODE((tmp_path / "data" / "secret.key").stat().st_mode) == 0o600
    # Another process on the same data directory reads the same secret.
    assert SecretBox(tmp_path / "data" / "secret.key").decrypt(sealed) == "ghp_example_token"


def test_another_server_secret_or_a_tampered_value_cannot_be_read(tmp_path: Path) -> None:
    sealed = SecretBox(tmp_path / "a.key").encrypt("value")
    with pytest.raises(MistError, match="cannot be decrypted"):
        SecretBox(tmp_path / "b.key").decrypt(sealed)
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(MistError, match="cannot be decrypted"):
        SecretBox(tmp_path / "a.key").decrypt(flipped)
    with pytest.raises(MistError, match="known format"):
        SecretBox(tmp_path / "a.key").decrypt("plain text")
