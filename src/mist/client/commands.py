"""The client subcommands of `mist` and how they print.

Tables and the progress bar are Rich. Log lines are the deployment's own bytes: on a terminal their
ANSI colours are rendered above the progress bar; into a pipe or a file they are written unchanged,
one per line, flushed as they arrive. Exit codes: 0 done (a followed deployment succeeded), 1 an
error or a failed deployment, 2 a stopped deployment, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import os
import socket
import sys
from collections.abc import Callable
from typing import Any, TextIO

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from mist.client.api import MistAPI
from mist.client.config import (
    TOKEN_ENV,
    URL_ENV,
    credentials_path,
    load_credentials,
    normalize_url,
    save_credentials,
)
from mist.client.errors import ClientError
from mist.client.resolve import resolve_app
from mist.client.stream import DeploymentWatch

PASSWORD_ENV = "MIST_PASSWORD"
PIPE_WIDTH = 1000  # tables into a pipe take the width their cells need, up to this
TOKEN_NAME_MAX = 100  # the server's limit on a token's name
EXIT_OK, EXIT_FAILED, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 130

STATUS_STYLES = {
    "pending": "dim",
    "building": "cyan",
    "deploying": "blue",
    "success": "green",
    "failed": "bold red",
    "stopped": "yellow",
    "rolled_back": "magenta",
}


# ---------------------------------------------------------------------------- output helpers


def stdout_console() -> Console:
    """Rich on stdout. Into a pipe or a file, lines and tables are not cut to 80 columns."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH)
    return console


def cells(*values: Any) -> list[Text]:
    """Table cells from the server's data: Text, so that a name like "[red]" is never markup."""
    return [Text(str(v)) for v in values]


def status_text(status: str | None) -> Text:
    if not status:
        return Text("-", style="dim")
    return Text(status, style=STATUS_STYLES.get(status, ""))


def short_hash(commit: str | None) -> str:
    return (commit or "")[:7] or "-"


def first_line(message: str | None) -> str:
    return (message or "").strip().splitlines()[0] if (message or "").strip() else ""


def format_duration(seconds: Any) -> str:
    if not isinstance(seconds, int) or seconds <= 0:
        return "-" if seconds in (None, "") else "0s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def deployment_label(deployment: dict) -> str:
    number = deployment.get("deployment_number")
    return f"#{number} (id {deployment['id']})" if number else f"id {deployment['id']}"


def print_deployment(console: Console, deployment: dict, verb: str = "queued") -> None:
    line = Text()
    line.append(f"deployment {deployment_label(deployment)} {verb}: ", style="bold")
    line.append(short_hash(deployment.get("commit_hash")), style="yellow")
    message = first_line(deployment.get("commit_message"))
    if message:
        line.append(f" {message}")
    line.append(", status ")
    line.append_text(status_text(deployment.get("status")))
    console.print(line)


def write_raw(out: TextIO, text: str) -> None:
    out.write(text)
    out.flush()


# ---------------------------------------------------------------------------- following a deployment


class PlainView:
    """Not a terminal (CI, a pipe): lines unchanged, one line per stage, no bar."""

    def __init__(self, out: TextIO, label: str) -> None:
        self.out, self.label = out, label
        self.last: tuple[str, str] | None = None

    def __enter__(self) -> PlainView:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def line(self, line: str) -> None:
        write_raw(self.out, line + "\n")

    def status(self, data: dict) -> None:
        key = (data.get("status") or "", data.get("stage") or "")
        if key == self.last:
            return
        self.last = key
        stage = f" {key[1]}" if key[1] else ""
        write_raw(self.out, f"==> {self.label}: {key[0]}{stage} ({data.get('progress', 0)}%)\n")

    def notice(self, text: str) -> None:
        write_raw(sys.stderr, text + "\n")


class StyledDescription(ProgressColumn):
    """The task's description as a styled Text (TextColumn would read it as markup)."""

    def render(self, task: Task) -> Text:
        return task.fields.get("styled") or Text(task.description)


