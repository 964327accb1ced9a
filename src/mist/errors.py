"""The one error hierarchy of Mist.

Services and adapters raise these; `mist.api.errors` maps them to HTTP in one place. Docker, git and
proxy failures are converted at their adapter boundary (`raise ... from exc`).
"""

from __future__ import annotations


class MistError(Exception):
    """Base of every error Mist reports to a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(MistError):
    """The request is malformed or names something impossible (HTTP 400)."""


class NotAuthenticated(MistError):
    """No valid session or token (HTTP 401)."""


class PermissionDenied(MistError):
    """Authenticated, but the role does not allow this (HTTP 403)."""


class NotFound(MistError):
    """Unknown id, or one the user may not see (HTTP 404, so ids do not leak)."""


class Conflict(MistError):
    """The request is valid but the current state forbids it (HTTP 409)."""


class RateLimited(MistError):
    """Too many attempts; the caller may retry after `retry_after` seconds (HTTP 429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GitError(MistError):
    """A git command failed (remote unreachable, unknown branch, missing commit)."""


class RuntimeEngineError(MistError):
    """The container engine failed or refused a request."""


class BuildFailed(RuntimeEngineError):
    """The image build reported an error step."""


class ExecFailed(RuntimeEngineError):
    """A command run in a container (`Engine.exec`) exited non-zero; the message quotes the end of
    its stderr, `stderr` keeps that bounded tail."""

    def __init__(self, message: str, exit_code: int, stderr: str = "") -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.stderr = stderr


class VerificationFailed(MistError):
    """A backup could not be restored into a throwaway container: it is no backup (HTTP 422)."""


class CorruptBackup(MistError):
    """A backup file fails its integrity checks: altered, cut short, extended, or not a Mist backup."""


class BackupMissing(NotFound):
    """The file of a backup is no longer where it was stored (HTTP 404)."""


class StorageFailed(MistError):
    """The backup storage (the local directory or an S3 bucket) failed a read, write or check."""


class Unbuildable(MistError):
    """The app's repository, as it is, gives Mist no way to build it (no Dockerfile, no known stack)."""


class ProxyError(MistError):
    """The reverse proxy (Caddy) could not be started, reached or configured."""
