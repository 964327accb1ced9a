"""The client subcommands of `mist`, registered on its argument parser.

Kept apart from `commands` so that `mist serve` does not import Rich, httpx or websockets' client:
each subcommand imports its implementation only when it runs.
"""

from __future__ import annotations

import argparse
import re

MAX_TAIL = 10_000  # the server's limit on the lines of a container log it sends back
ENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")  # as the server checks them
APP_HELP = "app name (unique across projects) or id"
PROJECT_HELP = "project name (unique) or id"
NOTIFICATION_HELP = "notification name (unique) or id"
MAX_DELIVERIES = 500  # the server's limit on the deliveries it answers at once
MAX_RETENTION = 1000  # the server's limit on the backups an app keeps
MAX_REPLICAS = 20  # the server's limit on the copies of an app
DATABASE_APP_HELP = "database app name (unique across projects) or id"

APP_CREATE_EXAMPLES = """\
examples:
  mist apps create web --project shop --repo https://github.com/acme/shop.git --port 8000
  mist apps create worker --project shop --repo git@github.com:acme/shop.git --type service \\
      --start-command 'python -m shop.worker'
  mist apps create db --project shop --template postgres
"""

ENV_SET_EXAMPLES = """\
examples:
  mist env set web GREETING=hello WORKERS=4
  mist env set web API_KEY=s3cr3t --secret
  mist env set web 'DATABASE_URL=${{db.URL}}' --secret

A value may refer to another app of the project as ${{APP.KEY}} (HOST, PORT; a database app also
has USER, PASSWORD, DATABASE and URL), filled in at deploy time. Put such an argument in single
quotes: unquoted or in double quotes, the shell tries to expand ${...} itself.
"""


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a deployment id (a positive integer)")
    return int(text)


def _tail(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_TAIL:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lines from 0 to {MAX_TAIL}")
    return int(text)


def _assignment(text: str) -> tuple[str, str]:
    key, equals, value = text.partition("=")
    if not equals:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    if not ENV_KEY.match(key):
        raise argparse.ArgumentTypeError(
            f"{key[:50]!r} is not a variable name (letters, digits and _, not starting with a digit)"
        )
    return key, value


def _env_key(text: str) -> str:
    if not ENV_KEY.match(text):
        raise argparse.ArgumentTypeError(f"{text[:50]!r} is not a variable name")
    return text


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1 to 65535)")
    return int(text)


