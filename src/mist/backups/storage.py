"""Where backup files are kept: a local directory (MIST_BACKUP_DIR) or an S3-compatible bucket.

Both stream: a file of any size passes through holding one buffer (1 MiB locally, one 8 MiB part for
S3). A put is checked after the upload by size and checksum against what was sent, and leaves nothing
behind when anything fails (locally a temporary file renamed into place only once complete and
synced; in S3 a multipart upload aborted, or an object that fails its check deleted).

boto3 is synchronous: this adapter runs each of its calls in a thread (asyncio.to_thread), one at a
time per transfer. Errors become MistErrors here, with the secret key scrubbed from any text.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import re
import secrets
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from mist.errors import BackupMissing, InvalidInput, MistError, StorageFailed

PART = 8 * 1024 * 1024
CHUNK = 1024 * 1024
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
T = TypeVar("T")


@dataclass(frozen=True)
class Stored:
    """Where a put left the file, and its size and SHA-256 (hex) as stored: checked by whoever reads it."""

    location: str
    size: int
    sha256: str


class Storage(Protocol):
    async def put(self, name: str, chunks: AsyncIterable[bytes]) -> Stored:
        """Stores `chunks` as `name` (replacing any file of that name), or raises a MistError and
        leaves nothing behind."""
        ...

    def get(self, name: str) -> AsyncIterator[bytes]:
        """The stored bytes of `name`; BackupMissing (on first iteration) when it is gone."""
        ...

    async def delete(self, name: str) -> None:
        """Removes `name`; one already gone is fine."""
        ...


def check_name(name: str) -> str:
    """A file name relative to the storage's root: '/'-separated segments of letters, digits, '.', '_'
    and '-', none empty, starting with a dot, or climbing out of the root."""
    parts = name.split("/")
    if len(name) > 512 or not all(_SEGMENT.match(part) for part in parts):
        raise InvalidInput(f"not a valid backup file name: {name!r}")
    return name


class LocalStorage:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / check_name(name)

    async def put(self, name: str, chunks: AsyncIterable[bytes]) -> Stored:
        path = self._path(name)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
        digest = hashlib.sha256()
        size = 0
        fd = await _local(f"cannot create the backup file in {path.parent}", _create, temp)
        try:
            try:
                async for block in _blocks(chunks, CHUNK):
                    digest.update(block)
                    size += len(block)
                    await _local(f"writing the backup file {path} failed", _write_all, fd, block)
                await _local(f"writing the backup file {path} failed", os.fsync, fd)
                written = (await _local(f"cannot check the backup file {path}", os.fstat, fd)).st_size
            finally:
                os.close(fd)
            if written != size:
                raise StorageFailed(f"the backup file {path} holds {written} bytes, not the {size} written")
            await _local(f"cannot move the backup file into place at {path}", _publish, temp, path)
        except BaseException:
            # Whatever failed (the stream, the disk, a cancellation), no partial file stays.
            await asyncio.shield(asyncio.to_thread(temp.unlink, missing_ok=True))
            raise
        return Stored(location=str(path), size=size, sha256=digest.hexdigest())

    async def get(self, name: str) -> AsyncIterator[bytes]:
        path = self._path(name)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as exc:
            raise BackupMissing(f"the backup file {path} is gone") from exc
        except OSError as exc:
            raise StorageFailed(f"cannot read the backup file {path}: {exc.strerror}") from exc
        try:
            while block := await asyncio.to_thread(handle.read, CHUNK):
                yield block
        except OSError as exc:
            raise StorageFailed(f"reading the backup file {path} failed: {exc.strerror}") from exc
        finally:
            handle.close()

    async def delete(self, name: str) -> None:
        path = self._path(name)
        try:
            await asyncio.to_thread(path.unlink, missing_ok=True)
        except OSError as exc:
            raise StorageFailed(f"cannot delete the backup file {path}: {exc.strerror}") from exc


async def _local(failure: str, call: Callable[..., T], *args: Any) -> T:
    """A blocking file operation in a thread; an OSError becomes StorageFailed saying `failure`."""
    try:
        return await asyncio.to_thread(call, *args)
    except OSError as exc:
        raise StorageFailed(f"{failure}: {exc.strerror or exc}") from exc


def _create(temp: Path) -> int:
    temp.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # O_EXCL with a random name: never another put's file; 0600: a dump holds the database's data.
    return os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _publish(temp: Path, path: Path) -> None:
    """Renames the complete file into place and syncs the directory, so the name survives a crash."""
    os.replace(temp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True)
class S3Target:
    """A bucket of an S3-compatible service; `prefix` (no leading or trailing '/') heads every key."""

    endpoint: str
    bucket: str
    region: str
    prefix: str
    access_key: str
    secret_key: str = field(repr=False)


class S3Storage:
    def __init__(self, target: S3Target) -> None:
        self.target = target
        self._client: Any = None

    def _key(self, name: str) -> str:
        check_name(name)
        return f"{self.target.prefix}/{name}" if self.target.prefix else name

    def location(self, name: str) -> str:
        return f"s3://{self.target.bucket}/{self._key(name)}"

    async def _call(self, what: str, method: str, *, missing: str = "", **kwargs: Any) -> Any:
        """One S3 call, in a thread; failures become StorageFailed naming `what` failed, or BackupMissing
        saying `missing` when the key is not there."""
        try:
            if self._client is None:
                self._client = await asyncio.to_thread(_client, self.target, _TRANSFER)
            return await asyncio.to_thread(getattr(self._client, method), Bucket=self.target.bucket, **kwargs)
        except ClientError as exc:
            if missing and _code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise BackupMissing(missing) from exc
            raise StorageFailed(f"S3 {what} failed: {_describe(exc, self.target)}") from exc
        except BotoCoreError as exc:
            raise StorageFailed(f"S3 {what} failed: {_describe(exc, self.target)}") from exc

    async def put(self, name: str, chunks: AsyncIterable[bytes]) -> Stored:
        key = self._key(name)
        where = self.location(name)
        upload = await self._call(f"upload of {where}", "create_multipart_upload", Key=key, ChecksumAlgorithm="SHA256")
        upload_id: str = upload["UploadId"]
        digest = hashlib.sha256()
        md5s: list[bytes] = []
        shas: list[bytes] = []
        parts: list[dict[str, Any]] = []
        size = 0
        completed = False
        try:
            async for block in _blocks(chunks, PART, at_least_one=True):
                digest.update(block)
                size += len(block)
                md5s.append(hashlib.md5(block).digest())
                shas.append(hashlib.sha256(block).digest())
                # Content-MD5 and the SHA-256 make the service check each part as it arrives.
                answer = await self._call(
                    f"upload of part {len(parts) + 1} of {where}", "upload_part", Key=key, UploadId=upload_id,
                    PartNumber=len(parts) + 1, Body=block, ContentMD5=_b64(md5s[-1]), ChecksumSHA256=_b64(shas[-1]))
                part = {"PartNumber": len(parts) + 1, "ETag": answer["ETag"]}
                if answer.get("ChecksumSHA256"):
                    part["ChecksumSHA256"] = answer["ChecksumSHA256"]
                parts.append(part)
                del block  # sent: not held while the next part fills
            done = await self._call(f"completion of the upload of {where}", "complete_multipart_upload", Key=key,
                                    UploadId=upload_id, MultipartUpload={"Parts": parts})
            completed = True
            head = await self._call(f"check of {where}", "head_object", Key=key, ChecksumMode="ENABLED")
            _check_upload(where, size, md5s, shas, head, done)
        except BaseException:
            await asyncio.shield(self._abandon(key, upload_id, completed))
            raise
        return Stored(location=where, size=size, sha256=digest.hexdigest())

    async def _abandon(self, key: str, upload_id: str, completed: bool) -> None:
        """Leaves nothing behind: the upload's parts, or the object it made when it failed its check."""
        try:
            if completed:
                await self._call("clean-up", "delete_object", Key=key)
            else:
                await self._call("clean-up", "abort_multipart_upload", Key=key, UploadId=upload_id)
        except MistError:
            # The failure being reported is the upload's; a service that also refuses the clean-up is
            # down or unreachable, and the bucket's own lifecycle rules are the last resort there.
            pass

    async def get(self, name: str) -> AsyncIterator[bytes]:
        key = self._key(name)
        answer = await self._call(f"download of {self.location(name)}", "get_object", Key=key,
                                  missing=f"the backup file {self.location(name)} is gone from the bucket")
        body = answer["Body"]
        try:
            while True:
                try:
                    block = await asyncio.to_thread(body.read, CHUNK)
                except (BotoCoreError, OSError) as exc:
                    raise StorageFailed(f"S3 download of {self.location(name)} failed: "
                                        f"{_describe(exc, self.target)}") from exc
                if not block:
                    return
                yield block
        finally:
            body.close()

    async def delete(self, name: str) -> None:
        await self._call(f"delete of {self.location(name)}", "delete_object", Key=self._key(name))


