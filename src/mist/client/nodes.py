"""`mist nodes`: the swarm's nodes and what each holds, and draining one for maintenance (owner and
admins; the server refuses anyone else, and says what to do when its engine is not a swarm manager)."""

from __future__ import annotations

import argparse

from rich import box
from rich.table import Table
from rich.text import Text

from mist.client import commands  # `commands.connect`, looked up when called: tests replace it
from mist.client.commands import EXIT_OK, stdout_console
from mist.client.errors import ClientError

STATE_STYLES = {"ready": "green", "down": "bold red", "disconnected": "bold red"}
AVAILABILITY_STYLES = {"active": "green", "drain": "yellow", "pause": "yellow"}


def resolve_node(nodes: list[dict], ref: str) -> dict:
    """The node `ref` names: its hostname, its id, or a prefix of its id only one node has."""
    by_host = [n for n in nodes if n["hostname"] == ref]
    if len(by_host) == 1:
        return by_host[0]
    by_id = [n for n in nodes if ref and n["id"].startswith(ref)]
    if len(by_id) == 1:
        return by_id[0]
    if len(by_host) > 1 or len(by_id) > 1:
        raise ClientError(f"{ref!r} names several nodes: give more of the node's id (see `mist nodes`)")
    raise ClientError(f"no node with hostname or id {ref!r} (see `mist nodes`)")


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def cmd_nodes_list(args: argparse.Namespace) -> int:
    with commands.connect() as api:
        nodes = api.nodes()
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("ID", "HOSTNAME", "ROLE", "STATE", "AVAILABILITY", "ENGINE", "CPUS", "MEMORY", "MIST TASKS"):
        table.add_column(column, justify="right" if column in ("CPUS", "MEMORY", "MIST TASKS") else "left")
    for n in nodes:
        role = n["role"] + (" (leader)" if n["leader"] else "")
        table.add_row(n["id"][:12], n["hostname"], role, Text(n["state"], style=STATE_STYLES.get(n["state"], "")),
                      Text(n["availability"], style=AVAILABILITY_STYLES.get(n["availability"], "")),
                      n["engineVersion"], f"{n['cpus']:g}", _gib(n["memoryBytes"]), str(n["tasks"]))
    stdout_console().print(table)
    return EXIT_OK


def _set(args: argparse.Namespace, availability: str) -> int:
    with commands.connect() as api:
        node = resolve_node(api.nodes(), args.node)
        changed = api.set_node_availability(node["id"], availability)
    what = ("its Mist tasks move to other nodes" if availability == "drain" else "it takes tasks again")
    stdout_console().print(Text(f"node {changed['hostname']} ({changed['id'][:12]}) is {changed['availability']}: "
                                f"{what}"))
    return EXIT_OK


def cmd_nodes_drain(args: argparse.Namespace) -> int:
    return _set(args, "drain")


def cmd_nodes_activate(args: argparse.Namespace) -> int:
    return _set(args, "active")