def _replicas(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_REPLICAS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of replicas (1 to {MAX_REPLICAS})")
    return int(text)


REPLICAS_HELP = ("how many copies of the app run (1 to 20, default 1); more than one needs a server "
                 "in Swarm mode (MIST_RUNTIME=swarm), and a database always runs one")


def _handler(name: str, module: str = "commands"):
    """Runs `mist.client.<module>.<name>`, imported only when the subcommand runs."""

    def call(args: argparse.Namespace) -> int:
        import importlib

        from mist.client import commands

        return commands.run(getattr(importlib.import_module(f"mist.client.{module}"), name), args)

    return call


def add_client_commands(sub: argparse._SubParsersAction) -> None:
    login = sub.add_parser(
        "login", help="sign in to a Mist server and keep an API token for the other commands",
        description="Sign in with your e-mail and password, create an API token named "
        "'mist-cli on HOSTNAME' and keep it in $XDG_CONFIG_HOME/mist/credentials.json (mode 0600). "
        "The password is read from MIST_PASSWORD if set, else prompted for. "
        "MIST_URL and MIST_TOKEN, when set, win over the saved credentials.",
    )
    login.add_argument("url", metavar="URL", help="the server, e.g. https://mist.example.com")
    login.add_argument("--email", help="your e-mail address (prompted for if not given)")
    login.set_defaults(func=_handler("cmd_login"))

    _add_project_commands(sub)
    _add_app_commands(sub)
    _add_domain_commands(sub)

    deploy = sub.add_parser(
        "deploy", help="deploy the latest commit of an app's branch",
        description="Queue a deployment of APP. With --follow, stream its log and progress; the exit "
        "status is then 0 on success, 1 if it failed, 2 if it was stopped.",
    )
    deploy.add_argument("app", metavar="APP", help="app name (unique across projects) or id")
    deploy.add_argument("-f", "--follow", action="store_true", help="stream the deployment until it ends")
    deploy.set_defaults(func=_handler("cmd_deploy"))

    deployments = sub.add_parser("deployments", help="list the deployments of an app")
    deployments.add_argument("app", metavar="APP", help="app name (unique across projects) or id")
    deployments.set_defaults(func=_handler("cmd_deployments"))

    logs = sub.add_parser(
        "logs", help="print a deployment's log",
        description="Print the stored log of a deployment; with --follow stream it live until the "
        "deployment ends (exit status 0 success, 1 failed, 2 stopped).",
    )
    logs.add_argument("deployment", metavar="DEPLOYMENT", type=_positive_int, help="deployment id")
    logs.add_argument("-f", "--follow", action="store_true", help="stream the log until the deployment ends")
    logs.set_defaults(func=_handler("cmd_logs"))

    stop = sub.add_parser("stop", help="stop a queued or running deployment")
    stop.add_argument("deployment", metavar="DEPLOYMENT", type=_positive_int, help="deployment id")
    stop.set_defaults(func=_handler("cmd_stop"))

    rollback = sub.add_parser(
        "rollback", help="deploy again the image and configuration of an earlier successful deployment",
    )
    rollback.add_argument("deployment", metavar="DEPLOYMENT", type=_positive_int,
                          help="id of the successful deployment to go back to")
    rollback.add_argument("-f", "--follow", action="store_true", help="stream the rollback until it ends")
    rollback.set_defaults(func=_handler("cmd_rollback"))

    settings = sub.add_parser(
        "settings", help="every setting of the server and where its value came from (owner and admins)",
        description="Print each MIST_* setting as the server uses it (paths resolved, lists parsed, "
        "passwords masked) and its source: environment, command line (mist serve --host/--port/--workers) "
        "or default. `mist status APP` shows an app's own settings the same way.",
    )
    settings.set_defaults(func=_handler("cmd_settings"))

    _add_container_commands(sub)
    _add_env_commands(sub)
    _add_notification_commands(sub)
    _add_backup_commands(sub)
    _add_node_commands(sub)


def _add_project_commands(sub: argparse._SubParsersAction) -> None:
    projects = sub.add_parser(
        "projects", help="list, create and delete projects",
        description="A project groups apps: they share a Docker network and its members. With no ACTION, "
        "list the projects you can see.",
    )
    projects.set_defaults(func=_handler("cmd_projects_list", "projects"))
    actions = projects.add_subparsers(dest="action", metavar="ACTION")  # optional: `mist projects` lists
    listing = actions.add_parser("list", help="the projects you can see, with their number of apps")
    listing.set_defaults(func=_handler("cmd_projects_list", "projects"))
    create = actions.add_parser("create", help="create a project (you become its owner)")
    create.add_argument("name", metavar="NAME", help="the project's name")
    create.add_argument("--description", default="", help="a line saying what it is for")
    create.set_defaults(func=_handler("cmd_projects_create", "projects"))
    delete = actions.add_parser(
        "delete", help="delete a project with all its apps, their containers and images",
        description="Delete PROJECT and every app in it (containers, images, deployment logs; volumes "
        "are kept). Asks for confirmation unless --yes.",
    )
    delete.add_argument("project", metavar="PROJECT", help=PROJECT_HELP)
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(func=_handler("cmd_projects_delete", "projects"))


def _add_app_commands(sub: argparse._SubParsersAction) -> None:
    apps = sub.add_parser(
        "apps", help="list, create, update and delete apps; print the Dockerfile an app is built from",
        description="With no ACTION, list the apps of every project you can see and their latest deployment.",
    )
    apps.set_defaults(func=_handler("cmd_apps"))
    actions = apps.add_subparsers(dest="action", metavar="ACTION")  # optional: `mist apps` lists
    listing = actions.add_parser("list", help="the apps of every project you can see")
    listing.set_defaults(func=_handler("cmd_apps"))

    create = actions.add_parser(
        "create", help="create an app from a Git repository (or a database from a template)",
        description="Create the app NAME in PROJECT. A web app needs --repo and --port (the port it\n"
        "listens on), a service only --repo, a database --template (--template alone makes a database).\n"
        "Options not given take the server's defaults. Nothing is deployed yet: the command prints what\n"
        "to run next.",
        epilog=APP_CREATE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    create.add_argument("name", metavar="NAME", help="lowercase letters, digits and hyphens; unique in its project")
    create.add_argument("-p", "--project", required=True, help=PROJECT_HELP)
    create.add_argument("--repo", metavar="URL", help="the Git repository (https://, ssh://, git://, user@host:path)")
    create.add_argument("--branch", help="the branch to deploy (default main)")
    create.add_argument("--port", type=_port, help="the port the app listens on (web apps need one)")
    create.add_argument("--type", dest="app_type", choices=("web", "service", "database"),
                        help="web (default; reached through its domains), service (no port) or database")
    create.add_argument("--template", help="a database's template: postgres, mysql, mariadb, redis or mongodb")
    create.add_argument("--builder", metavar="BUILDER",
                        help="how the image is built: auto (default: the repository's Dockerfile if it has "
                        "one, else detected), dockerfile, python, node, go or static")
    create.add_argument("--root-dir", metavar="DIR", help="the directory of the app inside the repository")
    create.add_argument("--dockerfile", metavar="PATH",
                        help="the Dockerfile, relative to --root-dir (default Dockerfile)")
    create.add_argument("--build-command", metavar="CMD", help="run instead of the detected build step")
    create.add_argument("--start-command", metavar="CMD", help="start the app with this instead of what was detected")
    create.add_argument("--release-command", metavar="CMD",
                        help="run once per deployment before the new version starts, e.g. migrations")
    create.add_argument("--replicas", type=_replicas, metavar="N", help=REPLICAS_HELP)
    create.set_defaults(func=_handler("cmd_apps_create", "apps"))

    update = actions.add_parser(
        "update", help="change an app's settings (the number of replicas)",
        description="Change APP's settings; options not given keep their values. Prints what the running "
        "app needs for the change to show (a redeploy, for replicas).",
    )
    update.add_argument("app", metavar="APP", help=APP_HELP)
    update.add_argument("--replicas", type=_replicas, metavar="N", help=REPLICAS_HELP)
    update.set_defaults(func=_handler("cmd_apps_update", "apps"))

    delete = actions.add_parser(
        "delete", help="delete an app with its containers, images and deployment logs",
        description="Delete APP: its containers, images, domains, git mirror and deployment logs. Its "
        "volumes are kept unless --delete-volumes. Asks for confirmation unless --yes.",
    )
    delete.add_argument("app", metavar="APP", help=APP_HELP)
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.add_argument("--delete-volumes", action="store_true", help="also delete the app's volumes and their data")
    delete.set_defaults(func=_handler("cmd_apps_delete", "apps"))

    dockerfile = actions.add_parser(
        "dockerfile", help="print the Dockerfile the app's next deployment builds (to keep and edit)",
        description="Print the Dockerfile of APP's branch head: the repository's own, or the one Mist "
        "writes for the detected stack. Only the Dockerfile goes to stdout, so `mist apps dockerfile "
        "APP > Dockerfile` ejects it; the builder, commit and what was detected go to stderr.",
    )
    dockerfile.add_argument("app", metavar="APP", help=APP_HELP)
    dockerfile.set_defaults(func=_handler("cmd_apps_dockerfile", "apps"))


def _add_domain_commands(sub: argparse._SubParsersAction) -> None:
    domains = sub.add_parser(
        "domains", help="add, list and remove the domains a web app is reached at",
        description="The domains of a web app. Point each one's DNS at this server; Mist's proxy "
        "routes it to the app as soon as it is added.",
    )
    actions = domains.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="route DOMAIN to the app, and print its URL")
    add.add_argument("app", metavar="APP", help=APP_HELP)
    add.add_argument("domain", metavar="DOMAIN", help="a host name, e.g. shop.example.com")
    add.set_defaults(func=_handler("cmd_domains_add", "domains"))
    listing = actions.add_parser("list", help="the app's domains and their URLs")
    listing.add_argument("app", metavar="APP", help=APP_HELP)
    listing.set_defaults(func=_handler("cmd_domains_list", "domains"))
    remove = actions.add_parser("remove", help="stop routing DOMAIN to the app")
    remove.add_argument("app", metavar="APP", help=APP_HELP)
    remove.add_argument("domain", metavar="DOMAIN", help="one of the app's domains")
    remove.set_defaults(func=_handler("cmd_domains_remove", "domains"))


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_DELIVERIES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of deliveries from 1 to {MAX_DELIVERIES}")
    return int(text)


def _add_notification_commands(sub: argparse._SubParsersAction) -> None:
    notifications = sub.add_parser(
        "notifications", help="list and test notifications, and see their deliveries (owner and admins)",
        description="Where deployment outcomes are told (webhook, Slack, Discord, e-mail). Create and edit "
        "them in the dashboard's Notifications page. With no ACTION, list them.",
    )
    notifications.set_defaults(func=_handler("cmd_notifications_list", "notifications"))
    actions = notifications.add_subparsers(dest="action", metavar="ACTION")  # optional: lists
    listing = actions.add_parser(
        "list", help="every notification, its target (secrets masked), events and last delivery")
    listing.set_defaults(func=_handler("cmd_notifications_list", "notifications"))
    test = actions.add_parser(
        "test", help="send a test notification now and say whether it was delivered",
        description="Send the event notification.test to NOTIFICATION and print how its first attempt went. "
        "Exit status 0 if it was delivered, 1 if not (the error is printed; Mist retries it with backoff).",
    )
    test.add_argument("notification", metavar="NOTIFICATION", help=NOTIFICATION_HELP)
    test.set_defaults(func=_handler("cmd_notifications_test", "notifications"))
    deliveries = actions.add_parser(
        "deliveries", help="the latest deliveries, newest first, with each attempt and its answer")
    deliveries.add_argument("-n", "--limit", type=_limit, default=50, metavar="N",
                            help=f"how many deliveries to show (1 to {MAX_DELIVERIES}, default 50)")
    deliveries.add_argument("--notification", metavar="NOTIFICATION",
                            help="only those of this one: " + NOTIFICATION_HELP)
    deliveries.set_defaults(func=_handler("cmd_notifications_deliveries", "notifications"))


def _add_node_commands(sub: argparse._SubParsersAction) -> None:
    nodes = sub.add_parser(
        "nodes", help="the swarm's nodes, and draining one (owner and admins; MIST_RUNTIME=swarm)",
        description="The nodes of the swarm Mist deploys to: role, state, availability, engine, resources and "
        "Mist's running tasks. With no ACTION, list them.",
    )
    nodes.set_defaults(func=_handler("cmd_nodes_list", "nodes"))
    actions = nodes.add_subparsers(dest="action", metavar="ACTION")  # optional: lists
    actions.add_parser("list", help="every node").set_defaults(func=_handler("cmd_nodes_list", "nodes"))
    for action, helptext in (("drain", "move the node's tasks to the other nodes and give it none"),
                             ("activate", "let the node take tasks again")):
        parser = actions.add_parser(action, help=helptext)
        parser.add_argument("node", metavar="NODE", help="the node's hostname or id (a unique prefix will do)")
        parser.set_defaults(func=_handler(f"cmd_nodes_{action}", "nodes"))


def _backup_id(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a backup id (a positive integer)")
    return int(text)


def _retention(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_RETENTION:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of backups to keep from 1 to {MAX_RETENTION}")
    return int(text)


def _destination(text: str) -> int | str:
    """A backup destination's id, or `local` for the server's MIST_BACKUP_DIR."""
    if text.strip().lower() == "local":
        return "local"
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a destination id (a positive integer) or 'local'")
    return int(text)


def _add_backup_commands(sub: argparse._SubParsersAction) -> None:
    backups = sub.add_parser(
        "backups", help="back up, restore and download a database app's data; its backup schedule",
        description="Backups of a database app. Each is verified by restoring it into a throwaway "
        "container before it counts as a success.",
    )
    actions = backups.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser(
        "list", help="the app's backups, newest first, with its schedule (and an alert if the last "
        "scheduled one failed or was missed)")
    listing.add_argument("app", metavar="APP", help=DATABASE_APP_HELP)
    listing.set_defaults(func=_handler("cmd_backups_list", "backups"))

    create = actions.add_parser(
        "create", help="back up the app now",
        description="Queue a backup of APP. With --wait, poll it until it ends and print its status, "
        "whether it was verified and its size; the exit status is then 1 if it failed.",
    )
    create.add_argument("app", metavar="APP", help=DATABASE_APP_HELP)
    create.add_argument("-w", "--wait", action="store_true", help="wait for the backup to end")
    create.set_defaults(func=_handler("cmd_backups_create", "backups"))

    restore = actions.add_parser(
        "restore", help="restore a backup into the app (or into another database app of the same engine)",
        description="Restore BACKUP (a backup of APP) into APP, or with --into into another database app "
        "of the same engine. The data it replaces is backed up first. Asks for confirmation unless "
        "--yes; then prints the restore's log as it runs. Exit status 0 if it succeeded, 1 if not.",
    )
    restore.add_argument("app", metavar="APP", help="the app the backup was taken of: " + DATABASE_APP_HELP)
    restore.add_argument("backup", metavar="BACKUP_ID", type=_backup_id, help="the backup's id (mist backups list APP)")
    restore.add_argument("--into", metavar="TARGET_APP", help="restore into this app instead: " + DATABASE_APP_HELP)
    restore.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    restore.set_defaults(func=_handler("cmd_backups_restore", "backups"))

    download = actions.add_parser(
        "download", help="save a backup's dump, decrypted, to a file (owner and admins)",
        description="Stream BACKUP's dump (decrypted: the engine's own format, e.g. pg_dump -Fc) into a "
        "file readable by you only, by default named as the server suggests in the current directory.",
    )
    download.add_argument("app", metavar="APP", help="the app the backup was taken of: " + DATABASE_APP_HELP)
    download.add_argument("backup", metavar="BACKUP_ID", type=_backup_id, help="the backup's id")
    download.add_argument("-o", "--output", metavar="FILE", help="the file to write (overwritten), - for stdout")
    download.set_defaults(func=_handler("cmd_backups_download", "backups"))

    schedule = actions.add_parser(
        "schedule", help="back the app up on a cron schedule (off: no schedule), how many to keep, and where",
        description="Set APP's backup schedule, a cron expression in UTC such as '0 3 * * *' (quote it), "
        "or off. Runs missed while Mist was down run once at start-up.",
    )
    schedule.add_argument("app", metavar="APP", help=DATABASE_APP_HELP)
    schedule.add_argument("cron", metavar="CRON", help="five cron fields, e.g. '0 3 * * *', or off")
    schedule.add_argument("--retention", type=_retention, metavar="N",
                          help="keep the last N successful backups (the newest verified one is always kept)")
    schedule.add_argument("--destination", type=_destination, metavar="ID",
                          help="a backup destination's id (owner and admins create them), or local")
    schedule.set_defaults(func=_handler("cmd_backups_schedule", "backups"))


def _add_container_commands(sub: argparse._SubParsersAction) -> None:
    status = sub.add_parser(
        "status", help="show the state of an app's container and its settings (as `mist container status`)",
    )
    status.add_argument("app", metavar="APP", help=APP_HELP)
    status.set_defaults(func=_handler("cmd_container_status"))

    container = sub.add_parser(
        "container", help="the running container of an app: status, start, stop, restart, logs",
        description="The container of APP's active deployment. (`mist stop DEPLOYMENT` stops a "
        "deployment in progress; `mist container stop APP` stops the app's running container.)",
    )
    actions = container.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = actions.add_parser(
        "status", help="state, health, uptime, image, deployment, restarts and limits, then the app's "
        "restart policy, limits, update strategy and health check with their source (app, global or default)",
    )
    show.add_argument("app", metavar="APP", help=APP_HELP)
    show.set_defaults(func=_handler("cmd_container_status"))
    for action, text in (
        ("start", "start the app's stopped container"),
        ("stop", "stop the app's container (SIGTERM, then SIGKILL after MIST_STOP_TIMEOUT_SECONDS)"),
        ("restart", "restart the app's container, applying its current limits and restart policy"),
    ):
        control = actions.add_parser(action, help=text, description=text[0].upper() + text[1:] + ".")
        control.add_argument("app", metavar="APP", help=APP_HELP)
        control.set_defaults(func=_handler("cmd_container_control"))
    logs = actions.add_parser(
        "logs", help="print the runtime log of the app's container",
        description="Print the last lines of the container's log (stdout and stderr), each after its "
        "timestamp. With --follow, go on printing lines as they are written, and say when the container "
        "stops; the stream goes on when it, or the next deployment's container, runs again. Ctrl-C ends it.",
    )
    logs.add_argument("app", metavar="APP", help=APP_HELP)
    logs.add_argument("-n", "--tail", type=_tail, default=100, metavar="N",
                      help=f"how many of the last lines to print first (0 to {MAX_TAIL}, default 100)")
    logs.add_argument("-f", "--follow", action="store_true", help="stream new lines until Ctrl-C")
    logs.set_defaults(func=_handler("cmd_container_logs"))


def _add_env_commands(sub: argparse._SubParsersAction) -> None:
    env = sub.add_parser(
        "env", help="list, set and unset an app's environment variables",
        description="An app's environment variables. A change reaches the running app with its next\n"
        "deployment: `set` and `unset` say what to run.",
        epilog=ENV_SET_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = env.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the app's variables (secret values shown as ********)")
    listing.add_argument("app", metavar="APP", help=APP_HELP)
    listing.set_defaults(func=_handler("cmd_env_list"))

    set_ = actions.add_parser(
        "set", help="create variables, or change the value of existing ones",
        description="Create each KEY=VALUE on APP, or change its value when APP already has KEY\n"
        "(--secret and --build-time then turn those flags on; without them the flags are kept).",
        epilog=ENV_SET_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    set_.add_argument("app", metavar="APP", help=APP_HELP)
    set_.add_argument("pairs", metavar="KEY=VALUE", nargs="+", type=_assignment, help="a variable and its value")
    set_.add_argument("--secret", action="store_true",
                      help="keep the values secret: never shown again, redacted from logs")
    set_.add_argument("--build-time", action="store_true",
                      help="also pass the variables to the image build (as build arguments)")
    set_.set_defaults(func=_handler("cmd_env_set"))

    unset = actions.add_parser("unset", help="delete variables")
    unset.add_argument("app", metavar="APP", help=APP_HELP)
    unset.add_argument("keys", metavar="KEY", nargs="+", type=_env_key, help="a variable to delete")
    unset.set_defaults(func=_handler("cmd_env_unset"))
