"""mist.backups.storage: backup files in a local directory and in a real S3-compatible server (SeaweedFS,
tests/support/s3.py), streamed, checked after upload, and never left half-written."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from support.s3 import S3Server

from mist.backups import storage as storage_module
from mist.backups.storage import PART, LocalStorage, S3Storage, S3Target, Storage, Stored, check_target
from mist.errors import BackupMissing, InvalidInput, StorageFailed


async def _feed(data: bytes, size: int, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        if fail_after is not None and start >= fail_after:
            raise RuntimeError("the dump broke")
        yield data[start:start + size]


async def _read(store: Storage, name: str) -> bytes:
    return b"".join([chunk async for chunk in store.get(name)])


def put(store: Storage, name: str, data: bytes, size: int = 100_000, fail_after: int | None = None) -> Stored:
    return asyncio.run(store.put(name, _feed(data, size, fail_after)))


def read(store: Storage, name: str) -> bytes:
    return asyncio.run(_read(store, name))


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


# ---------------------------------------------------------------- local directory


def test_local_round_trip_private_files_and_delete(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path / "backups")
    data = os.urandom(3 * 1024 * 1024 + 17)
    stored = put(store, "app-1/backup-1.dump.mist", data, size=77_777)
    path = tmp_path / "backups" / "app-1" / "backup-1.dump.mist"
    assert stored == Stored(location=str(path), size=len(data), sha256=hashlib.sha256(data).hexdigest())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read(store, "app-1/backup-1.dump.mist") == data
    assert _files(tmp_path / "backups") == ["app-1/backup-1.dump.mist"]

    assert put(store, "app-1/backup-1.dump.mist", b"newer").size == 5  # a retried name is replaced whole
    assert read(store, "app-1/backup-1.dump.mist") == b"newer"

    asyncio.run(store.delete("app-1/backup-1.dump.mist"))
    asyncio.run(store.delete("app-1/backup-1.dump.mist"))  # already gone is fine
    with pytest.raises(BackupMissing, match="backup-1.dump.mist is gone"):
        read(store, "app-1/backup-1.dump.mist")


def test_local_failing_stream_leaves_nothing_behind(tmp_path: Path) -> None:
    store = LocalStorage(tmp_path)
    put(store, "app-1/kept.mist", b"an earlier backup")
    with pytest.raises(RuntimeError, match="the dump broke"):
        put(store, "app-1/broken.mist", os.urandom(4 * 1024 * 1024), size=65536, fail_after=2 * 1024 * 1024)
    assert _files(tmp_path) == ["app-1/kept.mist"]


def test_local_write_failure_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "app-1").write_text("a file where the directory should be")
    with pytest.raises(StorageFailed, match="cannot create the backup file in"):
        put(LocalStorage(tmp_path), "app-1/backup.mist", b"data")


@pytest.mark.parametrize("name", ["../escape", "/etc/passwd", "a/../../b", "a//b", ".hidden", "a/.part", "",
                                  "a/", "sp ace", "x" * 600])
def test_names_cannot_escape_the_storage(tmp_path: Path, name: str) -> None:
    store = LocalStorage(tmp_path / "backups")
    with pytest.raises(InvalidInput, match="not a valid backup file name"):
        put(store, name, b"data")
    with pytest.raises(InvalidInput):
        read(store, name)
    with pytest.raises(InvalidInput):
        asyncio.run(store.delete(name))
    assert not (tmp_path / "backups").exists() or _files(tmp_path / "backups") == []


# ---------------------------------------------------------------- S3


def _target(s3: S3Server, bucket: str, prefix: str = "mist/backups", **changes: str) -> S3Target:
    fields = dict(endpoint=s3.endpoint, bucket=bucket, region=s3.region, prefix=prefix, access_key=s3.access_key,
                  secret_key=s3.secret_key)
    fields.update(changes)
    return S3Target(**fields)


def _objects(s3: S3Server, bucket: str) -> list[str]:
    return [item["Key"] for item in s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])]


def _uploads(s3: S3Server, bucket: str) -> list[Any]:
    return list(s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))


def test_s3_round_trip_of_a_multipart_object(s3: S3Server) -> None:
    bucket = s3.bucket()
    store = S3Storage(_target(s3, bucket))
    data = os.urandom(2 * PART + 12345)  # three parts, the last a short one
    stored = put(store, "app-3/backup-9.dump.mist", data, size=1_000_003)
    assert stored == Stored(location=f"s3://{bucket}/mist/backups/app-3/backup-9.dump.mist", size=len(data),
                            sha256=hashlib.sha256(data).hexdigest())
    assert _objects(s3, bucket) == ["mist/backups/app-3/backup-9.dump.mist"]
    head = s3.client().head_object(Bucket=bucket, Key="mist/backups/app-3/backup-9.dump.mist")
    assert head["ContentLength"] == len(data) and head["ETag"].strip('"').endswith("-3")
    assert read(store, "app-3/backup-9.dump.mist") == data

    asyncio.run(store.delete("app-3/backup-9.dump.mist"))
    asyncio.run(store.delete("app-3/backup-9.dump.mist"))  # already gone is fine
    assert _objects(s3, bucket) == []
    with pytest.raises(BackupMissing, match=f"s3://{bucket}/mist/backups/app-3/backup-9.dump.mist is gone"):
        read(store, "app-3/backup-9.dump.mist")


def test_s3_small_and_empty_objects_without_a_prefix(s3: S3Server) -> None:
    bucket = s3.bucket()
    store = S3Storage(_target(s3, bucket, prefix=""))
    assert put(store, "tiny.mist", b"x").location == f"s3://{bucket}/tiny.mist"
    assert put(store, "empty.mist", b"").size == 0
    assert read(store, "tiny.mist") == b"x" and read(store, "empty.mist") == b""


def test_s3_failing_stream_aborts_the_upload(s3: S3Server) -> None:
    bucket = s3.bucket()
    store = S3Storage(_target(s3, bucket))
    with pytest.raises(RuntimeError, match="the dump broke"):
        put(store, "app-1/broken.mist", os.urandom(3 * PART), size=1 << 20, fail_after=PART + PART // 2)
    assert _objects(s3, bucket) == []
    assert _uploads(s3, bucket) == []


def test_s3_an_object_failing_its_check_is_deleted(s3: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    bucket = s3.bucket()
    seen: list[dict[str, Any]] = []

    def wrong(where: str, size: int, md5s: list[bytes], shas: list[bytes], head: dict[str, Any],
              done: dict[str, Any]) -> None:
        seen.append(head)
        raise StorageFailed(f"S3 check of {where} failed: pretend")

    monkeypatch.setattr(storage_module, "_check_upload", wrong)
    with pytest.raises(StorageFailed, match="pretend"):
        put(S3Storage(_target(s3, bucket)), "app-1/backup.mist", os.urandom(PART + 1))
    assert seen and seen[0]["ContentLength"] == PART + 1
    assert _objects(s3, bucket) == [] and _uploads(s3, bucket) == []


def test_the_upload_check_compares_size_and_checksum_or_etag() -> None:
    blocks = [os.urandom(1000), os.urandom(10)]
    md5s = [hashlib.md5(block).digest() for block in blocks]
    shas = [hashlib.sha256(block).digest() for block in blocks]
    etag = f'"{hashlib.md5(b"".join(md5s)).hexdigest()}-2"'
    checksum = storage_module._b64(hashlib.sha256(b"".join(shas)).digest()) + "-2"
    check = storage_module._check_upload

    check("s3://b/k", 1010, md5s, shas, {"ContentLength": 1010, "ETag": etag}, {})
    check("s3://b/k", 1010, md5s, shas, {"ContentLength": 1010, "ETag": "opaque", "ChecksumSHA256": checksum}, {})
    check("s3://b/k", 1010, md5s, shas, {"ContentLength": 1010, "ETag": "opaque"}, {"ChecksumSHA256": checksum})
    with pytest.raises(StorageFailed, match="the bucket holds 1009 bytes, 1010 were sent"):
        check("s3://b/k", 1010, md5s, shas, {"ContentLength": 1009, "ETag": etag}, {})
    with pytest.raises(StorageFailed, match="its ETag .* is not the"):
        check("s3://b/k", 1010, md5s[::-1], shas, {"ContentLength": 1010, "ETag": etag}, {})
    with pytest.raises(StorageFailed, match="its SHA-256 checksum .* is not the"):
        check("s3://b/k", 1010, md5s, shas[::-1], {"ContentLength": 1010, "ETag": etag, "ChecksumSHA256": checksum},
              {})


def test_s3_upload_memory_stays_near_one_part(s3: S3Server) -> None:
    store = S3Storage(_target(s3, s3.bucket()))
    chunk = os.urandom(64 * 1024)
    total = 10 * PART

    async def source() -> AsyncIterator[bytes]:
        for _ in range(total // len(chunk)):
            yield chunk

    put(store, "warm-up.mist", b"x")  # S3's service model, loaded once per process, is not the upload's
    tracemalloc.start()
    try:
        stored = asyncio.run(store.put("big.mist", source()))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stored.size == total
    # A part being sent, the next one filling, its copy, and a worker thread yet to drop the one before.
    assert peak < 4 * PART, f"peak {peak} bytes for a {total}-byte upload in parts of {PART}"


def test_check_target_accepts_a_usable_bucket_and_leaves_nothing(s3: S3Server) -> None:
    bucket = s3.bucket()
    asyncio.run(check_target(_target(s3, bucket)))
    assert _objects(s3, bucket) == []


def test_check_target_names_the_problem_without_the_secret(s3: S3Server) -> None:
    bucket = s3.bucket()
    wrong_secret = "wrong-" + s3.secret_key[::-1]
    cases = [
        (_target(s3, bucket, secret_key=wrong_secret), "refused these credentials"),
        (_target(s3, bucket, access_key="NOSUCHKEY"), "refused these credentials"),
        (_target(s3, "no-such-bucket"), "bucket 'no-such-bucket' does not exist"),
        (_target(s3, bucket, endpoint="http://127.0.0.1:9"), "cannot reach the S3 service at http://127.0.0.1:9"),
    ]
    for target, expected in cases:
        with pytest.raises(InvalidInput, match=expected) as caught:
            asyncio.run(check_target(target))
        assert target.secret_key not in caught.value.message and s3.secret_key not in caught.value.message
        assert target.secret_key not in repr(target)


def test_s3_wrong_credentials_fail_a_put_clearly(s3: S3Server) -> None:
    bucket = s3.bucket()
    target = _target(s3, bucket, secret_key="not-" + s3.secret_key)
    with pytest.raises(StorageFailed, match=r"S3 upload of s3://.*backup.mist failed: .*403") as caught:
        put(S3Storage(target), "backup.mist", b"data")
    assert target.secret_key not in caught.value.message
    assert _objects(s3, bucket) == []
