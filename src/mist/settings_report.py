"""Every setting of a running Mist, as the server uses it, and where its value came from
(`mist settings`, GET /api/settings; like Dokku's `:report`).

Values are shown as computed: paths resolved, lists parsed, the database URL with its default filled
in. No secret leaves: a password inside any URL becomes ********, and a setting whose name says it
holds a secret shows only whether it is set. Paths are shown, never the contents of a file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mist.auth.users import is_admin
from mist.config import Settings, host_list
from mist.db.models import User
from mist.errors import PermissionDenied

MASK = "********"
_SECRET_WORDS = ("password", "token", "secret")
_NOT_SECRETS = ("_file", "_dir")  # names of where a secret is kept, not the secret

# Settings the server uses in a computed form; the others are shown as they are.
_COMPUTED: dict[str, Callable[[Settings], object]] = {
    "database_url": lambda s: s.db_url,
    "secret_key_file": lambda s: s.secret_file,
    "reserved_domains": lambda s: sorted(host_list(s.reserved_domains)),
    "host_mount_roots": lambda s: [str(p) for p in s.mount_roots],
}


def mask_url(url: str) -> str:
    """The URL with the password of its user part replaced by ********."""
    if "@" not in url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # not a URL we can take apart: say nothing of it rather than risk a secret
        return MASK
    if not password:
        return url
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _is_secret(name: str) -> bool:
    return any(word in name for word in _SECRET_WORDS) and not name.endswith(_NOT_SECRETS)


def _shown(settings: Settings, name: str) -> object:
    value = _COMPUTED[name](settings) if name in _COMPUTED else getattr(settings, name)
    if _is_secret(name):
        return MASK if value else None
    if isinstance(value, Path):
        return str(value.expanduser().resolve())
    if isinstance(value, str):
        return mask_url(value)
    return value


def report(settings: Settings) -> list[dict[str, object]]:
    """One {key, value, source} per setting, named as its MIST_* variable, in declaration order."""
    return [
        {"key": f"MIST_{name.upper()}", "value": _shown(settings, name), "source": settings.source(name)}
        for name in type(settings).model_fields
    ]


def for_user(user: User, settings: Settings) -> list[dict[str, object]]:
    """The report, for the owner and admins: it shows how the server is set up, not app data."""
    if not is_admin(user):
        raise PermissionDenied("only the owner and admins can read Mist's settings")
    return report(settings)
