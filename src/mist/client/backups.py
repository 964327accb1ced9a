"""`mist backups`: the backups of a database app, taking one now, restoring one (its log followed until
it ends), downloading one, and the app's backup schedule.

A backup or a restore is a job on the server: `create --wait` and `restore` poll it every second
until its status is final. Ctrl-C stops the polling, never the job.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from rich import box
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.api import MistAPI, describe_transport_error, error_message
from mist.client.commands import EXIT_FAILED, EXIT_OK, cells, stdout_console, write_raw
from mist.client.errors import ApiError, ClientError, ConnectionFailed
from mist.client.resolve import resolve_app

FINAL = ("success", "failed")
STATUS_STYLES = {"pending": "dim", "running": "cyan", "success": "green", "failed": "bold red"}
POLL_SECONDS = 1.0
# A job outlives a server restart; polling goes on through one that takes up to this long.
UNREACHABLE_FOR = 120.0
# Between two chunks of a download: the server decrypts (and may first fetch from S3) as it sends.
DOWNLOAD_TIMEOUT = httpx.Timeout(300.0, connect=10.0)
CHUNK = 1 << 16
OFF = ("", "off", "none")  # `mist backups schedule APP off` clears the schedule
_FILENAME = re.compile(r"""filename\s*=\s*(?:"([^"]*)"|([^;\s]+))""", re.IGNORECASE)


def short_time(iso: str | None) -> str:
    """`2025-01-02T03:04:05Z` as `2025-01-02 03:04:05Z`: the server's UTC, readable in a table."""
    return iso.replace("T", " ") if iso else "-"


def human_size(size: int | None) -> str:
    if not size:
        return "-"
    value, unit = float(size), "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"


def status_text(status: str | None) -> Text:
    return Text(status or "-", style=STATUS_STYLES.get(status or "", ""))


def where(backup: dict) -> str:
    return "local" if backup.get("destinationId") is None else f"destination {backup['destinationId']}"


# ---------------------------------------------------------------------------- API calls


def backups_of(api: MistAPI, app_id: int) -> list[dict]:
    return api.call("POST", "/api/backups/getByAppId", json={"appId": app_id})


def backup_status(api: MistAPI, app_id: int) -> dict:
    return api.call("POST", "/api/backups/status", json={"appId": app_id})


def backup_of_app(api: MistAPI, app: dict, backup_id: int) -> dict:
    """The backup `backup_id`, refused unless it was taken of `app` (so a typo names nothing else)."""
    backup = api.call("POST", "/api/backups/getById", json={"id": backup_id})
    if backup["appId"] != app["id"]:
        raise ClientError(f"backup {backup_id} is of the app {backup['appName']} (id {backup['appId']}), "
                          f"not of {app['name']} (see `mist backups list {app['name']}`)")
    return backup


def poll(fetch: Callable[[], dict], on_change: Callable[[dict], None]) -> dict:
    """Calls `fetch` every POLL_SECONDS until its status is final; `on_change` sees every answer.
    A server that cannot be reached for a while (a restart) is waited for, up to UNREACHABLE_FOR."""
    lost_since: float | None = None
    while True:
        try:
            current = fetch()
        except ConnectionFailed as exc:
            now = time.monotonic()
            if lost_since is None:
                lost_since = now
                print(f"{exc.message}; trying again...", file=sys.stderr, flush=True)
            elif now - lost_since > UNREACHABLE_FOR:
                raise
            time.sleep(POLL_SECONDS)
            continue
        lost_since = None
        on_change(current)
        if current.get("status") in FINAL:
            return current
        time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------------- list, create


def print_schedule(console, app: dict, status: dict) -> None:  # noqa: ANN001 - a Rich console
    if status.get("alert"):
        console.print(Text(f"alert: {status['alert']}", style="bold red"))
    schedule = status.get("schedule") or ""
    line = Text("schedule: ", style="bold")
    if schedule:
        line.append(schedule, style="yellow")
        line.append(f" (next run {short_time(status.get('nextRunAt'))}), keeping the last "
                    f"{status.get('retention')} successful backups, in {where(status)}")
    else:
        line.append(f"none (set one: mist backups schedule {app['name']} '0 3 * * *')", style="dim")
    console.print(line)


