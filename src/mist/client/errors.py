"""Expected failures of the client: printed as `error: <message>`, never as a traceback."""

from __future__ import annotations


class ClientError(Exception):
    """Anything the user can act on: bad input, an API refusal, a server that cannot be reached."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ApiError(ClientError):
    """The server answered with an error (`{"success": false, "message": ...}` or a bare status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConnectionFailed(ClientError):
    """The server could not be reached at all (refused, unknown host, timed out, TLS failure)."""


class CredentialsError(ClientError):
    """Not signed in, or the stored credentials cannot be used."""
