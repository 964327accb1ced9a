"""The `mist` command-line client: sign in to a Mist server, list apps, deploy and follow deployments,
control an app's container and read its log, manage its env vars.

`config` keeps the credentials, `api` talks HTTP, `stream` follows a deployment or a container's log
over the WebSocket, `commands` renders; `parser` registers the subcommands with `mist`'s argument parser.
"""