class ProgressView:
    """A terminal: a live progress bar with the stage; log lines (ANSI colours kept) print above it."""

    def __init__(self, console: Console, label: str) -> None:
        self.console, self.label = console, label
        self.progress = Progress(
            SpinnerColumn(), StyledDescription(), BarColumn(), TaskProgressColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.task = self.progress.add_task(label, total=100, styled=Text(f"{label} waiting"))

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def line(self, line: str) -> None:
        # A Text, never markup: a log line like "[bold]" is printed as it is.
        self.progress.console.print(Text.from_ansi(line), soft_wrap=True)

    def status(self, data: dict) -> None:
        status, stage = data.get("status") or "", data.get("stage") or ""
        description = Text(f"{self.label} ")
        description.append_text(status_text(status))
        if stage:
            description.append(f" {stage}", style="bold")
        progress = data.get("progress")
        final = status in ("success", "failed", "stopped", "rolled_back")
        self.progress.update(
            self.task, styled=description, completed=progress if isinstance(progress, int) else None,
        )
        if final:
            self.progress.stop_task(self.task)

    def notice(self, text: str) -> None:
        self.progress.console.print(Text(text, style="yellow"))


def follow(api: MistAPI, deployment: dict, console: Console | None = None) -> int:
    """Stream one deployment to its end; the exit code tells how it ended."""
    console = console or stdout_console()
    label = f"deployment {deployment_label(deployment)}"
    view: PlainView | ProgressView = (
        ProgressView(console, label) if console.is_terminal else PlainView(sys.stdout, label)
    )
    watch = DeploymentWatch(
        api.ws_url, deployment["id"], api.token,
        on_reconnect=lambda reason: view.notice(f"connection lost ({reason}); reconnecting..."),
    )
    with view:
        for msg in watch.messages():
            if msg["type"] == "log":
                view.line(str(msg["data"].get("line", "")))
            elif msg["type"] == "status":
                view.status(msg["data"])
    final = watch.final or {}
    status = final.get("status", "")
    error = final.get("error_message") or watch.error
    summary = Text(f"{label}: ", style="bold")
    summary.append_text(status_text(status))
    if status == "stopped" and error:
        summary.append(f" ({error})")
    if console.is_terminal:
        console.print(summary)
    else:
        write_raw(sys.stdout, summary.plain + "\n")
    if status == "failed":
        print(f"error: {error or 'the deployment failed'}", file=sys.stderr)
        return EXIT_FAILED
    if status == "stopped":
        return EXIT_STOPPED
    return EXIT_OK


# ---------------------------------------------------------------------------- commands


def connect() -> MistAPI:
    creds = load_credentials()
    return MistAPI(creds.url, creds.token)


def _prompt_email() -> str:
    try:
        email = input("E-mail: ").strip()
    except EOFError:
        email = ""
    if not email:
        raise ClientError("no e-mail address given: pass --email")
    return email


def _password(email: str) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    try:
        password = getpass.getpass(f"Password for {email}: ")
    except EOFError:
        password = ""
    if not password:
        raise ClientError(f"no password given: type it at the prompt, or set {PASSWORD_ENV}")
    return password


def cmd_login(args: argparse.Namespace) -> int:
    url = normalize_url(args.url)
    email = (args.email or "").strip() or _prompt_email()
    password = _password(email)
    token_name = f"mist-cli on {socket.gethostname()}"[:TOKEN_NAME_MAX]
    with MistAPI(url) as session:
        session.login(email, password)
        token = session.create_token(token_name, "admin")["token"]
        try:
            session.logout()  # the session was only needed to make the token
        except ClientError:
            pass
    with MistAPI(url, token) as api:
        me = api.me()  # the token works before it is kept
    path = save_credentials(url, token, credentials_path())
    print(f"Logged in to {url} as {me.get('username', email)}; token {token_name!r} saved in {path}")
    if os.environ.get(URL_ENV) or os.environ.get(TOKEN_ENV):
        print(f"note: {URL_ENV}/{TOKEN_ENV} are set in this environment and win over the saved token",
              file=sys.stderr)
    return EXIT_OK


def cmd_apps(args: argparse.Namespace) -> int:
    with connect() as api:
        pairs = api.all_apps()
        latest = {}
        for _, app in pairs:
            deployments = api.deployments(app["id"])
            latest[app["id"]] = max(deployments, key=lambda d: d["id"]) if deployments else None
    console = stdout_console()
    if not pairs:
        console.print("no apps yet")
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "NAME", "PROJECT", "TYPE", "BRANCH", "LATEST DEPLOYMENT"):
        table.add_column(column, justify="right" if column == "ID" else "left")
    for project, app in pairs:
        d = latest[app["id"]]
        last = Text("-", style="dim")
        if d is not None:
            last = status_text(d["status"])
            last.append(f" #{d['deployment_number']}", style="dim")
        table.add_row(
            *cells(app["id"], app["name"], project["name"], app.get("appType") or "-", app.get("gitBranch") or "-"),
            last,
        )
    console.print(table)
    return EXIT_OK


