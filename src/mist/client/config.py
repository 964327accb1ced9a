"""Where the client keeps its credentials, and which ones it uses.

`mist login` stores `{"url": ..., "token": ...}` in `$XDG_CONFIG_HOME/mist/credentials.json`
(default `~/.config/mist/credentials.json`), the directory mode 0700 and the file mode 0600 from the
moment it exists. `MIST_URL` and `MIST_TOKEN` (for CI) win over the stored file.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from mist.client.errors import CredentialsError

CREDENTIALS_FILE = "credentials.json"
URL_ENV = "MIST_URL"
TOKEN_ENV = "MIST_TOKEN"


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    source: str  # where they came from, for messages: the file's path or "MIST_URL/MIST_TOKEN"


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    # The XDG spec says a relative value is invalid and must be ignored.
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "mist"


def credentials_path(env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / CREDENTIALS_FILE


def normalize_url(url: str) -> str:
    """`http(s)://host[:port][/prefix]` without a trailing slash; anything else is refused."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CredentialsError(f"{url!r} is not a server URL: use http://HOST[:PORT] or https://HOST")
    if parts.query or parts.fragment:
        raise CredentialsError(f"{url!r}: a server URL has no query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def save_credentials(url: str, token: str, path: Path | None = None) -> Path:
    """Write the credentials atomically; the file never exists with a mode other than 0600.

    A temporary file is created beside it with `os.open(..., 0o600)` (exclusive, no symlink
    followed), written, synced, then renamed over the old file.
    """
    path = credentials_path() if path is None else path
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # also when it existed: nobody else needs to list it
    data = json.dumps({"url": normalize_url(url), "token": token}, indent=2) + "\n"
    tmp = directory / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)  # the umask could only have removed bits; be exact anyway
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def read_stored(path: Path | None = None) -> Credentials | None:
    """The stored credentials, None if there are none; an unusable file is an error naming it."""
    path = credentials_path() if path is None else path
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError:
        raise CredentialsError(f"{path} is not valid JSON; run `mist login URL` again") from None
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not isinstance(data.get("token"), str):
        raise CredentialsError(f"{path} has no url and token; run `mist login URL` again")
    return Credentials(normalize_url(data["url"]), data["token"], str(path))


def load_credentials(env: Mapping[str, str] | None = None, path: Path | None = None) -> Credentials:
    """The credentials to use: MIST_URL/MIST_TOKEN first, else the stored ones.

    MIST_TOKEN alone goes to the stored URL. MIST_URL alone uses the stored token only if it was
    issued by that same server: a token is never sent to a server other than the one that made it.
    """
    env = os.environ if env is None else env
    path = credentials_path(env) if path is None else path
    env_url = env.get(URL_ENV, "").strip()
    env_token = env.get(TOKEN_ENV, "").strip()
    if env_url and env_token:
        return Credentials(normalize_url(env_url), env_token, f"{URL_ENV}/{TOKEN_ENV}")
    stored = read_stored(path)
    if env_token:
        if stored is None:
            raise CredentialsError(f"{TOKEN_ENV} is set but {URL_ENV} is not: set {URL_ENV} to the server's URL")
        return Credentials(stored.url, env_token, f"{TOKEN_ENV} and {path}")
    if env_url:
        url = normalize_url(env_url)
        if stored is None or stored.url != url:
            raise CredentialsError(
                f"no token for {url}: set {TOKEN_ENV} too, or run `mist login {url}`"
            )
        return stored
    if stored is None:
        raise CredentialsError(
            f"not logged in: run `mist login URL` (or set {URL_ENV} and {TOKEN_ENV})"
        )
    return stored
