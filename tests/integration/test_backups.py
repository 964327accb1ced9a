"""Backups on the real engine, through a real `mist serve`: databases from images built from Debian's
packages (postgres with an entrypoint honouring the template's POSTGRES_* variables, redis), rows
written, backed up, destroyed, restored and read back; a restore into a second app; a corrupted file
refused by verification and told to a webhook (signature checked) and an SMTP server; a schedule
firing; retention; an S3 destination round trip."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import httpx
import pytest
from conftest import container_of
from support.client import MistClient
from support.engine import mist_servers
from support.images import ensure_postgres_image
from support.receivers import SmtpReceiver, WebhookReceiver, signature, wait_for
from support.s3 import S3Server
from support.server import MistServer

BACKUP_EVENTS = ["backup.succeeded", "backup.failed", "backup.missed"]


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def server(tmp_path: Path, engine: docker.DockerClient, images: dict[str, str],
           smtp: SmtpReceiver) -> Iterator[MistServer]:
    template_images = {"redis": images["redis"], "postgres": ensure_postgres_image(engine)}
    with mist_servers(engine, tmp_path / "data", template_images=template_images) as start:
        yield start(workers=1, smtp_url=f"{smtp.url}", public_url="https://mist.example.com")


@pytest.fixture
def owner(server: MistServer) -> Iterator[MistClient]:
    with httpx.Client(base_url=server.url, timeout=120) as http:
        client = MistClient(http)
        client.signup()
        yield client


def _database(owner: MistClient, project_id: int, name: str, template: str = "postgres") -> dict:
    app = owner.app(project_id, name, appType="database", templateName=template)
    deployment = owner.deploy(app["id"])
    done = owner.wait_final(app["id"], deployment["id"], timeout=180)
    assert done["status"] == "success", owner.logs(deployment["id"])
    return app


def psql(engine: docker.DockerClient, app_id: int, sql: str) -> str:
    """Runs `sql` in the app's container as the template's user, over TCP with its password."""
    container = container_of(engine, app_id)
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    deadline = time.monotonic() + 60
    while True:
        code, output = container.exec_run(
            ["psql", "-h", "127.0.0.1", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"], "-tA", "-c", sql],
            environment={"PGPASSWORD": env["POSTGRES_PASSWORD"]})
        if code == 0:
            return output.decode().strip()
        if time.monotonic() > deadline or b"does not exist" in output or b"ERROR" in output:
            raise AssertionError(output.decode())
        time.sleep(0.5)


def backed_up(owner: MistClient, app_id: int, timeout: float = 180) -> dict:
    backup = owner.post("/api/backups/create", {"appId": app_id})["data"]
    assert backup["status"] == "pending" and backup["trigger"] == "manual"
    return final_backup(owner, backup["id"], timeout)


def final_backup(owner: MistClient, backup_id: int, timeout: float = 180) -> dict:
    return wait_for(lambda: (b := owner.post("/api/backups/getById", {"id": backup_id})["data"])["status"]
                    in ("success", "failed") and b, timeout=timeout)


def restored(owner: MistClient, backup_id: int, target: int | None = None, timeout: float = 240) -> dict:
    body = {"backupId": backup_id} if target is None else {"backupId": backup_id, "targetAppId": target}
    restore = owner.post("/api/backups/restore", body)["data"]
    return wait_for(lambda: (r := owner.post("/api/backups/restores/getById", {"id": restore["id"]})["data"])
                    ["status"] in ("success", "failed") and r, timeout=timeout)


def test_postgres_rows_survive_backup_destruction_and_restore_and_go_into_a_second_app(
    owner: MistClient, engine: docker.DockerClient, server: MistServer, receiver: WebhookReceiver,
) -> None:
    hook = owner.post("/api/notifications/create", {
        "name": "ops", "kind": "webhook", "target": receiver.url, "events": BACKUP_EVENTS})["data"]
    project = owner.project()
    app = _database(owner, project["id"], "orders")
    psql(engine, app["id"], "CREATE TABLE items (id int PRIMARY KEY, name text); "
                            "INSERT INTO items VALUES (1, 'widget'), (2, 'gadget'), (3, 'gizmo');")

    backup = backed_up(owner, app["id"])
    assert backup["status"] == "success", backup
    assert backup["verified"] is True and backup["error"] is None
    assert backup["sizeBytes"] > 0 and len(backup["sha256"]) == 64 and backup["destinationId"] is None
    stored = server.data_dir / "backups" / f"app-{app['id']}"
    [path] = list(stored.iterdir())
    content = path.read_bytes()
    # Encrypted at rest: neither the rows nor the dump's own header can be read in the file.
    assert b"widget" not in content and b"PGDMP" not in content
    assert hashlib.sha256(content).hexdigest() == backup["sha256"] and len(content) == backup["sizeBytes"]

    psql(engine, app["id"], "DROP TABLE items;")
    assert psql(engine, app["id"], "SELECT count(*) FROM pg_tables WHERE tablename = 'items'") == "0"

    restore = restored(owner, backup["id"])
    assert restore["status"] == "success", restore["log"]
    assert any("Restoring" in line for line in restore["log"]), restore["log"]
    assert psql(engine, app["id"], "SELECT name FROM items ORDER BY id") == "widget\ngadget\ngizmo"
    # What the restore replaced was backed up first.
    before = owner.post("/api/backups/getById", {"id": restore["beforeBackupId"]})["data"]
    assert (before["trigger"], before["status"], before["verified"]) == ("before_restore", "success", True)

    staging = _database(owner, project["id"], "orders-staging")
    into = restored(owner, backup["id"], staging["id"])
    assert into["status"] == "success", into["log"]
    assert into["appId"] == staging["id"]
    assert psql(engine, staging["id"], "SELECT count(*) FROM items") == "3"

    download = owner.http.get(f"/api/backups/download/{backup['id']}")
    assert download.status_code == 200
    assert download.content.startswith(b"PGDMP")  # the dump itself, decrypted
    assert "attachment" in download.headers["content-disposition"]

    succeeded = wait_for(lambda: [r for r in receiver.received if r.headers.get("X-Mist-Event") == "backup.succeeded"])
    first = succeeded[0]
    assert first.headers["X-Mist-Signature-256"] == signature(hook["secret"], first.body)
    payload = json.loads(first.body)
    assert payload["app"] == {"id": app["id"], "name": "orders"} and payload["backup"]["verified"] is True
    assert payload["url"] == f"https://mist.example.com/#/apps/{app['id']}"


def test_a_corrupted_backup_fails_verification_and_reaches_a_webhook_and_smtp_while_a_dead_one_is_retried(
    owner: MistClient, engine: docker.DockerClient, server: MistServer, receiver: WebhookReceiver,
    smtp: SmtpReceiver,
) -> None:
    hook = owner.post("/api/notifications/create", {
        "name": "ops", "kind": "webhook", "target": receiver.url, "events": ["backup.failed"]})["data"]
    owner.post("/api/notifications/create", {
        "name": "mail", "kind": "email", "target": "dba@example.com", "events": ["backup.failed"]})
    dead = owner.post("/api/notifications/create", {
        "name": "dead", "kind": "webhook", "target": "http://127.0.0.1:9/hook", "events": ["backup.failed"]})["data"]
    app = _database(owner, owner.project()["id"], "ledger")
    psql(engine, app["id"], "CREATE TABLE entries (id int); INSERT INTO entries VALUES (1);")
    backup = backed_up(owner, app["id"])
    assert backup["status"] == "success", backup

    [path] = list((server.data_dir / "backups" / f"app-{app['id']}").iterdir())
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01  # one bit, as a failing disk would
    path.write_bytes(bytes(content))

    assert owner.post("/api/backups/verify", {"id": backup["id"]})["data"]["status"] == "pending"
    checked = final_backup(owner, backup["id"])
    assert (checked["status"], checked["verified"]) == ("failed", False)
    assert "match" in checked["error"] or "corrupt" in checked["error"].lower(), checked["error"]
    # A backup that fails verification cannot be restored nor downloaded.
    refused = owner.http.post("/api/backups/restore", json={"backupId": backup["id"]})
    assert refused.status_code == 409 and "failed" in refused.json()["message"]

    [told] = wait_for(lambda: [r for r in receiver.received if r.headers.get("X-Mist-Event") == "backup.failed"])
    assert told.headers["X-Mist-Signature-256"] == signature(hook["secret"], told.body)
    assert json.loads(told.body)["backup"]["id"] == backup["id"]
    [mail] = wait_for(lambda: smtp.messages)
    assert f"backup #{backup['id']} failed" in mail["Subject"] and mail["To"] == "dba@example.com"

    def dead_attempts() -> list[dict]:
        rows = owner.get("/api/notifications/deliveries", limit=50)["data"]
        return [d for d in rows if d["notificationId"] == dead["id"] and d["attempts"]]

    [attempted] = wait_for(dead_attempts)
    assert attempted["status"] == "pending" and attempted["attempts"][0]["ok"] is False  # to be retried
    assert owner.post("/api/backups/getById", {"id": backup["id"]})["data"]["status"] == "failed"
    assert wait_for(lambda: "attempt 1 failed" in server.output())  # logged, with the answer


def test_a_schedule_fires_and_retention_keeps_the_newest(
    owner: MistClient, engine: docker.DockerClient, server: MistServer,
) -> None:
    app = _database(owner, owner.project()["id"], "metrics")
    psql(engine, app["id"], "CREATE TABLE points (v int); INSERT INTO points VALUES (42);")
    updated = owner.put("/api/apps/update", {"appId": app["id"], "backupSchedule": "* * * * *",
                                             "backupRetention": 2})["data"]
    assert (updated["backupSchedule"], updated["backupRetention"]) == ("* * * * *", 2)
    status = owner.post("/api/backups/status", {"appId": app["id"]})["data"]
    assert status["schedule"] == "* * * * *" and status["nextRunAt"] and status["alert"] == ""

    def scheduled() -> list[dict]:
        rows = owner.post("/api/backups/getByAppId", {"appId": app["id"]})["data"]
        return [b for b in rows if b["trigger"] == "schedule" and b["status"] == "success"]

    [fired] = wait_for(scheduled, timeout=180)
    assert fired["verified"] is True
    owner.put("/api/apps/update", {"appId": app["id"], "backupSchedule": ""})  # no more while we count
    for _ in range(2):
        assert backed_up(owner, app["id"])["status"] == "success"
    kept = [b for b in owner.post("/api/backups/getByAppId", {"appId": app["id"]})["data"] if b["status"] == "success"]
    assert len(kept) == 2 and fired["id"] not in [b["id"] for b in kept]
    files = sorted(p.name for p in (server.data_dir / "backups" / f"app-{app['id']}").iterdir())
    assert files == sorted(f"backup-{b['id']}.pgdump.mist" for b in kept)


def test_a_bad_schedule_is_refused_naming_the_field_and_nothing_changes(owner: MistClient) -> None:
    app = owner.app(owner.project()["id"], "quiet", appType="database", templateName="postgres")
    refused = owner.http.put("/api/apps/update", json={"appId": app["id"], "backupSchedule": "every day"})
    assert refused.status_code == 400 and "backupSchedule" in refused.json()["message"]
    assert owner.post("/api/apps/getById", {"appId": app["id"]})["data"]["backupSchedule"] == ""


def test_redis_keys_survive_backup_flush_and_restore(owner: MistClient, engine: docker.DockerClient) -> None:
    app = _database(owner, owner.project()["id"], "cache", template="redis")
    container = container_of(engine, app["id"])
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])

    def cli(*args: str) -> str:
        code, output = container_of(engine, app["id"]).exec_run(
            ["redis-cli", *args], environment={"REDISCLI_AUTH": env["REDIS_PASSWORD"]})
        assert code == 0, output
        return output.decode().strip()

    wait_for(lambda: cli("PING") == "PONG")
    cli("SET", "greeting", "persisted")
    cli("RPUSH", "queue", "a", "b", "c")
    backup = backed_up(owner, app["id"])
    assert backup["status"] == "success" and backup["verified"], backup
    cli("FLUSHALL")
    assert cli("DBSIZE") == "0"

    restore = restored(owner, backup["id"])
    assert restore["status"] == "success", restore["log"]
    wait_for(lambda: cli("PING") == "PONG")
    assert cli("GET", "greeting") == "persisted"
    assert cli("LRANGE", "queue", "0", "-1").split() == ["a", "b", "c"]


def test_an_s3_destination_round_trips_a_backup_and_never_shows_its_secret(
    owner: MistClient, engine: docker.DockerClient, server: MistServer, s3: S3Server,
) -> None:
    bucket = s3.bucket()
    destination = owner.post("/api/backups/destinations/create", {
        "name": "offsite", "endpoint": s3.endpoint, "bucket": bucket, "region": s3.region, "prefix": "mist/prod",
        "accessKey": s3.access_key, "secretKey": s3.secret_key})["data"]
    assert set(destination) == {"id", "name", "endpoint", "bucket", "region", "prefix", "accessKey", "createdAt"}
    app = _database(owner, owner.project()["id"], "invoices")
    owner.put("/api/apps/update", {"appId": app["id"], "backupDestinationId": destination["id"]})
    psql(engine, app["id"], "CREATE TABLE invoices (id int, total numeric); INSERT INTO invoices VALUES (1, 9.5);")

    backup = backed_up(owner, app["id"])
    assert backup["status"] == "success" and backup["verified"], backup
    assert backup["destinationId"] == destination["id"]
    key = f"mist/prod/app-{app['id']}/backup-{backup['id']}.pgdump.mist"
    assert backup["location"] == f"s3://{bucket}/{key}"
    stored = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    assert len(stored) == backup["sizeBytes"] and hashlib.sha256(stored).hexdigest() == backup["sha256"]
    assert b"PGDMP" not in stored  # encrypted before it left
    assert not (server.data_dir / "backups" / f"app-{app['id']}").exists()

    psql(engine, app["id"], "DELETE FROM invoices;")
    restore = restored(owner, backup["id"])
    assert restore["status"] == "success", restore["log"]
    assert psql(engine, app["id"], "SELECT total FROM invoices") == "9.5"
    assert owner.http.get(f"/api/backups/download/{backup['id']}").content.startswith(b"PGDMP")
    # In use: the destination cannot go while an app backs up to it or a backup is stored there.
    refused = owner.http.request("DELETE", "/api/backups/destinations/delete", json={"id": destination["id"]})
    assert refused.status_code == 409
    for shown in (str(owner.get("/api/backups/destinations/getAll")), server.output()):
        assert s3.secret_key not in shown