def cmd_deploy(args: argparse.Namespace) -> int:
    with connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        deployment = api.deploy(app["id"])
        console = stdout_console()
        print_deployment(console, deployment, f"of {app['name']} queued")
        if args.follow:
            return follow(api, deployment, console)
        console.print(Text(f"follow it with: mist logs {deployment['id']} --follow", style="dim"))
    return EXIT_OK


def cmd_deployments(args: argparse.Namespace) -> int:
    with connect() as api:
        _, app = resolve_app(api.all_apps(), args.app)
        deployments = sorted(api.deployments(app["id"]), key=lambda d: d["id"], reverse=True)
    console = stdout_console()
    if not deployments:
        console.print(Text(f"{app['name']} has no deployments yet: mist deploy {app['name']}"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("#", "ID", "STATUS", "STAGE", "PROGRESS", "COMMIT", "MESSAGE", "DURATION", "ACTIVE"):
        right = column in ("#", "ID", "PROGRESS", "DURATION")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for d in deployments:
        table.add_row(
            *cells(d.get("deployment_number", ""), d["id"]), status_text(d.get("status")),
            *cells(d.get("stage") or "-", f"{d.get('progress', 0)}%", short_hash(d.get("commit_hash")),
                   first_line(d.get("commit_message")) or "-", format_duration(d.get("duration"))),
            Text("yes", style="green") if d.get("is_active") else Text(""),
        )
    console.print(table)
    return EXIT_OK


def cmd_logs(args: argparse.Namespace) -> int:
    with connect() as api:
        if args.follow:
            return follow(api, {"id": args.deployment})
        text = api.logs(args.deployment)
    if text:
        write_raw(sys.stdout, text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def cmd_stop(args: argparse.Namespace) -> int:
    with connect() as api:
        deployment = api.stop(args.deployment)
    line = Text(f"deployment {deployment_label(deployment)}: ", style="bold")
    line.append_text(status_text(deployment.get("status")))
    if deployment.get("error_message"):
        line.append(f" ({deployment['error_message']})")
    stdout_console().print(line)
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    with connect() as api:
        deployment = api.rollback(args.deployment)
        console = stdout_console()
        print_deployment(console, deployment, f"queued, rolling back to deployment {args.deployment}")
        if args.follow:
            return follow(api, deployment, console)
        console.print(Text(f"follow it with: mist logs {deployment['id']} --follow", style="dim"))
    return EXIT_OK


# ---------------------------------------------------------------------------- entry


def run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one subcommand; expected failures print `error: ...` on stderr, never a traceback."""
    try:
        return handler(args)
    except ClientError as exc:
        sys.stdout.flush()
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `mist logs 7 | head`: the reader left; say nothing more, and keep Python from complaining.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