def cmd_backups_list(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        backups = backups_of(api, app["id"])
        status = backup_status(api, app["id"])
    console = stdout_console()
    print_schedule(console, app, status)
    if not backups:
        console.print(Text(f"{app['name']} has no backups yet: mist backups create {app['name']} --wait"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "CREATED", "STATUS", "VERIFIED", "TRIGGER", "SIZE", "WHERE", "ERROR"):
        table.add_column(column, justify="right" if column in ("ID", "SIZE") else "left", overflow="fold")
    for b in sorted(backups, key=lambda b: b["id"], reverse=True):
        table.add_row(
            *cells(b["id"], short_time(b.get("createdAt"))), status_text(b.get("status")),
            Text("yes", style="green") if b.get("verified") else Text("no", style="dim"),
            *cells(b.get("trigger") or "-", human_size(b.get("sizeBytes")), where(b), b.get("error") or ""),
        )
    console.print(table)
    return EXIT_OK


def print_outcome(backup: dict) -> int:
    label = f"backup #{backup['id']} of {backup['appName']}"
    if backup["status"] == "success":
        verified = "verified (restored into a throwaway container)" if backup.get("verified") else "not verified"
        stdout_console().print(Text(f"{label}: success, {verified}, {human_size(backup.get('sizeBytes'))} "
                                    f"in {where(backup)}", style="green"))
        return EXIT_OK
    sys.stdout.flush()
    print(f"error: {label} failed: {backup.get('error') or 'no reason given'}", file=sys.stderr)
    return EXIT_FAILED


def cmd_backups_create(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        backup = api.call("POST", "/api/backups/create", json={"appId": app["id"]})
        stdout_console().print(Text(f"backup #{backup['id']} of {app['name']} queued"))
        if not args.wait:
            stdout_console().print(Text(f"  mist backups list {app['name']}", style="dim"))
            return EXIT_OK
        seen: list[str] = []

        def show(current: dict) -> None:
            if current["status"] not in seen and current["status"] not in FINAL:
                seen.append(current["status"])
                stdout_console().print(Text(f"backup #{current['id']}: ") + status_text(current["status"]))

        final = poll(lambda: api.call("POST", "/api/backups/getById", json={"id": backup["id"]}), show)
    return print_outcome(final)


# ---------------------------------------------------------------------------- restore


def confirm(question: str, yes: bool) -> None:
    """As `commands.confirm_deletion`: the question on stderr; without a y/yes answer nothing is done."""
    if yes:
        return
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.endswith("\n") or not sys.stdin.isatty():
        print(file=sys.stderr)  # no terminal echoed the answer's end of line
    if answer.strip().lower() not in ("y", "yes"):
        raise ClientError("nothing restored (answer y to confirm, or pass --yes)")


def cmd_backups_restore(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        pairs = api.all_apps()
        _, app = resolve_app(pairs, args.app)
        _, target = resolve_app(pairs, args.into) if args.into else (None, app)
        backup = backup_of_app(api, app, args.backup)
        confirm(f"Restore backup #{backup['id']} of {app['name']} (taken {short_time(backup.get('createdAt'))}) "
                f"into {target['name']} (id {target['id']})? Its current data is backed up first, then replaced.",
                args.yes)
        body = {"backupId": backup["id"]}
        if target["id"] != app["id"]:
            body["targetAppId"] = target["id"]
        restore = api.call("POST", "/api/backups/restore", json=body)
        stdout_console().print(Text(f"restore #{restore['id']} of backup #{backup['id']} into {target['name']} "
                                    "queued", style="bold"))
        printed = 0

        def show(current: dict) -> None:
            nonlocal printed
            lines = current.get("log") or []
            for line in lines[printed:]:
                write_raw(sys.stdout, f"{line}\n")
            printed = max(printed, len(lines))

        final = poll(lambda: api.call("POST", "/api/backups/restores/getById", json={"id": restore["id"]}), show)
    label = f"restore #{final['id']} into {target['name']}"
    if final["status"] == "success":
        before = f" (its data before is in backup #{final['beforeBackupId']})" if final.get("beforeBackupId") else ""
        stdout_console().print(Text(f"{label}: success{before}", style="green"))
        return EXIT_OK
    sys.stdout.flush()
    print(f"error: {label} failed: {final.get('error') or 'no reason given'}", file=sys.stderr)
    return EXIT_FAILED


# ---------------------------------------------------------------------------- download


def attachment_name(header: str | None) -> str | None:
    """The file name a Content-Disposition header suggests, if it is a plain name (no directory, not
    hidden): a server never chooses where on this machine the file goes."""
    match = _FILENAME.search(header or "")
    name = (match.group(1) or match.group(2)).strip() if match else ""
    if not name or name.startswith(".") or "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
        return None
    return name


def _write_stream(response: httpx.Response, path: Path | None) -> int:
    """The body into `path` (None: stdout), chunk by chunk. A file is written beside its final name and
    renamed once complete, readable by its owner only: it is the whole database."""
    if path is None:
        total = 0
        for chunk in response.iter_bytes(CHUNK):
            sys.stdout.buffer.write(chunk)
            total += len(chunk)
        sys.stdout.buffer.flush()
        return total
    part = path.with_name(f".{path.name}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    total = 0
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in response.iter_bytes(CHUNK):
                out.write(chunk)
                total += len(chunk)
        os.replace(part, path)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return total


def cmd_backups_download(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        backup = backup_of_app(api, app, args.backup)
        fallback = f"{app['name']}-backup-{backup['id']}.dump"
        try:
            with api.http.stream("GET", f"/api/backups/download/{backup['id']}", timeout=DOWNLOAD_TIMEOUT) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError(error_message(response), response.status_code)
                if args.output == "-":
                    path = None
                elif args.output:
                    path = Path(args.output)
                else:
                    path = Path(attachment_name(response.headers.get("content-disposition")) or fallback)
                    if path.exists():
                        raise ClientError(f"{path} exists: remove it, or choose another file with -o FILE")
                try:
                    total = _write_stream(response, path)
                except OSError as exc:
                    raise ClientError(f"could not write {path}: {exc.strerror or exc}") from None
        except httpx.TransportError as exc:
            # Once the dump streams, the server can only stop: a file that fails its checksum or
            # decryption there ends the stream early, and the reason is in the server's log.
            kept = "what went to stdout is incomplete" if args.output == "-" else "nothing was saved"
            raise ConnectionFailed(f"the download from {api.url} broke off ({describe_transport_error(exc)}); "
                                   f"{kept}. If it happens again, the server's log says why "
                                   "(a backup file that fails its integrity check is never sent whole)") from None
    if path is not None:
        stdout_console().print(Text(f"wrote backup #{backup['id']} of {app['name']} to {path} "
                                    f"({human_size(total)}, decrypted; readable by you only)"))
    return EXIT_OK


# ---------------------------------------------------------------------------- schedule


def cmd_backups_schedule(args: argparse.Namespace) -> int:
    fields: dict = {"backupSchedule": "" if args.cron.strip().lower() in OFF else args.cron.strip()}
    if args.retention is not None:
        fields["backupRetention"] = args.retention
    if args.destination is not None:  # `local`: back in MIST_BACKUP_DIR
        fields["backupDestinationId"] = None if args.destination == "local" else args.destination
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        api.call("PUT", "/api/apps/update", json={"appId": app["id"], **fields})
        status = backup_status(api, app["id"])
    print_schedule(stdout_console(), app, status)
    return EXIT_OK
