"""`mist backups list|create|restore|download|schedule` against a real `mist serve` that reaches no
engine: a backup of a database that is not running fails, saying why; the other commands need a
successful backup, which support.stored_backups makes from a failed one (a dump sealed with the
server's own key), so the download is real and the restore runs until it needs the database's container."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import httpx
import pytest
from cli_support import CLI, cli_env
from support.client import MistClient
from support.engine import engineless_servers, mist_servers
from support.images import ensure_redis_image
from support.server import MistServer
from support.stored_backups import DUMP, as_scheduled, failed_backup, final_backup, stored_backup

Run = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def server_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """A real server that reaches no engine: no backup can succeed on its own."""
    with engineless_servers(tmp_path, monkeypatch) as start:
        yield start


def database(owner: MistClient, name: str = "pg", template: str = "postgres", project: str = "shop") -> dict:
    return owner.app(owner.project(project)["id"], name, appType="database", templateName=template)


def test_list_create_and_schedule(owner: MistClient, mist_cli: Run) -> None:
    database(owner)
    owner.app(owner.project()["id"], "site", "https://git.example.com/site.git", appType="service")

    empty = mist_cli("backups", "list", "pg")
    assert empty.returncode == 0, empty.stderr
    assert "schedule: none (set one: mist backups schedule pg '0 3 * * *')" in empty.stdout
    assert "pg has no backups yet: mist backups create pg --wait" in empty.stdout

    # --- A backup of a database that is not running: --wait says it failed, and why -------------
    waited = mist_cli("backups", "create", "pg", "--wait")
    assert waited.returncode == 1
    assert waited.stdout.splitlines()[0] == "backup #1 of pg queued"
    error = owner.post("/api/backups/getById", {"id": 1})["data"]["error"]
    assert error and waited.stderr.strip() == f"error: backup #1 of pg failed: {error}"

    queued = mist_cli("backups", "create", "pg")
    assert queued.returncode == 0 and queued.stdout.splitlines()[0] == "backup #2 of pg queued"
    final_backup(owner, 2)

    listed = mist_cli("backups", "list", "pg")
    assert listed.returncode == 0, listed.stderr
    lines = [line for line in listed.stdout.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["ID", "CREATED"])
    assert lines[header].split() == ["ID", "CREATED", "STATUS", "VERIFIED", "TRIGGER", "SIZE", "WHERE", "ERROR"]
    rows = [line.split() for line in lines[header + 1:] if line.split()[0].isdigit()]
    assert [r[0] for r in rows] == ["2", "1"]  # newest first
    assert all(r[3:8] == ["failed", "no", "manual", "-", "local"] for r in rows), rows
    assert all(line.rstrip().endswith(error) for line in lines if line.split()[0] in ("1", "2"))

    # --- Refusals: the server's message, exit 1 ----------------------------------------------------
    web = mist_cli("backups", "create", "site")
    assert web.returncode == 1
    assert web.stderr.startswith("error: appId: site is not a database app"), web.stderr
    missing = mist_cli("backups", "list", "nope")
    assert missing.returncode == 1 and "no app named 'nope'" in missing.stderr

    # --- Schedule, retention, destination --------------------------------------------------------
    scheduled = mist_cli("backups", "schedule", "pg", "0 3 * * *", "--retention", "3")
    assert scheduled.returncode == 0, scheduled.stderr
    assert scheduled.stdout.startswith("schedule: 0 3 * * * (next run ")
    assert "03:00:00" in scheduled.stdout and "keeping the last 3 successful backups, in local" in scheduled.stdout
    shown = owner.post("/api/apps/getById", {"appId": 1})["data"]
    assert (shown["backupSchedule"], shown["backupRetention"]) == ("0 3 * * *", 3)

    for args, field in ((("every night",), "backupSchedule"), (("0 3 * * *", "--destination", "99"),
                                                                "backupDestinationId")):
        refused = mist_cli("backups", "schedule", "pg", *args)
        assert refused.returncode == 1 and refused.stderr.startswith(f"error: {field}"), refused.stderr
    bad = mist_cli("backups", "schedule", "pg", "0 3 * * *", "--retention", "0")
    assert bad.returncode == 2 and "not a number of backups to keep from 1 to 1000" in bad.stderr
    assert owner.post("/api/apps/getById", {"appId": 1})["data"]["backupSchedule"] == "0 3 * * *"

    off = mist_cli("backups", "schedule", "pg", "off", "--destination", "local")
    assert off.returncode == 0 and off.stdout.startswith("schedule: none")
    shown = owner.post("/api/apps/getById", {"appId": 1})["data"]
    assert (shown["backupSchedule"], shown["backupRetention"], shown["backupDestinationId"]) == ("", 3, None)


def test_the_alert_of_a_failed_scheduled_backup_is_shown(server: MistServer, owner: MistClient, mist_cli: Run) -> None:
    app = database(owner)
    as_scheduled(server, failed_backup(owner, app["id"])["id"])
    alert = owner.post("/api/backups/status", {"appId": app["id"]})["data"]["alert"]
    assert alert
    listed = mist_cli("backups", "list", "pg")
    assert listed.returncode == 0 and listed.stdout.splitlines()[0] == f"alert: {alert}"


def test_restore_asks_then_prints_its_log_and_fails_without_the_database(
    tmp_path: Path, server: MistServer, owner: MistClient, token: str, mist_cli: Run,
) -> None:
    app = database(owner)
    database(owner, "cache", "redis")
    database(owner, "staging")
    backup = stored_backup(server, owner, app["id"])

    # --- No answer (stdin closed), or anything but y: nothing restored --------------------------
    unanswered = mist_cli("backups", "restore", "pg", str(backup["id"]))
    assert unanswered.returncode == 1
    assert f"Restore backup #{backup['id']} of pg" in unanswered.stderr and "into pg (id 1)?" in unanswered.stderr
    assert "error: nothing restored (answer y to confirm, or pass --yes)" in unanswered.stderr
    assert owner.post("/api/backups/restores/getByAppId", {"appId": app["id"]})["data"] == []

    # --- Refusals before anything is queued ------------------------------------------------------
    other_engine = mist_cli("backups", "restore", "pg", str(backup["id"]), "--into", "cache", "--yes")
    assert other_engine.returncode == 1
    assert other_engine.stderr.strip() == "error: targetAppId: cache runs redis, the backup is of postgres"
    wrong_app = mist_cli("backups", "restore", "staging", str(backup["id"]), "--yes")
    assert wrong_app.returncode == 1
    assert f"backup {backup['id']} is of the app pg (id 1), not of staging" in wrong_app.stderr
    failed = failed_backup(owner, app["id"])
    not_restorable = mist_cli("backups", "restore", "pg", str(failed["id"]), "--yes")
    assert not_restorable.returncode == 1
    assert not_restorable.stderr.strip() == (f"error: backup {failed['id']} is failed: only a successful backup "
                                             "can be restored")
    assert owner.post("/api/backups/restores/getByAppId", {"appId": app["id"]})["data"] == []

    # --- Answered y, into the second app: queued, its log printed as it comes, exit 1 ----------
    answered = subprocess.run(
        [*CLI, "backups", "restore", "pg", str(backup["id"]), "--into", "staging"],
        env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=token), input="y\n",
        capture_output=True, text=True, timeout=120)
    print(answered.stdout, answered.stderr)
    [restore] = owner.post("/api/backups/restores/getByAppId", {"appId": 3})["data"]
    done = owner.post("/api/backups/restores/getById", {"id": restore["id"]})["data"]
    assert done["status"] == "failed" and done["log"] and done["error"]
    assert answered.returncode == 1
    out = answered.stdout.splitlines()
    assert out[0] == f"restore #{restore['id']} of backup #{backup['id']} into staging queued"
    assert out[1:] == done["log"], "every line of the log, once, in order"
    assert answered.stderr.splitlines()[-1] == f"error: restore #{restore['id']} into staging failed: {done['error']}"


def test_download_streams_the_decrypted_dump_to_a_private_file(
    tmp_path: Path, server: MistServer, owner: MistClient, token: str, mist_cli: Run,
) -> None:
    app = database(owner)
    backup = stored_backup(server, owner, app["id"])
    workdir = tmp_path / "work"
    workdir.mkdir()

    def download(*args: str, cwd: Path = workdir, tok: str = token) -> subprocess.CompletedProcess:
        proc = subprocess.run([*CLI, "backups", "download", *args], cwd=cwd, stdin=subprocess.DEVNULL,
                              env=cli_env(tmp_path, MIST_URL=server.url, MIST_TOKEN=tok),
                              capture_output=True, timeout=120)
        print(proc.stdout[:500], proc.stderr)
        return proc

    # The name the server suggests, in the current directory, readable by its owner only.
    saved = download("pg", str(backup["id"]))
    assert saved.returncode == 0, saved.stderr
    path = workdir / f"pg-backup-{backup['id']}.pgdump"
    assert path.read_bytes() == DUMP
    assert path.stat().st_mode & 0o777 == 0o600
    assert saved.stdout.decode().startswith(f"wrote backup #{backup['id']} of pg to pg-backup-{backup['id']}.pgdump (")
    assert [p.name for p in workdir.iterdir()] == [path.name]  # no partial file left behind

    again = download("pg", str(backup["id"]))
    assert again.returncode == 1 and b"exists: remove it, or choose another file with -o FILE" in again.stderr

    chosen = download("pg", str(backup["id"]), "-o", str(tmp_path / "copy.bin"))
    assert chosen.returncode == 0 and (tmp_path / "copy.bin").read_bytes() == DUMP
    piped = download("pg", str(backup["id"]), "-o", "-")
    assert piped.returncode == 0 and piped.stdout == DUMP

    # A corrupted file breaks the stream: an error, and no file that looks complete.
    stored = Path(owner.post("/api/backups/getById", {"id": backup["id"]})["data"]["location"])
    data = bytearray(stored.read_bytes())
    data[-100] ^= 1
    stored.write_bytes(bytes(data))
    broken = download("pg", str(backup["id"]), "-o", "broken.dump")
    assert broken.returncode == 1 and broken.stderr.startswith(b"error: ")
    assert not (workdir / "broken.dump").exists() and not (workdir / ".broken.dump.part").exists()

    # A member is refused with the server's message; nothing is written.
    mallory = owner.create_user("mallory")
    owner.put("/api/projects/updateMembers", {"userIds": [mallory["id"]]}, id=app["projectId"])
    with httpx.Client(base_url=server.url, timeout=60) as http:
        member = MistClient(http)
        member.login("mallory@example.com")
        member_token = member.post("/api/tokens/create", {"name": "cli", "scope": "admin"})["data"]["token"]
    refused = download("pg", str(backup["id"]), "-o", "member.dump", tok=member_token)
    assert refused.returncode == 1
    assert refused.stderr.decode().strip() == "error: only the owner and admins can download backups"
    assert not (workdir / "member.dump").exists()


@pytest.mark.parametrize(("header", "name"), [
    ('attachment; filename="pg-backup-3.dump"', "pg-backup-3.dump"),
    ("attachment; filename=cache-backup-4.rdb", "cache-backup-4.rdb"),
    ('attachment; filename="../../.bashrc"', None),
    ('attachment; filename="/etc/passwd"', None),
    ('attachment; filename=".hidden"', None),
    ('attachment; filename="a\\\\b"', None),
    ("attachment", None),
    (None, None),
])
def test_only_a_plain_suggested_file_name_is_used(header: str | None, name: str | None) -> None:
    from mist.client.backups import attachment_name

    assert attachment_name(header) == name


def test_sizes_read_as_people_write_them() -> None:
    from mist.client.backups import human_size

    assert [human_size(n) for n in (None, 0, 999, 1000, 1_234_567, 5 * 10**9, 7 * 10**12)] == [
        "-", "-", "999 B", "1.0 KB", "1.2 MB", "5.0 GB", "7.0 TB"]


@pytest.fixture
def redis_server(tmp_path: Path, engine: docker.DockerClient) -> Iterator[MistServer]:
    """A server on the real engine, whose redis template runs the test image."""
    with mist_servers(engine, tmp_path / "engine-data", template_images={"redis": ensure_redis_image(engine)}) as start:
        yield start(workers=1)


@pytest.mark.docker
def test_a_redis_database_round_trips_for_real(tmp_path: Path, redis_server: MistServer) -> None:
    with httpx.Client(base_url=redis_server.url, timeout=120) as http:
        owner = MistClient(http)
        owner.signup()
        token = owner.post("/api/tokens/create", {"name": "cli", "scope": "admin"})["data"]["token"]
        app = owner.app(owner.project()["id"], "cache", appType="database", templateName="redis")
        deployment = owner.deploy(app["id"])
        assert owner.wait_final(app["id"], deployment["id"], timeout=180)["status"] == "success"

        def mist(*args: str) -> subprocess.CompletedProcess:
            proc = subprocess.run([*CLI, "backups", *args], cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True,
                                  env=cli_env(tmp_path, MIST_URL=redis_server.url, MIST_TOKEN=token), timeout=300)
            print(proc.stdout[-2000:], proc.stderr)
            return proc

        created = mist("create", "cache", "--wait")
        assert created.returncode == 0, created.stderr
        [backup] = owner.post("/api/backups/getByAppId", {"appId": app["id"]})["data"]
        assert backup["status"] == "success" and backup["verified"] is True
        last = created.stdout.decode().splitlines()[-1]
        assert last.startswith(f"backup #{backup['id']} of cache: success, verified (restored into a throwaway "
                               "container), ") and last.endswith(" in local")

        restored = mist("restore", "cache", str(backup["id"]), "--yes")
        assert restored.returncode == 0, restored.stderr
        [restore] = owner.post("/api/backups/restores/getByAppId", {"appId": app["id"]})["data"]
        done = owner.post("/api/backups/restores/getById", {"id": restore["id"]})["data"]
        out = restored.stdout.decode().splitlines()
        assert out[1:-1] == done["log"] and done["status"] == "success"
        assert out[-1] == f"restore #{restore['id']} into cache: success (its data before is in backup " \
                          f"#{done['beforeBackupId']})"

        downloaded = mist("download", "cache", str(backup["id"]), "-o", "cache.rdb")
        assert downloaded.returncode == 0, downloaded.stderr
        assert (tmp_path / "cache.rdb").read_bytes().startswith(b"REDIS")
