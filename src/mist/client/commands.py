"""The client subcommands of `mist` and how they print.

Tables and the progress bar are Rich. Log lines are the deployment's (or the container's) own bytes:
on a terminal their ANSI colours are rendered; into a pipe or a file they are written unchanged,
one per line, flushed as they arrive. Exit codes: 0 done (a followed deployment succeeded, a
followed container log ended with Ctrl-C), 1 an error or a failed deployment, 2 a stopped
deployment, 130 interrupted.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
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
from mist.client.stream import ContainerLogWatch, DeploymentWatch

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
STATE_STYLES = {  # a container's state, and its health
    "running": "green",
    "restarting": "yellow",
    "paused": "yellow",
    "exited": "bold red",
    "dead": "bold red",
    "healthy": "green",
    "unhealthy": "bold red",
}
ACTIONS = {"none": 0, "restart": 1, "redeploy": 2}  # `actionRequired`, from the least to the most
SECRET_MASK = "********"


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


def confirm_deletion(question: str, yes: bool) -> None:
    """Ask on the terminal before something that cannot be undone; `--yes` skips the question.

    The question goes to stderr, so that stdout keeps only the command's result. Without a terminal
    to answer (a script, CI), or on anything but y/yes, nothing is done.
    """
    if yes:
        return
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline() if sys.stdin is not None else ""
    if not answer.endswith("\n"):
        print(file=sys.stderr)  # end of input: the prompt's line still needs its end
    if answer.strip().lower() not in ("y", "yes"):
        raise ClientError("nothing deleted (answer y to confirm, or pass --yes)")


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
    for column in ("ID", "NAME", "PROJECT", "TYPE", "REPLICAS", "BRANCH", "LATEST DEPLOYMENT"):
        table.add_column(column, justify="right" if column in ("ID", "REPLICAS") else "left")
    for project, app in pairs:
        d = latest[app["id"]]
        last = Text("-", style="dim")
        if d is not None:
            last = status_text(d["status"])
            last.append(f" #{d['deployment_number']}", style="dim")
        table.add_row(
            *cells(app["id"], app["name"], project["name"], app.get("appType") or "-", app.get("replicas") or "-",
                   app.get("gitBranch") or "-"),
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


def resolve(api: MistAPI, ref: str) -> dict:
    return resolve_app(api.all_apps(), ref)[1]


# ---------------------------------------------------------------------------- the running container


def state_text(state: str | None) -> Text:
    if not state or state in ("none", "not_deployed", "removed"):
        return Text((state or "-").replace("_", " "), style="dim")
    return Text(state, style=STATE_STYLES.get(state, ""))


def format_uptime(seconds: Any) -> str:
    """3d 4h, 2h 05m, 4m 10s, 12s."""
    if not isinstance(seconds, int) or seconds < 0:
        return "-"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_limits(status: dict) -> str:
    limits = []
    cpu = status.get("cpuLimit")
    if isinstance(cpu, (int, float)) and cpu > 0:
        limits.append(f"{cpu:g} CPU" + ("" if cpu <= 1 else "s"))
    memory = status.get("memoryLimit")
    if isinstance(memory, int) and memory > 0:
        limits.append(f"{memory // 1024} GiB" if memory % 1024 == 0 else f"{memory} MiB")
    return ", ".join(limits) or "none"


def print_container_status(console: Console, app: dict, status: dict, ref: str) -> None:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("app", Text(f"{app['name']} (id {app['id']})"))
    state = status.get("state")
    line = state_text(state)
    if status.get("exitCode") is not None and state != "running":
        line.append(f" (exit code {status['exitCode']})")
    table.add_row("state", line)
    if state == "not_deployed":
        console.print(table)
        console.print(Text(f"no container yet: mist deploy {ref}", style="dim"))
        return
    table.add_row("health", state_text(status.get("health")))
    if state == "running":
        table.add_row("uptime", Text(format_uptime(status.get("uptime"))))
    if status.get("startedAt"):
        table.add_row("started", Text(str(status["startedAt"])))
    number, deployment_id = status.get("deploymentNumber"), status.get("deploymentId")
    if deployment_id is not None:
        table.add_row("deployment", Text(f"#{number} (id {deployment_id})" if number else f"id {deployment_id}"))
    if status.get("name") or status.get("containerId"):
        table.add_row("container", Text(f"{status.get('name') or '-'} ({str(status.get('containerId') or '')[:12]})"))
    table.add_row("image", Text(str(status.get("image") or "-")))
    table.add_row("restarts", Text(str(status.get("restarts") or 0)))
    table.add_row("limits", Text(format_limits(status)))
    table.add_row("restart policy", Text(str(status.get("restartPolicy") or "-")))
    console.print(table)
    if status.get("replicas"):
        print_replicas(console, status["replicas"])


def print_replicas(console: Console, replicas: list[dict]) -> None:
    """Swarm mode: each replica (task) of the app, the node it runs on and how it is doing."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("REPLICA", "NODE", "STATE", "HEALTH", "STARTED", "RESTARTS", "ERROR"):
        table.add_column(column, overflow="fold")
    for r in replicas:
        table.add_row(Text(str(r.get("task") or "-")), Text(str(r.get("node") or "-")), state_text(r.get("state")),
                      state_text(r.get("health")), Text(str(r.get("startedAt") or "-")),
                      Text(str(r.get("restarts") or 0)), Text(str(r.get("error") or ""), style="red"))
    console.print(table)