def _check_upload(where: str, size: int, md5s: list[bytes], shas: list[bytes], head: dict[str, Any],
                  done: dict[str, Any]) -> None:
    """The object must hold what was sent: its size, and either its SHA-256 checksum of the parts'
    checksums (services that keep checksums) or its ETag, the MD5 of the parts' MD5s (all the others)."""
    if head.get("ContentLength") != size:
        raise StorageFailed(f"S3 check of {where} failed: the bucket holds {head.get('ContentLength')} bytes, "
                            f"{size} were sent")
    checksum = head.get("ChecksumSHA256") or done.get("ChecksumSHA256")
    if checksum:
        expected = _b64(hashlib.sha256(b"".join(shas)).digest())
        if checksum.split("-")[0] != expected:
            raise StorageFailed(f"S3 check of {where} failed: its SHA-256 checksum {checksum} is not the "
                                f"{expected}-{len(shas)} of what was sent")
        return
    etag = str(head.get("ETag", "")).strip('"')
    expected = f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"
    if etag != expected:
        raise StorageFailed(f"S3 check of {where} failed: its ETag {etag} is not the {expected} of what was sent")


async def check_target(target: S3Target) -> None:
    """Proves a destination usable before it is saved: the bucket exists, and these credentials may
    write to it and delete from it (a small object under the prefix, removed at once). Raises
    InvalidInput naming the problem."""
    probe = f"{target.prefix}/.mist-check-{secrets.token_hex(8)}" if target.prefix else \
        f".mist-check-{secrets.token_hex(8)}"
    try:
        client = await asyncio.to_thread(_client, target, _CHECK)
        await asyncio.to_thread(client.head_bucket, Bucket=target.bucket)
        await asyncio.to_thread(client.put_object, Bucket=target.bucket, Key=probe, Body=b"mist")
        await asyncio.to_thread(client.delete_object, Bucket=target.bucket, Key=probe)
    except ClientError as exc:
        code = _code(exc)
        if code in ("404", "NoSuchBucket", "NotFound"):
            raise InvalidInput(f"bucket {target.bucket!r} does not exist at {target.endpoint}") from exc
        if code in ("403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "Forbidden"):
            raise InvalidInput(f"{target.endpoint} refused these credentials for bucket {target.bucket!r} "
                               f"({_describe(exc, target)}): check accessKey and secretKey") from exc
        if code in ("301", "PermanentRedirect", "AuthorizationHeaderMalformed", "400"):
            raise InvalidInput(f"bucket {target.bucket!r} answered {_describe(exc, target)}: "
                               "check the region") from exc
        raise InvalidInput(f"bucket {target.bucket!r} at {target.endpoint} is not usable: "
                           f"{_describe(exc, target)}") from exc
    except BotoCoreError as exc:
        raise InvalidInput(f"cannot reach the S3 service at {target.endpoint}: {_describe(exc, target)}") from exc


# Transfers retry and wait like any S3 client; the check at destination create answers within seconds.
_TRANSFER = Config(connect_timeout=10, read_timeout=120, retries={"max_attempts": 5, "mode": "standard"})
_CHECK = Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2, "mode": "standard"})


