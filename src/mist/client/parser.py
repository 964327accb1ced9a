"""The client subcommands of `mist`, registered on its argument parser.

Kept apart from `commands` so that `mist serve` does not import Rich, httpx or websockets' client:
each subcommand imports its implementation only when it runs.
"""

from __future__ import annotations

import argparse


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a deployment id (a positive integer)")
    return int(text)


def _handler(name: str):
    def call(args: argparse.Namespace) -> int:
        from mist.client import commands

        return commands.run(getattr(commands, name), args)

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

    apps = sub.add_parser("apps", help="list the apps of every project you can see")
    apps.set_defaults(func=_handler("cmd_apps"))

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
