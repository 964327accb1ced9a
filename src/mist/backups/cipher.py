"""Backups encrypted at rest, streamed: a dump of any size passes through holding one record at a time.

A file is a header, then records of at most RECORD bytes of plaintext, each sealed with AES-256-GCM:

    header  = MAGIC (7 bytes) | VERSION (1 byte) | salt (16 random bytes)
    record  = ciphertext | tag (16 bytes); every record but the last holds exactly RECORD bytes

Each file gets keys of its own: HKDF(backup key, salt) gives the AES key and a nonce prefix, and record
n is sealed under the nonce prefix | n, so a record moved elsewhere in the file (or into another file)
does not open. The associated data of each record is the header and a flag saying whether it is the last
record: a file cut at a record boundary ends on a record sealed as "not last", and bytes appended after
the end follow a record sealed as "last"; both are refused, as is any altered bit. A backup that does not
open raises CorruptBackup naming what is wrong; the key is never in a message.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterable, AsyncIterator

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mist.errors import CorruptBackup
from mist.secretbox import SecretBox

MAGIC = b"MISTBAK"
VERSION = 1
SALT = 16
HEADER = len(MAGIC) + 1 + SALT
RECORD = 1024 * 1024
TAG = 16
_NONCE_PREFIX = 4
_LAST = b"\x01"
_NOT_LAST = b"\x00"


def backup_key(box: SecretBox) -> bytes:
    """The key every backup is sealed with, derived from the server secret apart from the credentials'
    key: whoever holds the secret key file can read the backups, and nobody else."""
    return box.derive(b"mist backups v1")


async def encrypt(key: bytes, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The sealed file of the plaintext `chunks`, as a header then one piece per record."""
    header = MAGIC + bytes([VERSION]) + secrets.token_bytes(SALT)
    aead, prefix = _file_keys(key, header)
    yield header
    source = _Exact(chunks)
    counter = 0
    while True:
        # A record is sealed only once it is known whether more follows: the last one says so.
        plain = await source.read(RECORD)
        last = await source.at_end()
        yield aead.encrypt(_nonce(prefix, counter), plain, header + (_LAST if last else _NOT_LAST))
        if last:
            return
        counter += 1


async def decrypt(key: bytes, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    """The plaintext of the sealed file `chunks`, one record at a time. Raises CorruptBackup at the
    first record that does not open, so a consumer may have received the records before it: a restore
    must treat the error as the failure of the whole file."""
    source = _Exact(chunks)
    header = await source.read(HEADER)
    _check_header(header)
    aead, prefix = _file_keys(key, header)
    counter = 0
    while True:
        sealed = await source.read(RECORD + TAG)
        if not sealed and counter == 0:
            raise CorruptBackup("the backup file is cut short: it ends right after its header")
        last = await source.at_end()
        try:
            yield aead.decrypt(_nonce(prefix, counter), sealed, header + (_LAST if last else _NOT_LAST))
        except InvalidTag as exc:
            raise CorruptBackup(_what_is_wrong(aead, prefix, header, counter, sealed, last)) from exc
        if last:
            return
        counter += 1


def _check_header(header: bytes) -> None:
    if not header:
        raise CorruptBackup("the backup file is empty")
    if header[:len(MAGIC)] != MAGIC[:len(header)]:
        raise CorruptBackup("this is not a Mist backup file (its header is not one)")
    if len(header) < HEADER:
        raise CorruptBackup(f"the backup file is cut short: {len(header)} bytes, shorter than its header")
    if header[len(MAGIC)] != VERSION:
        raise CorruptBackup(f"the backup file is of format version {header[len(MAGIC)]}, which this Mist cannot read")


def _file_keys(key: bytes, header: bytes) -> tuple[AESGCM, bytes]:
    derived = HKDF(algorithm=hashes.SHA256(), length=32 + _NONCE_PREFIX, salt=header[-SALT:],
                   info=b"mist backup file v1").derive(key)
    return AESGCM(derived[:32]), derived[32:]


def _nonce(prefix: bytes, counter: int) -> bytes:
    return prefix + counter.to_bytes(12 - _NONCE_PREFIX, "big")


def _what_is_wrong(aead: AESGCM, prefix: bytes, header: bytes, counter: int, sealed: bytes, last: bool) -> str:
    """Names the damage: the record opens with the other "last" flag when the file was cut or extended
    at a record boundary; otherwise its bytes (or the key) are not the ones it was sealed with."""
    try:
        aead.decrypt(_nonce(prefix, counter), sealed, header + (_NOT_LAST if last else _LAST))
    except InvalidTag:
        where = "the last record" if last else f"record {counter}"
        return (f"the backup file is damaged: {where} (from byte {HEADER + counter * (RECORD + TAG)}) fails its "
                "authentication check; it was altered, reordered, cut short or extended, or sealed with another "
                "server secret")
    if last:
        return f"the backup file is cut short: it ends after record {counter}, which is not its last"
    return f"the backup file has data appended after its end (record {counter} is its last)"


class _Exact:
    """Reads exact sizes from chunks of any size without joining them: at most `n` bytes are copied,
    and a huge chunk is consumed a slice at a time."""

    def __init__(self, chunks: AsyncIterable[bytes]) -> None:
        self._chunks = aiter(chunks)
        self._pending = memoryview(b"")
        self._done = False

    async def _fill(self) -> bool:
        """Makes `_pending` non-empty; False at the end of the input."""
        while not self._pending:
            if self._done:
                return False
            try:
                self._pending = memoryview(await anext(self._chunks))
            except StopAsyncIteration:
                self._done = True
                return False
        return True

    async def read(self, n: int) -> bytes:
        """`n` bytes, or fewer at the end of the input (copied once, by the join)."""
        pieces: list[memoryview] = []
        wanted = n
        while wanted and await self._fill():
            pieces.append(self._pending[:wanted])
            wanted -= len(pieces[-1])
            self._pending = self._pending[len(pieces[-1]):]
        return b"".join(pieces)

    async def at_end(self) -> bool:
        return not await self._fill()
