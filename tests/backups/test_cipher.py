"""mist.backups.cipher: backups sealed at rest, streamed, and refused when altered in any way."""

from __future__ import annotations

import asyncio
import os
import tracemalloc
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest

from mist.backups import cipher
from mist.backups.cipher import HEADER, RECORD, TAG
from mist.errors import CorruptBackup
from mist.secretbox import SecretBox

KEY = bytes(range(32))
SEALED_RECORD = RECORD + TAG


async def _feed(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


async def _join(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def seal(data: bytes, size: int = 65536, key: bytes = KEY) -> bytes:
    return asyncio.run(_join(cipher.encrypt(key, _feed(data, size or 1))))


def open_(sealed: bytes, size: int = 65536, key: bytes = KEY) -> bytes:
    return asyncio.run(_join(cipher.decrypt(key, _feed(sealed, size or 1))))


def refused(sealed: bytes, key: bytes = KEY) -> str:
    with pytest.raises(CorruptBackup) as caught:
        open_(sealed, key=key)
    message = caught.value.message
    assert KEY.hex() not in message and repr(KEY) not in message
    return message


@pytest.mark.parametrize("length", [0, 1, 1000, RECORD - 1, RECORD, RECORD + 1, 2 * RECORD, 3 * RECORD + 5])
def test_round_trip_of_any_length(length: int) -> None:
    data = os.urandom(length)
    sealed = seal(data)
    records = max(1, -(-length // RECORD))
    assert len(sealed) == HEADER + length + records * TAG
    assert length < 16 or data[:64] not in sealed
    assert open_(sealed) == data


@pytest.mark.parametrize(("write", "read"), [(1, 7), (7, 1 << 20), (4096, 3), (RECORD + 3, SEALED_RECORD),
                                             (5 * RECORD, 5 * RECORD), (SEALED_RECORD - 1, SEALED_RECORD + 1)])
def test_round_trip_whatever_the_chunking(write: int, read: int) -> None:
    # Tiny chunks only on a small input: the point is the boundaries, not the volume.
    data = os.urandom(5000 if min(write, read) < 100 else 2 * RECORD + 77)
    assert open_(seal(data, write), read) == data


def test_each_file_has_its_own_keys_and_the_key_matters() -> None:
    data = b"the same dump" * 1000
    first, second = seal(data), seal(data)
    assert first[HEADER:] != second[HEADER:]
    assert "another server secret" in refused(first, key=bytes(32))


def test_the_backup_key_comes_from_the_server_secret_apart_from_the_credentials_key(tmp_path: Path) -> None:
    box = SecretBox(tmp_path / "secret.key")
    key = cipher.backup_key(box)
    assert len(key) == 32
    assert key == cipher.backup_key(SecretBox(tmp_path / "secret.key"))
    assert key != cipher.backup_key(SecretBox(tmp_path / "other.key"))
    assert key != box.derive(b"mist something else v1")
    with pytest.raises(ValueError, match="keeps to itself"):
        box.derive(b"mist credentials v1")


def _records(sealed: bytes) -> list[bytes]:
    body = sealed[HEADER:]
    return [body[i:i + SEALED_RECORD] for i in range(0, len(body), SEALED_RECORD)]


def test_any_flipped_bit_is_refused() -> None:
    sealed = seal(os.urandom(2 * RECORD + 100))
    for position in (HEADER, HEADER + 5, HEADER + RECORD, HEADER + SEALED_RECORD + 17, len(sealed) - 1,
                     HEADER - 1):  # the salt, which the file's keys come from
        altered = bytearray(sealed)
        altered[position] ^= 0x01
        assert "fails its authentication check" in refused(bytes(altered))


def test_header_damage_is_named() -> None:
    sealed = seal(b"dump")
    assert refused(b"") == "the backup file is empty"
    assert "not a Mist backup" in refused(b"PGDMP" + sealed[5:])
    assert "not a Mist backup" in refused(b"\x00" * 200)
    assert "shorter than its header" in refused(sealed[:10])
    assert "ends right after its header" in refused(sealed[:HEADER])
    assert "format version 2" in refused(sealed[:7] + b"\x02" + sealed[8:])


def test_truncation_appending_and_reordering_are_refused() -> None:
    sealed = seal(os.urandom(3 * RECORD + 10))
    header, records = sealed[:HEADER], _records(sealed)
    assert len(records) == 4
    # Cut exactly at a record boundary: every record left opens, but none is sealed as the last.
    assert refused(header + b"".join(records[:2])) == \
        "the backup file is cut short: it ends after record 1, which is not its last"
    # Cut inside the last record, or inside another.
    assert "fails its authentication check" in refused(sealed[:-1])
    assert "fails its authentication check" in refused(sealed[:HEADER + SEALED_RECORD + 100])
    # Bytes after the end: inside a short last record they make it another record; after a full one, the
    # last record is now followed by something.
    assert "fails its authentication check" in refused(sealed + b"x")
    full = seal(os.urandom(2 * RECORD))
    assert refused(full + b"x") == "the backup file has data appended after its end (record 1 is its last)"
    assert "appended" in refused(full + records[0])
    # Records swapped, dropped from the middle, or taken from another backup.
    assert "record 1" in refused(header + records[0] + records[2] + records[1] + records[3])
    assert "record 1" in refused(header + records[0] + records[2] + records[3])
    other = _records(seal(os.urandom(3 * RECORD + 10)))
    assert "record 2" in refused(header + records[0] + records[1] + other[2] + records[3])


def test_memory_stays_at_one_record_whatever_the_size() -> None:
    """100 MiB through encrypt and decrypt, in small chunks and in chunks larger than a record: the peak
    of what Python holds stays a few records, never the file."""
    total = 100 * 1024 * 1024

    async def source(chunk: bytes) -> AsyncIterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    async def through(chunk: bytes) -> int:
        count = 0
        async for block in cipher.decrypt(KEY, cipher.encrypt(KEY, source(chunk))):
            count += len(block)
        return count

    for chunk in _chunks((64 * 1024, 5 * RECORD)):
        tracemalloc.start()
        try:
            assert asyncio.run(through(chunk)) == total
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < len(chunk) + 5 * RECORD, f"peak {peak} bytes for chunks of {len(chunk)}"


def _chunks(sizes: Iterable[int]) -> list[bytes]:
    return [os.urandom(size) for size in sizes]
