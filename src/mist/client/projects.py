"""`mist projects`: list, create and delete projects."""

from __future__ import annotations

import argparse
import shlex

from rich import box
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.commands import EXIT_OK, cells, confirm_deletion, stdout_console
from mist.client.resolve import resolve_project


def cmd_projects_list(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        projects = sorted(api.projects(), key=lambda p: p["id"])
        counts = {p["id"]: len(api.apps_of_project(p["id"])) for p in projects}
    console = stdout_console()
    if not projects:
        console.print(Text("no projects yet: mist projects create NAME"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "NAME", "APPS", "MEMBERS", "DESCRIPTION"):
        table.add_column(column, justify="right" if column in ("ID", "APPS", "MEMBERS") else "left",
                         overflow="fold")
    for p in projects:
        table.add_row(*cells(p["id"], p["name"], counts[p["id"]], len(p.get("memberIds") or []),
                             p.get("description") or "-"))
    console.print(table)
    return EXIT_OK


def cmd_projects_create(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        project = api.create_project(args.name, args.description)
        same_name = [p for p in api.projects() if p["name"] == project["name"]]
    console = stdout_console()
    console.print(Text(f"created project {project['name']} (id {project['id']})", style="bold"))
    # Project names need not be unique: the next step names this one by id when another has its name.
    ref = project["name"] if len(same_name) == 1 else str(project["id"])
    if len(same_name) > 1:
        console.print(Text(f"another project is named {project['name']}: refer to this one by its id, "
                           f"{project['id']}", style="yellow"))
    console.print(Text(f"next: mist apps create NAME --project {shlex.quote(ref)} --repo URL --port PORT",
                       style="dim"))
    return EXIT_OK


def cmd_projects_delete(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        project = resolve_project(api.projects(), args.project)
        apps = api.apps_of_project(project["id"])
        names = ", ".join(sorted(a["name"] for a in apps))
        what = f"and its {len(apps)} app{'s' if len(apps) != 1 else ''} ({names})" if apps else "(it has no apps)"
        confirm_deletion(f"Delete project {project['name']} (id {project['id']}) {what}, with their containers, "
                         "images and deployment logs?", args.yes)
        api.delete_project(project["id"])
    stdout_console().print(Text(f"deleted project {project['name']} (id {project['id']})"))
    return EXIT_OK
