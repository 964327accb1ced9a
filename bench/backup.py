"""Backup and restore of a 200 MB PostgreSQL database through Mist, and what they cost Mist's memory.

A database app (the test image built from Debian's postgresql) is filled with --megabytes of rows
that compress poorly. Mist then backs it up (dump, encryption, upload to MIST_BACKUP_DIR, and the
verification: a restore into a throwaway container) and restores it (a `before_restore` backup of
what is there, the file's check, and pg_restore). Baselines, measured in the same run on the same
container: `pg_dump -Fc` to a file and `pg_restore` of that file into an empty database.

Prints each time beside its baseline, and Mist's resident memory (VmRSS sampled every 50 ms) before
and at its peak during each: the dump flows through Mist in chunks, so the growth stays small
whatever the database's size (target: less than 50 MB).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import docker
import httpx
from harness import Memory, MistClient, MistServer
from support.images import ensure_postgres_image
from support.receivers import wait_for

MIB = 1024 * 1024


def psql(container, env: dict[str, str], sql: str) -> str:  # noqa: ANN001 - a docker container
    code, output = container.exec_run(
        ["psql", "-h", "127.0.0.1", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tAq", "-c", sql],
        environment={"PGPASSWORD": env["POSTGRES_PASSWORD"]})
    if code != 0:
        raise SystemExit(output.decode())
    return output.decode().strip()


def timed_exec(container, env: dict[str, str], command: list[str]) -> float:  # noqa: ANN001
    began = time.perf_counter()
    code, output = container.exec_run(command, environment={"PGPASSWORD": env["POSTGRES_PASSWORD"]})
    if code != 0:
        raise SystemExit(output.decode())
    return time.perf_counter() - began


def until_done(client: MistClient, path: str, row_id: int) -> tuple[float, dict]:
    began = time.perf_counter()
    row = wait_for(lambda: (r := client.post(path, {"id": row_id})["data"])["status"] in ("success", "failed") and r,
                   timeout=3600, interval=0.2)
    return time.perf_counter() - began, row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200, help="size of the database's table (default 200)")
    args = parser.parse_args()
    engine = docker.from_env()
    image = ensure_postgres_image(engine)
    if others := engine.containers.list(all=True, filters={"label": "mist.app"}):
        raise SystemExit(f"containers labelled mist.app exist ({', '.join(c.name for c in others)}): "
                         "another Mist uses this Docker engine; stop it or remove them first")
    with tempfile.TemporaryDirectory(prefix="mist-bench-") as tmp:
        server = MistServer(Path(tmp) / "data", workers=1, template_images={"postgres": image}).start()
        try:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                client = MistClient(http)
                client.signup()
                run(client, server, engine, args.megabytes)
        finally:
            server.stop()
            server.stop_proxy()
            for container in engine.containers.list(all=True, filters={"label": "mist.app"}):
                container.remove(force=True, v=True)
            # The database's data: another run's app 1 would find it, with another password.
            for volume in engine.volumes.list(filters={"label": "mist.app"}):
                volume.remove(force=True)


def run(client: MistClient, server: MistServer, engine: docker.DockerClient, megabytes: int) -> None:
    app = client.app(client.project("bench")["id"], "big", appType="database", templateName="postgres")
    deployment = client.deploy(app["id"])
    if client.wait_final(app["id"], deployment["id"], timeout=300)["status"] != "success":
        raise SystemExit(client.logs(deployment["id"]))
    [container] = engine.containers.list(filters={"label": f"mist.app={app['id']}"})
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    probe = ["pg_isready", "-h", "127.0.0.1", "-q"]
    wait_for(lambda: container.exec_run(probe)[0] == 0, timeout=120, interval=0.5)

    # Eight different md5s a row: hex text compresses about 2:1, so the dump is of the database's order
    # of size (a repeated string would compress to almost nothing and prove little about streaming).
    psql(container, env, "CREATE TABLE blob (id bigint PRIMARY KEY, payload text)")
    rows, size = 0, 0
    while size < megabytes * MIB:
        payload = ", ".join(f"md5(i || '{letter}')" for letter in "abcdefgh")
        psql(container, env, f"INSERT INTO blob SELECT i, concat({payload}) "
                              f"FROM generate_series({rows + 1}, {rows + 200_000}) i")
        rows += 200_000
        size = int(psql(container, env, "SELECT pg_database_size(current_database())"))
    print(f"database: {rows} rows, {size / MIB:.0f} MiB (pg_database_size)", flush=True)

    user, db = env["POSTGRES_USER"], env["POSTGRES_DB"]
    base_dump = timed_exec(container, env,
                           ["pg_dump", "-h", "127.0.0.1", "-U", user, "-Fc", "-f", "/tmp/base.dump", db])
    timed_exec(container, env, ["createdb", "-h", "127.0.0.1", "-U", user, "scratch"])
    base_restore = timed_exec(container, env, ["pg_restore", "-h", "127.0.0.1", "-U", user, "--no-owner",
                                               "--single-transaction", "-d", "scratch", "/tmp/base.dump"])
    timed_exec(container, env, ["dropdb", "-h", "127.0.0.1", "-U", user, "scratch"])
    timed_exec(container, env, ["rm", "/tmp/base.dump"])

    memory = Memory(server.proc.pid)
    idle = memory.read("VmRSS")
    with memory:
        backup = client.post("/api/backups/create", {"appId": app["id"]})["data"]
        backup_time, backup = until_done(client, "/api/backups/getById", backup["id"])
    backup_peak = memory.peak
    if backup["status"] != "success":
        raise SystemExit(f"backup failed: {backup['error']}")

    memory = Memory(server.proc.pid)
    before_restore = memory.read("VmRSS")
    with memory:
        restore = client.post("/api/backups/restore", {"backupId": backup["id"]})["data"]
        restore_time, restore = until_done(client, "/api/backups/restores/getById", restore["id"])
    restore_peak = memory.peak
    if restore["status"] != "success":
        raise SystemExit("restore failed:\n" + "\n".join(restore["log"]))
    restored_rows = int(psql(container, env, "SELECT count(*) FROM blob"))
    if restored_rows != rows:
        raise SystemExit(f"restored {restored_rows} rows of {rows}")

    print(f"backup file: {backup['sizeBytes'] / MIB:.0f} MiB (encrypted pg_dump -Fc), verified: {backup['verified']}")
    print(f"baseline: pg_dump -Fc {base_dump:.1f} s, pg_restore {base_restore:.1f} s")
    print(f"backup through Mist (dump, encrypt, store, verify by restoring): {backup_time:.1f} s "
          f"= {backup_time / (base_dump + base_restore):.2f} x (pg_dump + pg_restore)")
    print(f"restore through Mist (before_restore backup and its verification, check, pg_restore): {restore_time:.1f} s "
          f"= {restore_time / (base_dump + 2 * base_restore):.2f} x (pg_dump + 2 pg_restore)")
    print(f"Mist RSS: {idle / MIB:.0f} MiB before the backup, peak {backup_peak / MIB:.0f} MiB "
          f"(+{(backup_peak - idle) / MIB:.1f} MiB); {before_restore / MIB:.0f} MiB before the restore, "
          f"peak {restore_peak / MIB:.0f} MiB (+{(restore_peak - before_restore) / MIB:.1f} MiB)  (target: < +50 MB)")
    print(f"restored {restored_rows} rows", file=sys.stderr)


if __name__ == "__main__":
    main()
