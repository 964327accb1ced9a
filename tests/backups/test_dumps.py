"""mist.backups.dumps: each engine's dump, restore and verification.

Postgres and redis run for real (docker-marked), on images built from Debian packages, in
containers started as Mist starts its templates: rows written, dumped through the iterator to a
file, destroyed, restored and read back; verification counting what a throwaway container holds,
and refusing a dump cut short or corrupted. MySQL, MariaDB and MongoDB images cannot be pulled
here: their recipes are checked on the commands and environment they send (FakeEngine)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import docker
import pytest
from support.fake_engine import ExecCall, FakeEngine

from mist.backups.dumps import DUMPERS, RESTORE_LABEL, VERIFY_LABEL, Database, _without_eof_mark
from mist.errors import ExecFailed, VerificationFailed
from mist.runtime.docker import DockerEngine
from mist.runtime.engine import Engine

T = TypeVar("T")


class Lines:
    """A restore's or verification's log."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def __call__(self, line: str) -> None:
        self.lines.append(line)


def run(scenario: Callable[[DockerEngine], Awaitable[T]]) -> T:
    """The scenario with an engine of its own; the timeout only says "it did not hang"."""
    async def main() -> T:
        engine = DockerEngine()
        try:
            return await scenario(engine)
        finally:
            await engine.aclose()
    return asyncio.run(asyncio.wait_for(main(), 300))


async def to_file(chunks: AsyncIterator[bytes], path: Path) -> int:
    size = 0
    with path.open("wb") as out:
        async for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size


