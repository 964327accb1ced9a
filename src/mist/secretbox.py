"""Encryption at rest for the credentials Mist must be able to read back (deploy keys, git tokens).

The key is derived (HKDF-SHA256) from a random server secret kept in MIST_DATA_DIR, made on first
use with mode 0600: a copy of the database alone does not reveal the credentials in it.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mist.errors import MistError

_PREFIX = "v1:"
# HKDF info strings of the keys the box keeps to itself; `derive` refuses them.
_CREDENTIALS_INFO = b"mist credentials v1"
_CHECK_INFO = b"mist key check v1"


class SecretBox:
    def __init__(self, secret_file: Path) -> None:
        self.secret_file = secret_file
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CREDENTIALS_INFO).derive(
                self._server_secret()
            )
            self._aead = AESGCM(key)
        return self._aead

    def _server_secret(self) -> bytes:
        try:
            return self.secret_file.read_bytes()
        except FileNotFoundError:
            pass
        self.secret_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # O_EXCL: of two processes racing to create it, one wins and both read the winner's.
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return self.secret_file.read_bytes()
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
        return self.secret_file.read_bytes()

    def fingerprint(self) -> str:
        """Names the server secret without revealing it or the key (another HKDF output), so processes
        sharing a database can tell whether they hold the same one."""
        return HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=_CHECK_INFO).derive(
            self._server_secret()).hex()

    def derive(self, info: bytes) -> bytes:
        """A 32-byte key of its own for `info` (HKDF of the server secret): each use of the secret (the
        credentials, the backups) gets an independent key, so one leaking reveals nothing of another."""
        if info in (_CREDENTIALS_INFO, _CHECK_INFO):
            raise ValueError("derive: this info names a key the secret box keeps to itself")
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self._server_secret())

    def encrypt(self, plaintext: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._cipher().encrypt(nonce, plaintext.encode(), None)
        return _PREFIX + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, stored: str) -> str:
        if not stored.startswith(_PREFIX):
            raise MistError("a stored credential is not in a known format")
        raw = base64.b64decode(stored[len(_PREFIX):])
        try:
            return self._cipher().decrypt(raw[:12], raw[12:], None).decode()
        except InvalidTag as exc:
            raise MistError(
                f"a stored credential cannot be decrypted: was {self.secret_file} replaced?"
            ) from exc
