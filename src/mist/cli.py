"""The `mist` command."""

from __future__ import annotations

import argparse
import logging
import sys

from mist.client.parser import add_client_commands
from mist.config import Settings


def _serve(args: argparse.Namespace) -> int:
    import asyncio

    import uvicorn

    from mist.errors import InvalidInput, MistError
    from mist.server import create_app, prepare
    from mist.services import build_services

    given = (("host", args.host), ("port", args.port), ("workers", args.workers))
    overrides = {k: v for k, v in given if v is not None}
    settings = Settings(**overrides)
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if logging.getLogger().level > logging.DEBUG:
        # httpx logs every request at INFO: the proxy watcher's poll of Caddy every 2 s and each health
        # probe would fill an idle server's log. Mist logs what those requests find out itself.
        logging.getLogger("httpx").setLevel(logging.WARNING)
    services = build_services(settings)
    try:
        if settings.runtime == "swarm":
            if not settings.registry:
                raise InvalidInput("MIST_RUNTIME=swarm needs MIST_REGISTRY, the registry (HOST:PORT) every node "
                                   "pulls app images from, e.g. a `registry:2` service on the manager")
            asyncio.run(services.swarm.check_manager())
        locks = prepare(settings, services.db, services.box)
    except MistError as exc:
        print(f"mist: cannot start: {exc.message}", file=sys.stderr)
        return 1
    app = create_app(settings, services, locks)
    # No per-message compression on WebSockets: log lines are short, and compressing each message
    # once per watcher cost more of the event loop than any other step of the fan-out.
    # The standard event loop, not uvloop: uvloop starts a subprocess with fork(), which copies the
    # server's page tables (30 ms at a 300 MB heap, against 3.5 ms with asyncio's vfork), and a
    # deployment starts git four times.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, ws="websockets-sansio",
                ws_per_message_deflate=False, loop="asyncio")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mist", description="Mist: a self-hosted platform-as-a-service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the API server and the deploy workers")
    serve.add_argument("--host", help="address to listen on (MIST_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (MIST_PORT, default 8080)")
    serve.add_argument("--workers", type=int, help="deploy workers (MIST_WORKERS, default 2)")
    serve.set_defaults(func=_serve)
    add_client_commands(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