async def from_file(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(64 * 1024):
            yield chunk


async def output(engine: Engine, container_id: str, command: list[str], env: dict[str, str] | None = None,
                 stdin: bytes | None = None) -> str:
    async def feed() -> AsyncIterator[bytes]:
        assert stdin is not None
        yield stdin

    chunks = engine.exec(container_id, command, env, feed() if stdin is not None else None)
    return b"".join([chunk async for chunk in chunks]).decode().strip()


async def until(probe: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(600):
        try:
            if await probe():
                return
        except ExecFailed:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("the database never got ready")


def cut(path: Path) -> Path:
    data = path.read_bytes()
    target = path.with_suffix(".cut")
    target.write_bytes(data[:len(data) // 2])
    return target


def corrupted(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 3, len(data) - 16):
        data[i] ^= 0x5A
    target = path.with_suffix(".corrupted")
    target.write_bytes(bytes(data))
    return target


def leftovers(engine: docker.DockerClient) -> list[str]:
    return [c.name for label in (VERIFY_LABEL, RESTORE_LABEL)
            for c in engine.containers.list(all=True, filters={"label": label})]


# --------------------------------------------------------------------------- postgres (real engine)


def pg_env(db: Database) -> dict[str, str]:
    return {"PGUSER": db.env["POSTGRES_USER"], "PGPASSWORD": db.env["POSTGRES_PASSWORD"],
            "PGDATABASE": db.env["POSTGRES_DB"], "PGHOST": "127.0.0.1"}


async def psql(engine: Engine, db: Database, sql: str) -> str:
    return await output(engine, db.container_id, ["psql", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], pg_env(db))


async def pg_ready(engine: Engine, db: Database) -> None:
    async def probe() -> bool:
        await output(engine, db.container_id, ["pg_isready", "-q"], pg_env(db))
        return True
    await until(probe)


SHOP = ("CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL); "
        "INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 1000) i; "
        "CREATE TABLE notes (body text)")


@pytest.mark.docker
def test_postgres_rows_come_back_after_a_dump_and_restore(database_app: Callable[[str], Database],
                                                          tmp_path: Path) -> None:
    db = database_app("postgres")
    dumper, log = DUMPERS["postgres"], Lines()
    dump = tmp_path / "shop.pgdump"

    async def scenario(engine: DockerEngine) -> tuple[str, str]:
        await pg_ready(engine, db)
        await psql(engine, db, SHOP)
        assert await to_file(dumper.dump(engine, db), dump) > 0
        await psql(engine, db, "DROP TABLE items; INSERT INTO notes VALUES ('written after the backup')")
        await dumper.restore(engine, db, from_file(dump), log)
        return (await psql(engine, db, "SELECT count(*), min(name) FROM items"),
                await psql(engine, db, "SELECT count(*) FROM notes"))

    items, notes = run(scenario)
    assert items == "1000|item 1"
    assert notes == "0"  # the table as the dump holds it
    assert dump.read_bytes().startswith(b"PGDMP")  # pg_dump's custom format
    assert not any(db.env["POSTGRES_PASSWORD"] in line for line in log.lines)


@pytest.mark.docker
def test_postgres_restore_of_a_cut_dump_changes_nothing(database_app: Callable[[str], Database],
                                                        tmp_path: Path) -> None:
    db = database_app("postgres")
    dumper = DUMPERS["postgres"]
    dump = tmp_path / "shop.pgdump"

    async def scenario(engine: DockerEngine) -> str:
        await pg_ready(engine, db)
        await psql(engine, db, SHOP)
        await to_file(dumper.dump(engine, db), dump)
        await psql(engine, db, "INSERT INTO notes VALUES ('kept')")
        with pytest.raises(VerificationFailed, match="nothing was changed"):
            await dumper.restore(engine, db, from_file(cut(dump)), Lines())
        return await psql(engine, db, "SELECT (SELECT count(*) FROM items) || ' ' || (SELECT body FROM notes)")

    assert run(scenario) == "1000 kept"


@pytest.mark.docker
def test_postgres_verify_counts_the_tables_and_refuses_a_cut_or_corrupted_dump(
    engine: docker.DockerClient, database_app: Callable[[str], Database], tmp_path: Path
) -> None:
    db = database_app("postgres")
    dumper, log = DUMPERS["postgres"], Lines()
    empty, full = tmp_path / "empty.pgdump", tmp_path / "full.pgdump"
    volumes_before = {v.name for v in engine.volumes.list()}

    async def scenario(engine: DockerEngine) -> tuple[str, str]:
        await pg_ready(engine, db)
        await to_file(dumper.dump(engine, db), empty)
        await psql(engine, db, SHOP)
        await to_file(dumper.dump(engine, db), full)
        summaries = (await dumper.verify(engine, db.image, from_file(full), log),
                     await dumper.verify(engine, db.image, from_file(empty), Lines()))
        for bad in (cut(full), corrupted(full)):
            with pytest.raises(VerificationFailed, match="cannot be restored"):
                await dumper.verify(engine, db.image, from_file(bad), Lines())
        return summaries

    assert run(scenario) == ("restored 2 tables", "restored 0 tables")  # a dump with no tables is restorable
    assert any(line.startswith("Starting the throwaway container mist-verify-") for line in log.lines)
    assert leftovers(engine) == []
    # The image declares its data directory a VOLUME: each throwaway container's went with it.
    assert {v.name for v in engine.volumes.list()} - volumes_before == set()


# --------------------------------------------------------------------------- redis (real engine)


def redis_env(db: Database) -> dict[str, str]:
    return {"REDISCLI_AUTH": db.env["REDIS_PASSWORD"]}


async def redis(engine: Engine, db: Database, *command: str, stdin: bytes | None = None) -> str:
    return await output(engine, db.container_id, ["redis-cli", *command], redis_env(db), stdin)


async def redis_ready(engine: Engine, db: Database) -> None:
    async def probe() -> bool:
        return await redis(engine, db, "PING") == "PONG"
    await until(probe)


KEYS = b"".join(f"SET key:{n} value-{n}\n".encode() for n in range(50))


@pytest.mark.docker
def test_redis_keys_come_back_after_a_dump_and_restore_and_stay_after_a_restart(
    engine: docker.DockerClient, database_app: Callable[[str], Database], tmp_path: Path
) -> None:
    db = database_app("redis")
    dumper, log = DUMPERS["redis"], Lines()
    dump = tmp_path / "cache.rdb"

    async def scenario(docker_engine: DockerEngine) -> tuple[str, str, str, str]:
        await redis_ready(docker_engine, db)
        await redis(docker_engine, db, stdin=KEYS)  # redis-cli runs the commands it reads
        await to_file(dumper.dump(docker_engine, db), dump)
        await redis(docker_engine, db, "FLUSHALL")
        await redis(docker_engine, db, "SET", "written-after", "1")
        await dumper.restore(docker_engine, db, from_file(dump), log)
        await redis_ready(docker_engine, db)
        restored = (await redis(docker_engine, db, "DBSIZE"), await redis(docker_engine, db, "GET", "key:7"))
        # The app's append-only file now holds the restored data: a restart keeps it.
        await docker_engine.restart(db.container_id)
        await redis_ready(docker_engine, db)
        return (*restored, await redis(docker_engine, db, "DBSIZE"), await redis(docker_engine, db, "EXISTS",
                                                                                 "written-after"))

    assert run(scenario) == ("50", "value-7", "50", "0")
    assert dump.read_bytes().startswith(b"REDIS")
    assert dump.read_bytes()[-9] == 0xFF  # ends with its checksum, without redis-cli's end mark
    assert any("Loaded 50 keys" in line for line in log.lines)
    assert not any(db.env["REDIS_PASSWORD"] in line for line in log.lines)
    assert leftovers(engine) == []
    files = engine.containers.run(db.image, ["ls", "-A", db.data_path], remove=True, network_mode="none",
                                  volumes={db.volume: {"bind": db.data_path, "mode": "ro"}}).decode().split()
    assert "appendonlydir" in files and "mist-restore.old" not in files and "mist-restore.rdb" not in files


@pytest.mark.docker
def test_redis_restore_of_a_cut_snapshot_changes_nothing(database_app: Callable[[str], Database],
                                                         tmp_path: Path) -> None:
    db = database_app("redis")
    dumper = DUMPERS["redis"]
    dump = tmp_path / "cache.rdb"

    async def scenario(engine: DockerEngine) -> tuple[str, str]:
        await redis_ready(engine, db)
        await redis(engine, db, stdin=KEYS)
        await to_file(dumper.dump(engine, db), dump)
        await redis(engine, db, "SET", "written-after", "1")
        with pytest.raises(VerificationFailed, match="cannot be loaded"):
            await dumper.restore(engine, db, from_file(cut(dump)), Lines())
        return await redis(engine, db, "DBSIZE"), await output(engine, db.container_id, ["ls", "-A", db.data_path])

    size, files = run(scenario)
    assert size == "51"  # still running, nothing replaced
    assert "mist-restore.rdb" not in files.split()


@pytest.mark.docker
def test_redis_verify_counts_the_keys_and_refuses_a_cut_or_corrupted_snapshot(
    engine: docker.DockerClient, database_app: Callable[[str], Database], tmp_path: Path
) -> None:
    db = database_app("redis")
    dumper = DUMPERS["redis"]
    dump = tmp_path / "cache.rdb"

    async def scenario(docker_engine: DockerEngine) -> str:
        await redis_ready(docker_engine, db)
        await redis(docker_engine, db, stdin=KEYS)
        await to_file(dumper.dump(docker_engine, db), dump)
        summary = await dumper.verify(docker_engine, db.image, from_file(dump), Lines())
        for bad in (cut(dump), corrupted(dump)):
            with pytest.raises(VerificationFailed, match="cannot be loaded"):
                await dumper.verify(docker_engine, db.image, from_file(bad), Lines())
        return summary

    assert run(scenario) == "loaded 50 keys"
    assert leftovers(engine) == []


# --------------------------------------------------------------------------- commands sent (FakeEngine)

SECRET = "s3cr3t-'\"$(touch /tmp/x)"


def fake_db(fake: FakeEngine, env: dict[str, str]) -> Database:
    app = fake.add_container("db", app_id=1, deployment_id=1)
    return Database(container_id=app.id, image="db:1", env=env, volume="mist-app-1-data", data_path="/data")


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def drain(stream: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in stream])


def assert_secret_only_in_env(fake: FakeEngine) -> None:
    for call in fake.execs:
        assert not any(SECRET in word for word in call.command), call.command


def test_postgres_sends_pg_dump_and_a_single_transaction_pg_restore_with_credentials_in_env() -> None:
    fake = FakeEngine()
    db = fake_db(fake, {"POSTGRES_USER": "mist", "POSTGRES_PASSWORD": SECRET, "POSTGRES_DB": "shop"})

    async def scenario() -> None:
        await drain(DUMPERS["postgres"].dump(fake, db))
        await DUMPERS["postgres"].restore(fake, db, chunks(b"PGDMP"), Lines())

    asyncio.run(scenario())
    dump, restore = fake.execs
    assert dump.command[:2] == ["pg_dump", "--format=custom"]
    assert restore.command[0] == "pg_restore"
    assert {"--single-transaction", "--clean", "--if-exists", "--no-owner", "--dbname=shop"} <= set(restore.command)
    assert restore.stdin == b"PGDMP"
    for call in (dump, restore):
        assert call.env == {"PGUSER": "mist", "PGPASSWORD": SECRET, "PGDATABASE": "shop"}
    assert_secret_only_in_env(fake)


@pytest.mark.parametrize(("name", "prefix", "dumper", "client", "admin"), [
    ("mysql", "MYSQL", "mysqldump", "mysql", "mysqladmin"),
    ("mariadb", "MARIADB", "mariadb-dump", "mariadb", "mariadb-admin"),
])
def test_mysql_and_mariadb_dump_restore_and_verify_commands(name: str, prefix: str, dumper: str, client: str,
                                                            admin: str) -> None:
    fake = FakeEngine()
    db = fake_db(fake, {f"{prefix}_ROOT_PASSWORD": SECRET, f"{prefix}_DATABASE": "shop",
                        f"{prefix}_USER": "mist", f"{prefix}_PASSWORD": "other"})
    complete = b"CREATE TABLE t (id int);\n-- Dump completed on 2026-01-01\n"

    def answer(call: ExecCall) -> bytes:
        return b"3\n" if any("information_schema" in word for word in call.command) else b""

    fake.exec_handlers[client] = answer

    async def scenario() -> str:
        await drain(DUMPERS[name].dump(fake, db))
        await DUMPERS[name].restore(fake, db, chunks(complete), Lines())
        summary = await DUMPERS[name].verify(fake, "db:1", chunks(complete[:20], complete[20:]), Lines())
        with pytest.raises(VerificationFailed, match="cut short"):
            await DUMPERS[name].verify(fake, "db:1", chunks(complete[:30]), Lines())
        return summary

    assert asyncio.run(scenario()) == "restored 3 tables"
    dump, restore = fake.execs[:2]
    assert dump.command == [dumper, "--user=root", "--single-transaction", "--routines", "--triggers", "--events",
                            "--no-tablespaces", "--hex-blob", "shop"]
    assert restore.command == [client, "--user=root", "shop"] and restore.stdin == complete
    assert all(call.env == {"MYSQL_PWD": SECRET} for call in fake.execs[:2])
    verifying = fake.execs[2:]
    assert verifying[0].command[0] == admin and "--host=127.0.0.1" in verifying[0].command
    assert any(call.stdin == complete for call in verifying)
    assert_secret_only_in_env(fake)
    throwaways = [args[0] for op, args in fake.calls if op == "run"]
    assert len(throwaways) == 2
    for request in throwaways:
        assert request.network == "none" and request.labels == {VERIFY_LABEL: "1"}
        assert request.name.startswith("mist-verify-") and request.env[f"{prefix}_DATABASE"] == "verify"
    assert list(fake.containers) == [db.container_id]  # both throwaways removed, the cut one too


def test_mongodb_passes_its_password_in_a_config_file_made_from_the_environment() -> None:
    fake = FakeEngine()
    db = fake_db(fake, {"MONGO_INITDB_ROOT_USERNAME": "mist", "MONGO_INITDB_ROOT_PASSWORD": SECRET,
                        "MONGO_INITDB_DATABASE": "shop"})
    fake.exec_handlers["mongosh"] = lambda call: b"1\n" if any("ping" in word for word in call.command) else b"4\n"

    async def scenario() -> str:
        await drain(DUMPERS["mongodb"].dump(fake, db))
        await DUMPERS["mongodb"].restore(fake, db, chunks(b"archive"), Lines())
        return await DUMPERS["mongodb"].verify(fake, "mongo:7", chunks(b"archive"), Lines())

    assert asyncio.run(scenario()) == "restored 4 collections"
    dump, restore = fake.execs[:2]
    assert dump.command[:2] == ["sh", "-c"]
    assert dump.command[4:] == ["mongodump", "--archive", "--db=shop", "--username=mist",
                                "--authenticationDatabase=admin"]
    assert restore.command[4:7] == ["mongorestore", "--archive", "--drop"] and restore.stdin == b"archive"
    for call in (dump, restore):
        assert call.env == {"MIST_MONGO_CONFIG": 'password: "s3cr3t-\'\\"$(touch /tmp/x)"'}
    assert_secret_only_in_env(fake)
    verify_run = next(args[0] for op, args in fake.calls if op == "run")
    assert verify_run.network == "none" and verify_run.env == {}


def test_a_failed_verification_still_removes_the_throwaway_container() -> None:
    fake = FakeEngine()

    def refuse(call: ExecCall) -> bytes:
        if call.command[0] == "pg_restore":
            raise ExecFailed("`pg_restore` exited with code 1", 1, "pg_restore: error: input file is too short")
        return b""

    fake.exec_handlers["pg_restore"] = refuse

    async def scenario() -> None:
        with pytest.raises(VerificationFailed, match="input file is too short"):
            await DUMPERS["postgres"].verify(fake, "postgres:16", chunks(b"PG"), Lines())

    asyncio.run(scenario())
    assert fake.ops()[-1] == "remove" and fake.containers == {}


def test_a_failed_redis_restore_puts_the_apps_files_back_and_starts_it_again() -> None:
    fake = FakeEngine()
    db = fake_db(fake, {"REDIS_PASSWORD": SECRET})

    def redis_cli(call: ExecCall) -> bytes:
        if call.command[1:] == ["PING"]:
            return b"PONG\n"
        if call.command[1:] == ["DBSIZE"]:
            raise ExecFailed("`redis-cli` exited with code 1", 1, "boom")
        return b""

    fake.exec_handlers["redis-cli"] = redis_cli

    async def scenario() -> None:
        with pytest.raises(ExecFailed):
            await DUMPERS["redis"].restore(fake, db, chunks(b"REDIS0010"), Lines())

    asyncio.run(scenario())
    ops = fake.ops()
    assert ops.index("stop") < ops.index("run") < ops.index("remove") < ops.index("start")
    scripts = [call.command[2] for call in fake.execs if call.command[:2] == ["sh", "-c"]]
    assert any("mv \"$3\" dump.rdb" in script for script in scripts)  # swapped in
    assert "rmdir" in scripts[-1]  # and back
    assert fake.containers[db.container_id].status == "running"


@pytest.mark.parametrize("cut_at", [1, 7, 49, 100])
def test_redis_cli_end_mark_is_cut_from_a_snapshot_and_nothing_else(cut_at: int) -> None:
    rdb = b"REDIS0010" + bytes(range(256)) * 3 + b"\xff" + b"\x01\x02\x03\x04\x05\x06\x07\x08"
    mark = b"0acf51964a088f976a57f2578b8764e4d3f090b0"

    async def through(data: bytes) -> bytes:
        pieces = [data[i:i + cut_at] for i in range(0, len(data), cut_at)]
        return await drain(_without_eof_mark(chunks(*pieces)))

    assert asyncio.run(through(rdb + mark)) == rdb
    assert asyncio.run(through(rdb)) == rdb
    assert asyncio.run(through(b"short")) == b"short"