_session: Any = None
_session_lock = threading.Lock()


def _client(target: S3Target, timing: Config) -> Any:
    # One boto3 session for the process: it loads S3's service model (about 12 MB) once, not per client.
    # Making clients from it is not thread-safe, hence the lock; the clients themselves are. Path-style
    # addressing works with every S3-compatible service (virtual hosts need DNS per bucket); checksums
    # are the ones this module sends, not botocore's defaults, which some services refuse.
    global _session
    config = timing.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                 request_checksum_calculation="when_required",
                                 response_checksum_validation="when_required"))
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(
            "s3", endpoint_url=target.endpoint, region_name=target.region or "us-east-1",
            aws_access_key_id=target.access_key, aws_secret_access_key=target.secret_key, config=config)


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _describe(exc: BaseException, target: S3Target) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
        text = f"{error.get('Code', 'error')} {error.get('Message', '')} (HTTP {status})".replace("  ", " ")
    else:
        text = str(exc) or type(exc).__name__
    return text.replace(target.secret_key, "********") if target.secret_key else text


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


async def _blocks(chunks: AsyncIterable[bytes], size: int, *, at_least_one: bool = False) -> AsyncIterator[bytes]:
    """`chunks` regrouped into blocks of `size` bytes (the last one shorter), without holding more than
    one block and the chunk being cut, whatever the chunks' sizes; one empty block for empty input when
    `at_least_one` (a multipart upload needs a part)."""
    buffer = bytearray()
    sent = False
    async for chunk in chunks:
        view = memoryview(chunk)
        while view:
            take = view[:size - len(buffer)]
            buffer += take
            view = view[len(take):]
            if len(buffer) == size:
                block = bytes(buffer)
                buffer.clear()
                sent = True
                yield block
                del block
    if buffer or (at_least_one and not sent):
        yield bytes(buffer)
