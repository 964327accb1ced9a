"""The `mist` command-line client: sign in to a Mist server, list apps, deploy and follow deployments.

`config` keeps the credentials, `api` talks HTTP, `stream` follows a deployment over the WebSocket,
`commands` renders; `parser` registers the subcommands with `mist`'s argument parser.
"""