def _seconds(value: Any) -> str:
    return f"{value:g} s" if isinstance(value, (int, float)) else "-"


# How `mist status` names and shows each of an app's settings (keys as the server sends them).
APP_SETTINGS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "restartPolicy": ("restart policy", str),
    "cpuLimit": ("cpu limit", lambda v: format_limits({"cpuLimit": v})),
    "memoryLimit": ("memory limit", lambda v: format_limits({"memoryLimit": v})),
    "updateStrategy": ("update strategy", str),
    "healthcheckPath": ("health check", lambda v: f"GET {v}" if v else "the port accepts connections"),
    "healthcheckInterval": ("health interval", _seconds),
    "healthcheckTimeout": ("health timeout", _seconds),
    "healthcheckRetries": ("health retries", str),
    "healthcheckStartPeriod": ("health start period", _seconds),
    "healthStageTimeout": ("health stage limit", _seconds),
}


def print_app_settings(console: Console, settings: list[dict]) -> None:
    """What the app's next deployment (and a restart) applies, and where each value comes from:
    the app's own field, a MIST_* setting (global), or Mist's default."""
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("SETTING", "VALUE", "SOURCE"):
        table.add_column(column, overflow="fold")
    for row in settings:
        label, shown = APP_SETTINGS.get(row["key"], (row["key"], format_setting))
        table.add_row(*cells(label, shown(row["value"]), row["source"]))
    console.print(table)


def format_setting(value: Any) -> str:
    """A setting's value as JSON gives it: lists comma-separated, objects as JSON, nothing as -."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def cmd_settings(args: argparse.Namespace) -> int:
    with connect() as api:
        settings = api.settings()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("KEY", "VALUE", "SOURCE"):
        table.add_column(column, overflow="fold")
    for row in settings:
        table.add_row(*cells(row["key"], format_setting(row["value"]), row["source"]))
    stdout_console().print(table)
    return EXIT_OK


def print_container_line(console: Console, stamp: str, line: str) -> None:
    """One line of the container's log: unchanged into a pipe; on a terminal, the timestamp dimmed."""
    if not console.is_terminal:
        write_raw(sys.stdout, f"{stamp} {line}\n" if stamp else line + "\n")
        return
    text = Text()
    if stamp:
        text.append(f"{stamp} ", style="dim")  # only the timestamp: the line keeps its own colours
    text.append_text(Text.from_ansi(line))
    console.print(text, soft_wrap=True)


def print_container_event(console: Console, text: str) -> None:
    """What happened to the container, between its log lines."""
    if console.is_terminal:
        console.print(Text(text, style="dim"))
    else:
        write_raw(sys.stdout, f"==> {text}\n")


def follow_container(api: MistAPI, app: dict, tail: int, console: Console | None = None) -> int:
    """Stream the container's log until Ctrl-C (or an error): the stream has no end of its own."""
    console = console or stdout_console()

    def notice(reason: str) -> None:
        text = f"connection lost ({reason}); reconnecting..."
        if console.is_terminal:
            console.print(Text(text, style="yellow"))
        else:
            print(text, file=sys.stderr, flush=True)

    watch = ContainerLogWatch(api.ws_url, app["id"], api.token, tail=tail, on_reconnect=notice)
    try:
        for msg in watch.messages():
            if msg["type"] == "log":
                print_container_line(console, str(msg["data"].get("timestamp") or ""),
                                     str(msg["data"].get("line", "")))
            elif msg["type"] == "status":
                print_container_event(console, f"container {msg['data'].get('state') or 'stopped'}")
    except KeyboardInterrupt:
        if sys.stderr.isatty():
            print(file=sys.stderr)  # past the terminal's ^C
    return EXIT_OK


def cmd_container_status(args: argparse.Namespace) -> int:
    with connect() as api:
        app = resolve(api, args.app)
        status = api.container_status(app["id"])
        settings = api.app_settings(app["id"])
    console = stdout_console()
    print_container_status(console, app, status, shlex.quote(args.app.strip()))
    print_app_settings(console, settings)
    return EXIT_OK


