"""`mist apps create|update|delete|dockerfile` (`mist apps` alone, the listing, is in `commands`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.api import MistAPI
from mist.client.commands import EXIT_OK, confirm_deletion, short_hash, stdout_console, write_raw
from mist.client.errors import ClientError
from mist.client.resolve import resolve_app, resolve_project

# Flags of `mist apps create` and the API field each one sets; a flag not given is not sent, so the
# server's default applies (and a server without a field is not sent it unless asked).
CREATE_FIELDS = (
    ("repo", "gitRepository"),
    ("branch", "gitBranch"),
    ("port", "port"),
    ("template", "templateName"),
    ("builder", "builder"),
    ("root_dir", "rootDirectory"),
    ("dockerfile", "dockerfilePath"),
    ("build_command", "buildCommand"),
    ("start_command", "startCommand"),
    ("release_command", "releaseCommand"),
    ("replicas", "replicas"),
)
# Flags of `mist apps update` and the API field each one sets; only those given are sent.
UPDATE_FIELDS = (("replicas", "replicas"),)
# What `mist apps create` shows of the new app, in this order, when set; a database is built from
# no repository, so it shows only its template and port.
SHOWN_FIELDS = (
    ("type", "appType"), ("repository", "gitRepository"), ("branch", "gitBranch"),
    ("root directory", "rootDirectory"), ("port", "port"), ("builder", "builder"),
    ("build command", "buildCommand"), ("start command", "startCommand"), ("release command", "releaseCommand"),
    ("replicas", "replicas"),
)
SHOWN_DATABASE_FIELDS = (("type", "appType"), ("template", "templateName"), ("port", "port"))


def app_ref(api: MistAPI, app: dict) -> str:
    """How later commands can name the app: its name, or its id when another project has an app of that name."""
    same_name = [pair for pair in api.all_apps() if pair[1]["name"] == app["name"]]
    return shlex.quote(app["name"]) if len(same_name) <= 1 else str(app["id"])


def create_fields(args: argparse.Namespace, project_id: int) -> dict:
    app_type = args.app_type or ("database" if args.template else None)
    if app_type != "database" and not args.repo:
        raise ClientError("--repo URL is required for web and service apps: the Git repository to deploy "
                          "(a database takes --template instead)")
    fields: dict = {"name": args.name, "projectId": project_id}
    if app_type:
        fields["appType"] = app_type
    for flag, field in CREATE_FIELDS:
        value = getattr(args, flag)
        if value is not None:
            fields[field] = value
    return fields


def print_created(console: Console, project: dict, app: dict) -> None:
    console.print(Text(f"created app {app['name']} (id {app['id']}) in project {project['name']}", style="bold"))
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, field in SHOWN_DATABASE_FIELDS if app.get("appType") == "database" else SHOWN_FIELDS:
        value = app.get(field)
        if value not in (None, ""):
            table.add_row(label, Text(str(value)))
    console.print(table)


def cmd_apps_create(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        project = resolve_project(api.projects(), args.project)
        app = api.create_app(create_fields(args, project["id"]))
        ref = app_ref(api, app)
    console = stdout_console()
    print_created(console, project, app)
    console.print(Text("next:", style="dim"))
    if app.get("appType") == "web":
        console.print(Text(f"  mist domains add {ref} DOMAIN", style="dim"))
    console.print(Text(f"  mist deploy {ref} --follow", style="dim"))
    return EXIT_OK


def cmd_apps_update(args: argparse.Namespace) -> int:
    fields = {field: getattr(args, flag) for flag, field in UPDATE_FIELDS if getattr(args, flag) is not None}
    if not fields:
        raise ClientError("nothing to change: give --replicas N")
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        updated = api.update_app(app["id"], fields)
        ref = app_ref(api, updated)
    console = stdout_console()
    changed = ", ".join(f"{label} {updated.get(field)}" for label, field in SHOWN_FIELDS if field in fields)
    console.print(Text(f"updated app {updated['name']} (id {updated['id']}): {changed}"))
    action = updated.get("actionRequired")
    if action == "redeploy":
        console.print(Text(f"the running app keeps its settings until its next deployment: mist deploy {ref}",
                           style="dim"))
    elif action == "restart":
        console.print(Text(f"a restart applies the change: mist container restart {ref}", style="dim"))
    return EXIT_OK


def cmd_apps_delete(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        project, app = resolve_app(api.all_apps(), args.app)
        label = f"{app['name']} (id {app['id']}, project {project['name']})"
        volumes = "and its volumes with their data" if args.delete_volumes else "(its volumes are kept)"
        confirm_deletion(f"Delete app {label} with its containers, images, domains and deployment logs "
                         f"{volumes}?", args.yes)
        api.delete_app(app["id"], args.delete_volumes)
    stdout_console().print(Text(f"deleted app {label}"))
    return EXIT_OK


def cmd_apps_dockerfile(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        data = api.dockerfile(app["id"])
    text = str(data.get("dockerfile") or "")
    if not text:
        raise ClientError(f"the server sent no Dockerfile for {app['name']}")
    # Everything but the Dockerfile goes to stderr: `mist apps dockerfile APP > Dockerfile` keeps only it.
    notes = Console(stderr=True, highlight=False, soft_wrap=True)
    builder = str(data.get("builder") or "-")
    source = "the repository's own Dockerfile" if builder == "dockerfile" else f"written by Mist for builder {builder}"
    notes.print(Text(f"# {app['name']}: {source}, commit {short_hash(data.get('commitHash'))}", style="dim"))
    for finding in data.get("findings") or []:
        if finding not in text:  # a generated Dockerfile says what was detected in its own comments
            notes.print(Text(f"#   {finding}", style="dim"))
    if data.get("releaseCommand"):
        notes.print(Text(f"# release command (run by Mist, not in the Dockerfile): {data['releaseCommand']}",
                         style="dim"))
    sys.stderr.flush()
    write_raw(sys.stdout, text if text.endswith("\n") else text + "\n")
    return EXIT_OK
