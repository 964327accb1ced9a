"""How each database engine is dumped, restored and proven restorable, with the tools its official
image carries, run in the database's own container through `Engine.exec`.

Dumps and restores are streams: a dump is an iterator of chunks as the tool prints them, a restore
feeds chunks to the tool's stdin, so no dump is ever held whole by Mist. Credentials reach the
tools only through the exec's environment (PGPASSWORD, REDISCLI_AUTH, MYSQL_PWD, a config file made
from the environment for mongo tools): never the command line, which the host's process list and the
engine's records show, nor a log line.

`verify` restores a dump into a throwaway container of the same image, with no network at all
(named mist-verify-<random>, labelled VERIFY_LABEL, never the app label, and always removed), then
asks it what it holds. A dump that cannot be restored raises VerificationFailed; a throwaway
container that cannot be run raises RuntimeEngineError (the dump was not judged).

Only postgres and redis are tested against a real engine (the tests build those images from Debian
packages); mysql, mariadb and mongodb send the commands their official images document, checked
by unit tests on what they send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from mist.errors import ExecFailed, MistError, RuntimeEngineError, VerificationFailed
from mist.runtime.engine import Engine
from mist.runtime.requests import ContainerRequest, ContainerState

Log = Callable[[str], Awaitable[None]]

VERIFY_LABEL = "mist.verify"  # throwaway containers verifying a dump
RESTORE_LABEL = "mist.restore"  # helper containers of a restore (redis), on the app's volume
READY_SECONDS = 120.0  # a throwaway database (or a big snapshot loading) must answer within this
STOP_SECONDS = 5
POLL_SECONDS = 0.25
QUOTED_LINES = 8
_TEXT_BYTES = 64 * 1024  # the answer of a probe or a count


@dataclass(frozen=True)
class Database:
    """A database app's running container, as the recipes need it."""

    container_id: str
    image: str
    env: dict[str, str] = field(repr=False)  # the app's env, credentials included
    volume: str
    data_path: str  # where `volume` is mounted in the container