def cmd_container_control(args: argparse.Namespace) -> int:
    with connect() as api:
        app = resolve(api, args.app)
        status = api.container(app["id"], args.action)
    line = Text(f"container of {app['name']} {args.action}{'ped' if args.action == 'stop' else 'ed'}: ",
                style="bold")
    line.append_text(state_text(status.get("state")))
    if status.get("exitCode") is not None and status.get("state") != "running":
        line.append(f" (exit code {status['exitCode']})")
    if status.get("state") == "running":
        line.append(", ")
        line.append_text(state_text(status.get("health")))
    if status.get("deploymentNumber"):
        line.append(f", deployment #{status['deploymentNumber']}")
    stdout_console().print(line)
    return EXIT_OK


def cmd_container_logs(args: argparse.Namespace) -> int:
    with connect() as api:
        app = resolve(api, args.app)
        console = stdout_console()
        if args.follow:
            return follow_container(api, app, args.tail, console)
        text = api.container_logs(app["id"], args.tail) if args.tail else ""
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        print_container_line(console, stamp, rest)
    return EXIT_OK


# ---------------------------------------------------------------------------- env vars


def env_scope(env: dict) -> str:
    when = [name for name, on in (("build", env.get("buildTime")), ("runtime", env.get("runtime"))) if on]
    return ", ".join(when) or "-"


def print_action(console: Console, action: str, ref: str) -> None:
    """What the running app needs for the change to show, as the server says."""
    if action == "redeploy":
        console.print(Text(f"redeploy to apply: mist deploy {ref}", style="yellow"))
    elif action == "restart":
        console.print(Text(f"restart to apply: mist container restart {ref}", style="yellow"))
    else:
        console.print(Text("nothing to apply: the running app is not affected", style="dim"))


def _strongest(actions: list[str]) -> str:
    return max(actions, key=lambda a: ACTIONS.get(a, ACTIONS["redeploy"]))


def cmd_env_list(args: argparse.Namespace) -> int:
    with connect() as api:
        app = resolve(api, args.app)
        envs = sorted(api.envs(app["id"]), key=lambda e: e["key"])
    console = stdout_console()
    if not envs:
        console.print(Text(f"{app['name']} has no env vars: mist env set {shlex.quote(args.app.strip())} KEY=VALUE"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("KEY")
    table.add_column("VALUE", overflow="fold")
    table.add_column("WHEN")
    for env in envs:
        secret = env.get("secret") or env.get("value") is None
        value = Text(SECRET_MASK, style="dim") if secret else Text(str(env["value"]))
        table.add_row(Text(env["key"]), value, Text(env_scope(env)))
    console.print(table)
    return EXIT_OK


def cmd_env_set(args: argparse.Namespace) -> int:
    keys = [key for key, _ in args.pairs]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    if twice:
        raise ClientError(f"{', '.join(twice)} given more than once")
    console = stdout_console()
    actions: list[str] = []
    with connect() as api:
        app = resolve(api, args.app)
        existing = {env["key"]: env for env in api.envs(app["id"])}
        try:
            for key, value in args.pairs:
                if key in existing:
                    flags = {name: True for name, on in (("secret", args.secret), ("buildTime", args.build_time)) if on}
                    result = api.update_env(existing[key]["id"], value=value, **flags)
                    verb = "updated"
                else:
                    result = api.create_env(app["id"], key, value, secret=args.secret, build_time=args.build_time)
                    verb = "created"
                actions.append(str((result or {}).get("actionRequired") or "none"))
                secret = " (secret)" if (result or {}).get("secret") else ""
                console.print(Text(f"{verb} {key}{secret}"))
        finally:
            if actions:  # also when a later one failed: those before it are saved
                print_action(console, _strongest(actions), shlex.quote(args.app.strip()))
    return EXIT_OK


def cmd_env_unset(args: argparse.Namespace) -> int:
    console = stdout_console()
    actions: list[str] = []
    with connect() as api:
        app = resolve(api, args.app)
        existing = {env["key"]: env for env in api.envs(app["id"])}
        missing = [key for key in dict.fromkeys(args.keys) if key not in existing]
        if missing:
            raise ClientError(f"{app['name']} has no env var {', '.join(missing)} (see `mist env list "
                              f"{shlex.quote(args.app.strip())}`); nothing was deleted")
        try:
            for key in dict.fromkeys(args.keys):
                result = api.delete_env(existing[key]["id"])
                actions.append(str((result or {}).get("actionRequired") or "none"))
                console.print(Text(f"deleted {key}"))
        finally:
            if actions:
                print_action(console, _strongest(actions), shlex.quote(args.app.strip()))
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
