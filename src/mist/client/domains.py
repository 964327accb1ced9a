"""`mist domains`: the host names a web app is reached at, and their URLs."""

from __future__ import annotations

import argparse
import shlex

from rich import box
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.api import MistAPI
from mist.client.commands import EXIT_OK, cells, resolve, stdout_console
from mist.client.errors import ApiError, ClientError

HTTP_PORT = "80"


def url_maker(api: MistAPI):
    """Builds a domain's URL as the server's proxy serves it: https with MIST_PROXY_TLS, else http on the
    port of MIST_PROXY_LISTEN. Only the owner and admins may read the settings; for anyone else the
    URL is the plain http://DOMAIN (the usual set-up)."""
    try:
        settings = {row["key"]: row["value"] for row in api.settings()}
    except ApiError as exc:
        if exc.status != 403:
            raise
        settings = {}
    if settings.get("MIST_PROXY_TLS") is True:
        return lambda domain: f"https://{domain}"
    port = str(settings.get("MIST_PROXY_LISTEN") or "").rpartition(":")[2]
    suffix = f":{port}" if port.isdigit() and port != HTTP_PORT else ""
    return lambda domain: f"http://{domain}{suffix}"


def cmd_domains_add(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        app = resolve(api, args.app)
        domain = api.add_domain(app["id"], args.domain.strip())
        url = url_maker(api)(domain["domain"])
        deployed = any(d.get("is_active") for d in api.deployments(app["id"]))
    console = stdout_console()
    console.print(Text(f"added {domain['domain']} to {app['name']}: ", style="bold") + Text(url, style="cyan"))
    if not deployed:
        console.print(Text(f"it serves the app once deployed: mist deploy {shlex.quote(args.app.strip())} --follow",
                           style="dim"))
    return EXIT_OK


def cmd_domains_list(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        app = resolve(api, args.app)
        domains = api.domains(app["id"])
        url = url_maker(api) if domains else str
    console = stdout_console()
    if not domains:
        console.print(Text(f"{app['name']} has no domains: mist domains add {shlex.quote(args.app.strip())} DOMAIN"))
        return EXIT_OK
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("DOMAIN", overflow="fold")
    table.add_column("URL", overflow="fold")
    for d in sorted(domains, key=lambda d: d["domain"]):
        table.add_row(*cells(d["domain"], url(d["domain"])))
    console.print(table)
    return EXIT_OK


def cmd_domains_remove(args: argparse.Namespace) -> int:
    # The server keeps domains lowercase; a trailing dot (the DNS root) names the same host.
    wanted = args.domain.strip().lower().rstrip(".")
    with commands.connect() as api:
        app = resolve(api, args.app)
        domains = api.domains(app["id"])
        match = [d for d in domains if d["domain"] == wanted]
        if not match:
            known = ", ".join(sorted(d["domain"] for d in domains)) or "none"
            raise ClientError(f"{app['name']} has no domain {wanted!r} (its domains: {known}); nothing was removed")
        api.delete_domain(match[0]["id"])
    stdout_console().print(Text(f"removed {wanted} from {app['name']}"))
    return EXIT_OK