class Dumper(Protocol):
    extension: str  # of the dump file, without the dot

    async def ready(self, engine: Engine, db: Database) -> None:
        """Waits (READY_SECONDS at most) until the app's database answers: a database deployed a
        moment ago may still be initialising, and a dump then would fail for nothing."""

    def dump(self, engine: Engine, db: Database) -> AsyncIterator[bytes]:
        """The dump, in chunks as the tool prints them; ExecFailed when the tool fails."""
        ...

    async def restore(self, engine: Engine, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        """Replaces the app's data with the dump, in its running container."""

    async def verify(self, engine: Engine, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        """Restores the dump into a throwaway container of `image`; a one-line summary of what it holds."""
        ...


# --------------------------------------------------------------------------- shared steps


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    async for _ in chunks:
        pass


async def _text(engine: Engine, container_id: str, command: list[str], env: dict[str, str] | None = None) -> str:
    """The output of a command that prints little (an answer, a count); bounded all the same."""
    out = bytearray()
    async for chunk in engine.exec(container_id, command, env):
        out += chunk
        del out[:-_TEXT_BYTES]
    return out.decode(errors="replace").strip()


def _quote(exc: ExecFailed) -> str:
    lines = [line for line in exc.stderr.splitlines() if line.strip()]
    return " | ".join(lines[-QUOTED_LINES:]) or f"exit code {exc.exit_code}"


def _count(answer: str, what: str) -> int:
    try:
        return int(answer.split()[-1])
    except (ValueError, IndexError):
        raise RuntimeEngineError(f"the throwaway database answered {answer[:200]!r} when asked for {what}") from None


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@contextlib.asynccontextmanager
async def _throwaway(
    engine: Engine, image: str, env: dict[str, str], command: list[str] | None, log: Log,
    label: str = VERIFY_LABEL, volumes: dict[str, str] | None = None,
) -> AsyncIterator[ContainerState]:
    """A container of `image` with no network (loopback only), removed with its anonymous volumes
    however the block ends, a cancellation included."""
    name = f"mist-{label.removeprefix('mist.')}-{secrets.token_hex(6)}"
    request = ContainerRequest(name=name, image=image, labels={label: "1"}, env=env, command=command,
                               network="none", restart_policy="no", volumes=volumes or {})
    await log(f"Starting the throwaway container {name} ({image}, no network)")
    try:
        state = await engine.run(request)
    except BaseException:
        with contextlib.suppress(MistError):  # created but not started: remove by name
            await asyncio.shield(engine.remove(name, 0))
        raise
    try:
        yield state
    finally:
        await asyncio.shield(engine.remove(state.id, STOP_SECONDS))


async def _until(engine: Engine, container_id: str, ready: Callable[[], Awaitable[bool]], what: str) -> None:
    """Waits for `ready` (a probe run in the container) to answer True."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_SECONDS
    while True:
        with contextlib.suppress(RuntimeEngineError):  # not up yet, or a failed probe (ExecFailed)
            if await ready():
                return
        state = await engine.inspect(container_id)
        if state is None or state.status != "running":
            tail = " | ".join(await engine.tail(container_id, QUOTED_LINES))
            raise RuntimeEngineError(f"{what} stopped before it was ready" + (f": {tail}" if tail else ""))
        if loop.time() > deadline:
            raise RuntimeEngineError(f"{what} did not get ready within {READY_SECONDS:g} s")
        await asyncio.sleep(POLL_SECONDS)


async def _succeeds(engine: Engine, container_id: str, command: list[str], env: dict[str, str] | None = None) -> bool:
    await _drain(engine.exec(container_id, command, env))
    return True


# --------------------------------------------------------------------------- postgres

_PG_RESTORE = ["pg_restore", "--no-owner", "--single-transaction", "--exit-on-error", "--no-password"]
_PG_TABLES = ("SELECT count(*) FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
              "AND table_schema NOT IN ('pg_catalog', 'information_schema')")


def _pg_env(env: dict[str, str]) -> dict[str, str]:
    """libpq's variables from the official image's; the tools connect on the local socket."""
    user = env.get("POSTGRES_USER") or "postgres"
    return {"PGUSER": user, "PGPASSWORD": env.get("POSTGRES_PASSWORD", ""),
            "PGDATABASE": env.get("POSTGRES_DB") or user}


class Postgres:
    extension = "pgdump"  # pg_dump's custom format (compressed; what pg_restore reads)

    async def ready(self, engine: Engine, db: Database) -> None:
        # Over TCP: the first start's server listens on the socket only, and stops before the real one.
        env = {**_pg_env(db.env), "PGHOST": "127.0.0.1"}
        probe = ["pg_isready", "--quiet"]
        await _until(engine, db.container_id, lambda: _succeeds(engine, db.container_id, probe, env), "the database")

    def dump(self, engine: Engine, db: Database) -> AsyncIterator[bytes]:
        return engine.exec(db.container_id, ["pg_dump", "--format=custom", "--no-password"], _pg_env(db.env))

    async def restore(self, engine: Engine, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        env = _pg_env(db.env)
        # One transaction: a dump cut short or refused midway changes nothing. --clean drops what
        # the dump holds before making it again; what the dump does not hold stays.
        await log(f"pg_restore into the database {env['PGDATABASE']} (one transaction: on any error nothing changes)")
        command = [*_PG_RESTORE, "--clean", "--if-exists", f"--dbname={env['PGDATABASE']}"]
        try:
            await _drain(engine.exec(db.container_id, command, env, chunks))
        except ExecFailed as exc:
            raise VerificationFailed(f"pg_restore refused the backup, nothing was changed: {_quote(exc)}") from exc

    async def verify(self, engine: Engine, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        password = secrets.token_urlsafe(24)
        # Over TCP on loopback: the entrypoint's first-start server listens on the socket only, so
        # an answer on TCP is the real server's.
        env = {"PGHOST": "127.0.0.1", "PGUSER": "postgres", "PGPASSWORD": password, "PGDATABASE": "verify"}
        container_env = {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD": password, "POSTGRES_DB": "verify"}
        async with _throwaway(engine, image, container_env, None, log) as box:
            await _until(engine, box.id, lambda: _succeeds(engine, box.id, ["pg_isready", "--quiet"], env),
                         "the throwaway postgres")
            await log("Restoring the dump into an empty database")
            try:
                # No privileges: the roles they name exist on the app's server, not in this one.
                await _drain(engine.exec(box.id, [*_PG_RESTORE, "--no-privileges", "--dbname=verify"], env, chunks))
            except ExecFailed as exc:
                raise VerificationFailed(f"the backup cannot be restored: {_quote(exc)}") from exc
            tables = _count(await _text(engine, box.id, ["psql", "--no-psqlrc", "--tuples-only", "--no-align",
                                                         f"--command={_PG_TABLES}"], env), "its tables")
        return f"restored {_plural(tables, 'table')}"


# --------------------------------------------------------------------------- redis

_RDB_EOF_MARK = 40  # redis-cli 7.0 leaves the replication stream's end mark on a `--rdb -` dump
_REDIS_SERVER = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379",
                 "--dbfilename", "dump.rdb", "--appendonly", "no", "--save", ""]
_SPOOL = "mist-restore.rdb"
_ASIDE = "mist-restore.old"
# In the helper, on the app's volume: the app's files go aside (kept until the restore succeeded),
# the received snapshot becomes dump.rdb.
_SWAP = ('cd "$1" && rm -rf "$2" && mkdir "$2" && for f in appendonlydir dump.rdb; do '
         'if [ -e "$f" ]; then mv "$f" "$2/"; fi; done && mv "$3" dump.rdb')
_UNSWAP = 'cd "$1" && rm -rf appendonlydir dump.rdb && for f in "$2"/*; do mv "$f" .; done && rmdir "$2"'


def _redis_env(env: dict[str, str]) -> dict[str, str]:
    password = env.get("REDIS_PASSWORD", "")
    return {"REDISCLI_AUTH": password} if password else {}


async def _without_eof_mark(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The snapshot without the 40-character end mark redis-cli 7.0 writes after it on stdout (it
    truncates a file, which a pipe is not). An RDB ends with its EOF opcode (0xFF) and an 8-byte
    checksum: 40 hexadecimal characters right after those are the mark. Later redis-cli versions
    send none, and then nothing is cut."""
    held = b""
    try:
        async for chunk in chunks:
            held += chunk
            if len(held) > _RDB_EOF_MARK + 9:
                yield held[:-(_RDB_EOF_MARK + 9)]
                held = held[-(_RDB_EOF_MARK + 9):]
    finally:
        close = getattr(chunks, "aclose", None)  # a consumer leaving early ends the exec now, not at GC
        if close is not None:
            await close()
    mark = held[-_RDB_EOF_MARK:]
    if len(held) == _RDB_EOF_MARK + 9 and held[0] == 0xFF and all(c in b"0123456789abcdef" for c in mark):
        held = held[:-_RDB_EOF_MARK]
    if held:
        yield held


async def _check_rdb(engine: Engine, container_id: str, path: str) -> None:
    try:  # its report goes to stdout, and what ExecFailed quotes is stderr
        await _drain(engine.exec(container_id, ["sh", "-c", 'redis-check-rdb "$1" >&2', "sh", path]))
    except ExecFailed as exc:
        raise VerificationFailed(f"the snapshot cannot be loaded: {_quote(exc)}") from exc


async def _redis_answers(engine: Engine, container_id: str) -> bool:
    return await _text(engine, container_id, ["redis-cli", "PING"]) == "PONG"  # LOADING while it loads


async def _aof_rewritten(engine: Engine, container_id: str) -> bool:
    info = dict(line.split(":", 1) for line in (await _text(engine, container_id, ["redis-cli", "INFO", "persistence"]))
                .splitlines() if ":" in line)
    if info.get("aof_rewrite_in_progress", "1").strip() != "0" or info.get("aof_rewrite_scheduled", "1").strip() != "0":
        return False
    if info.get("aof_last_bgrewrite_status", "").strip() != "ok":
        raise RuntimeEngineError("redis could not write the append-only file of the restored data")
    return True


class Redis:
    """The template runs `redis-server --appendonly yes --dir /data` (as root: the official image's
    entrypoint steps down to the redis user only for a bare redis-server command). Redis reads a
    snapshot only when it starts, and with the append-only file on it reads that file alone: a
    dump.rdb put beside no AOF is ignored (an empty one is made). So a restore loads the snapshot
    in a helper container on the app's volume with the AOF off, then turns it on, which writes the
    AOF from the loaded data, and the app starts on that."""

    extension = "rdb"

    async def ready(self, engine: Engine, db: Database) -> None:
        env = _redis_env(db.env)
        await _until(engine, db.container_id,
                     lambda: _answers(engine, db.container_id, ["redis-cli", "PING"], "PONG", env), "the database")

    def dump(self, engine: Engine, db: Database) -> AsyncIterator[bytes]:
        return _without_eof_mark(engine.exec(db.container_id, ["redis-cli", "--rdb", "-"], _redis_env(db.env)))

    async def restore(self, engine: Engine, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        spool = f"{db.data_path}/{_SPOOL}"
        await log("Receiving the snapshot onto the data volume, and checking it")
        # The app keeps running until the snapshot is whole and sound: a bad one changes nothing.
        try:
            await _drain(engine.exec(db.container_id, ["sh", "-c", 'cat > "$1"', "sh", spool], None, chunks))
            await _check_rdb(engine, db.container_id, spool)
        except BaseException:
            with contextlib.suppress(MistError):
                await asyncio.shield(_drain(engine.exec(db.container_id, ["rm", "-f", spool])))
            raise
        await log("Stopping the app's container: Redis reads a snapshot only when it starts")
        await engine.stop(db.container_id)
        try:
            async with _throwaway(engine, db.image, {}, ["sleep", "infinity"], log, label=RESTORE_LABEL,
                                  volumes={db.volume: db.data_path}) as box:
                await self._load(engine, box, db.data_path, log)
        finally:
            await log("Starting the app's container again")
            await asyncio.shield(engine.start(db.container_id))

    async def _load(self, engine: Engine, box: ContainerState, data_path: str, log: Log) -> None:
        await _drain(engine.exec(box.id, ["sh", "-c", _SWAP, "sh", data_path, _ASIDE, _SPOOL]))
        try:
            await _drain(engine.exec(box.id, [*_REDIS_SERVER, "--dir", data_path]))
            await _until(engine, box.id, lambda: _redis_answers(engine, box.id), "redis loading the snapshot")
            keys = _count(await _text(engine, box.id, ["redis-cli", "DBSIZE"]), "its keys")
            await log(f"Loaded {_plural(keys, 'key')}; writing the append-only file the app starts from")
            await _text(engine, box.id, ["redis-cli", "CONFIG", "SET", "appendonly", "yes"])
            await _until(engine, box.id, lambda: _aof_rewritten(engine, box.id), "redis writing its append-only file")
            await _text(engine, box.id, ["redis-cli", "SHUTDOWN"])  # the AOF is flushed; no snapshot is saved
        except BaseException:
            await log("The restore failed: putting the app's own files back")
            with contextlib.suppress(MistError):
                await asyncio.shield(_text(engine, box.id, ["redis-cli", "SHUTDOWN", "NOSAVE"]))
            await asyncio.shield(_drain(engine.exec(box.id, ["sh", "-c", _UNSWAP, "sh", data_path, _ASIDE])))
            raise
        await _drain(engine.exec(box.id, ["rm", "-rf", f"{data_path}/{_ASIDE}"]))

    async def verify(self, engine: Engine, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        directory = "/tmp/mist-verify"
        async with _throwaway(engine, image, {}, ["sleep", "infinity"], log) as box:
            await log("Loading the snapshot into an empty redis")
            await _drain(engine.exec(box.id, ["sh", "-c", 'mkdir -p "$1" && cat > "$1/dump.rdb"', "sh", directory],
                                     None, chunks))
            await _check_rdb(engine, box.id, f"{directory}/dump.rdb")
            await _drain(engine.exec(box.id, [*_REDIS_SERVER, "--dir", directory]))
            await _until(engine, box.id, lambda: _redis_answers(engine, box.id), "the throwaway redis")
            keys = _count(await _text(engine, box.id, ["redis-cli", "DBSIZE"]), "its keys")
        return f"loaded {_plural(keys, 'key')}"


# --------------------------------------------------------------------------- mysql, mariadb


@dataclass(frozen=True)
class MySQL:
    """mysqldump's SQL of the app's database, as root (MYSQL_PWD); its statements drop each table
    before making it again. Not transactional: a restore refused midway keeps the tables restored
    so far (the before_restore backup has the rest)."""

    prefix: str  # of the image's variables: MYSQL or MARIADB
    client: str
    dumper: str  # MariaDB 11's image has only the mariadb-* names
    admin: str
    extension = "sql"

    async def ready(self, engine: Engine, db: Database) -> None:
        # Over TCP: the first start's server listens on no TCP port, and stops before the real one.
        ping = [self.admin, "--host=127.0.0.1", "--user=root", "ping"]
        await _until(engine, db.container_id, lambda: _succeeds(engine, db.container_id, ping, self._env(db.env)),
                     "the database")

    def _env(self, env: dict[str, str]) -> dict[str, str]:
        return {"MYSQL_PWD": env.get(f"{self.prefix}_ROOT_PASSWORD", "")}

    def _database(self, env: dict[str, str]) -> str:
        return env.get(f"{self.prefix}_DATABASE", "")

    def dump(self, engine: Engine, db: Database) -> AsyncIterator[bytes]:
        command = [self.dumper, "--user=root", "--single-transaction", "--routines", "--triggers", "--events",
                   "--no-tablespaces", "--hex-blob", self._database(db.env)]
        return engine.exec(db.container_id, command, self._env(db.env))

    async def restore(self, engine: Engine, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        database = self._database(db.env)
        await log(f"{self.client} into the database {database}")
        try:
            await _drain(engine.exec(db.container_id, [self.client, "--user=root", database], self._env(db.env),
                                     chunks))
        except ExecFailed as exc:
            raise VerificationFailed(f"{self.client} refused the backup: {_quote(exc)}") from exc

    async def verify(self, engine: Engine, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        password = secrets.token_urlsafe(24)
        env = {"MYSQL_PWD": password}
        tcp = ["--host=127.0.0.1", "--user=root"]  # the first start's server listens on no TCP port
        container_env = {f"{self.prefix}_ROOT_PASSWORD": password, f"{self.prefix}_DATABASE": "verify"}
        ending = _Ending()
        async with _throwaway(engine, image, container_env, None, log) as box:
            await _until(engine, box.id, lambda: _succeeds(engine, box.id, [self.admin, *tcp, "ping"], env),
                         f"the throwaway {self.client}")
            await log("Restoring the dump into an empty database")
            try:
                await _drain(engine.exec(box.id, [self.client, *tcp, "verify"], env, ending.watch(chunks)))
            except ExecFailed as exc:
                raise VerificationFailed(f"the backup cannot be restored: {_quote(exc)}") from exc
            # A dump cut between two statements restores without an error: its last line tells.
            if b"-- Dump completed" not in ending.tail:
                raise VerificationFailed("the backup is cut short: it does not end as a complete dump does")
            query = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'verify'"
            tables = _count(await _text(engine, box.id, [self.client, *tcp, "--batch", "--skip-column-names",
                                                         f"--execute={query}"], env), "its tables")
        return f"restored {_plural(tables, 'table')}"


class _Ending:
    """Keeps the last bytes of a stream passing through."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.tail = b""

    async def watch(self, chunks: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        async for chunk in chunks:
            self.tail = (self.tail + chunk)[-self.size:]
            yield chunk


# --------------------------------------------------------------------------- mongodb

# mongo tools take a password on the command line or in a --config file only: the file is made
# from the environment, readable by its owner alone, and removed when the tool ends.
_WITH_CONFIG = ('umask 077; f="$(mktemp)"; trap \'rm -f "$f"\' EXIT; '
                'printf \'%s\\n\' "$MIST_MONGO_CONFIG" > "$f"; "$@" --config="$f"')
_MONGO_COLLECTIONS = ("let n = 0; db.adminCommand({listDatabases: 1}).databases.forEach(d => { "
                      "if (!['admin', 'config', 'local'].includes(d.name)) "
                      "n += db.getSiblingDB(d.name).getCollectionNames().length }); print(n)")


class Mongo:
    """mongodump's archive of the app's database (MONGO_INITDB_DATABASE), as the root user; a
    restore drops each collection it brings back first, into the database of the same name."""

    extension = "archive"

    async def ready(self, engine: Engine, db: Database) -> None:
        ping = ["mongosh", "--quiet", "--host=127.0.0.1", "--eval=db.adminCommand({ping: 1}).ok"]
        await _until(engine, db.container_id, lambda: _answers(engine, db.container_id, ping, "1"), "the database")

    def _command(self, tool: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        user = env.get("MONGO_INITDB_ROOT_USERNAME", "")
        if not user:
            return tool, {}
        config = f"password: {json.dumps(env.get('MONGO_INITDB_ROOT_PASSWORD', ''))}"  # YAML takes JSON strings
        return (["sh", "-c", _WITH_CONFIG, "sh", *tool, f"--username={user}", "--authenticationDatabase=admin"],
                {"MIST_MONGO_CONFIG": config})

    def dump(self, engine: Engine, db: Database) -> AsyncIterator[bytes]:
        tool = ["mongodump", "--archive"]
        if database := db.env.get("MONGO_INITDB_DATABASE", ""):
            tool.append(f"--db={database}")
        command, env = self._command(tool, db.env)
        return engine.exec(db.container_id, command, env)

    async def restore(self, engine: Engine, db: Database, chunks: AsyncIterable[bytes], log: Log) -> None:
        await log("mongorestore into the app's server (each collection in the backup is replaced)")
        command, env = self._command(["mongorestore", "--archive", "--drop"], db.env)
        try:
            await _drain(engine.exec(db.container_id, command, env, chunks))
        except ExecFailed as exc:
            raise VerificationFailed(f"mongorestore refused the backup: {_quote(exc)}") from exc

    async def verify(self, engine: Engine, image: str, chunks: AsyncIterable[bytes], log: Log) -> str:
        # No MONGO_INITDB_* variables: no first-start server, no users; nothing but loopback reaches it.
        async with _throwaway(engine, image, {}, None, log) as box:
            ping = ["mongosh", "--quiet", "--host=127.0.0.1", "--eval=db.adminCommand({ping: 1}).ok"]
            await _until(engine, box.id, lambda: _answers(engine, box.id, ping, "1"), "the throwaway mongod")
            await log("Restoring the archive into an empty server")
            try:
                await _drain(engine.exec(box.id, ["mongorestore", "--host=127.0.0.1", "--archive"], None, chunks))
            except ExecFailed as exc:
                raise VerificationFailed(f"the backup cannot be restored: {_quote(exc)}") from exc
            collections = _count(await _text(engine, box.id, ["mongosh", "--quiet", "--host=127.0.0.1",
                                                              f"--eval={_MONGO_COLLECTIONS}"]), "its collections")
        return f"restored {_plural(collections, 'collection')}"


async def _answers(engine: Engine, container_id: str, command: list[str], expected: str,
                   env: dict[str, str] | None = None) -> bool:
    return await _text(engine, container_id, command, env) == expected


DUMPERS: dict[str, Dumper] = {
    "postgres": Postgres(),
    "mysql": MySQL("MYSQL", "mysql", "mysqldump", "mysqladmin"),
    "mariadb": MySQL("MARIADB", "mariadb", "mariadb-dump", "mariadb-admin"),
    "redis": Redis(),
    "mongodb": Mongo(),
}
