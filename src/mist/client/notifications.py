"""`mist notifications`: where deployment outcomes are told, a test of each, and how deliveries went
(owner and admins; the server refuses anyone else with its own message)."""

from __future__ import annotations

import argparse
import sys

from rich import box
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.commands import EXIT_FAILED, EXIT_OK, cells, stdout_console
from mist.client.errors import ClientError

DELIVERY_STYLES = {"delivered": "green", "failed": "bold red", "pending": "yellow"}


def short_time(iso: str | None) -> str:
    """`2025-01-02T03:04:05Z` as `2025-01-02 03:04:05Z`: the server's UTC, readable in a table."""
    return iso.replace("T", " ") if iso else "-"


def delivery_text(status: str | None) -> Text:
    return Text(status or "-", style=DELIVERY_STYLES.get(status or "", "dim"))


def resolve_notification(notifications: list[dict], ref: str) -> dict:
    """The notification `ref` names: an id first, else a name only one notification has."""
    ref = ref.strip()
    if not ref:
        raise ClientError("no notification given: name one or give its id (see `mist notifications list`)")
    if ref.isdigit():
        by_id = [n for n in notifications if n["id"] == int(ref)]
        if by_id:
            return by_id[0]
    by_name = sorted((n for n in notifications if n["name"] == ref), key=lambda n: n["id"])
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        ids = ", ".join(str(n["id"]) for n in by_name)
        raise ClientError(f"the notification name {ref!r} is ambiguous: notifications {ids} have it; give its id")
    what = f"no notification with id or name {ref!r}" if ref.isdigit() else f"no notification named {ref!r}"
    raise ClientError(what + (" (see `mist notifications list`)" if notifications else ": there are none yet"))


def cmd_notifications_list(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        notifications = sorted(api.notifications(), key=lambda n: n["id"])
    console = stdout_console()
    if not notifications:
        console.print(Text("no notifications yet: add one in the dashboard's Notifications page"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "NAME", "KIND", "TARGET", "EVENTS", "ENABLED", "LAST DELIVERY"):
        table.add_column(column, justify="right" if column == "ID" else "left", overflow="fold")
    for n in notifications:
        last = n.get("lastDelivery")
        last_cell = (delivery_text(last.get("status")) + Text(f" {short_time(last.get('at'))}")) if last \
            else Text("never", style="dim")
        table.add_row(
            *cells(n["id"], n["name"], n["kind"], n["target"], ", ".join(n.get("events") or []) or "-"),
            Text("yes", style="green") if n.get("enabled") else Text("no", style="dim"),
            last_cell,
        )
    console.print(table)
    return EXIT_OK


def cmd_notifications_test(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        notification = resolve_notification(api.notifications(), args.notification)
        result = api.test_notification(notification["id"])
    code = f" (HTTP {result['statusCode']})" if result.get("statusCode") else ""
    label = f"{notification['name']} (id {notification['id']})"
    if result.get("delivered"):
        stdout_console().print(Text(f"delivered a test notification to {label}{code}", style="green"))
        return EXIT_OK
    error = result.get("error") or "no reason given"
    sys.stdout.flush()
    print(f"error: the test notification to {label} was not delivered{code}: {error}\n"
          "Mist retries it with backoff: `mist notifications deliveries` shows each attempt.", file=sys.stderr)
    return EXIT_FAILED


def cmd_notifications_deliveries(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        notifications = api.notifications()
        only = resolve_notification(notifications, args.notification) if args.notification else None
        rows = api.deliveries(args.limit, only["id"] if only else None)
    names = {n["id"]: n["name"] for n in notifications}
    console = stdout_console()
    if not rows:
        console.print(Text("no deliveries yet: `mist notifications test NAME` sends one"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "CREATED", "NOTIFICATION", "EVENT", "STATUS", "ATTEMPTS", "NEXT ATTEMPT"):
        table.add_column(column, justify="right" if column == "ID" else "left", overflow="fold")
    for d in rows:
        attempts = Text("\n").join(
            Text(f"{short_time(a.get('at'))} ") + Text("ok" if a.get("ok") else "failed",
                                                       style="green" if a.get("ok") else "red")
            + Text(f"{' HTTP ' + str(a['statusCode']) if a.get('statusCode') else ''}"
                   f"{': ' + a['answer'] if a.get('answer') else ''}")
            for a in d.get("attempts") or []
        ) or Text("none yet", style="dim")
        table.add_row(
            *cells(d["id"], short_time(d.get("createdAt")), names.get(d["notificationId"], f"#{d['notificationId']}"),
                   d["event"]),
            delivery_text(d.get("status")), attempts, Text(short_time(d.get("nextAttemptAt"))),
        )
    console.print(table)
    return EXIT_OK
