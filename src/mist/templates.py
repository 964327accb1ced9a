"""Database templates: the image, port, data volume and generated credentials of each engine."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Template:
    name: str
    image: str
    port: int
    data_path: str
    # Env vars created with the app: name -> "password" (generated, secret) or a fixed value.
    env: dict[str, str] = field(default_factory=dict)
    # A shell command, for engines whose password is an argument rather than an env var; the
    # shell expands it from the environment so it never shows in the host's process list.
    shell_command: str = ""


_PASSWORD = "password"
_DATABASE = "{database}"

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "postgres", "postgres:16", 5432, "/var/lib/postgresql/data",
            {"POSTGRES_USER": "mist", "POSTGRES_PASSWORD": _PASSWORD, "POSTGRES_DB": _DATABASE},
        ),
        Template(
            "mysql", "mysql:8.4", 3306, "/var/lib/mysql",
            {"MYSQL_ROOT_PASSWORD": _PASSWORD, "MYSQL_DATABASE": _DATABASE,
             "MYSQL_USER": "mist", "MYSQL_PASSWORD": _PASSWORD},
        ),
        Template(
            "mariadb", "mariadb:11", 3306, "/var/lib/mysql",
            {"MARIADB_ROOT_PASSWORD": _PASSWORD, "MARIADB_DATABASE": _DATABASE,
             "MARIADB_USER": "mist", "MARIADB_PASSWORD": _PASSWORD},
        ),
        Template(
            "redis", "redis:7", 6379, "/data",
            {"REDIS_PASSWORD": _PASSWORD},
            shell_command='exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data',
        ),
        Template(
            "mongodb", "mongo:7", 27017, "/data/db",
            {"MONGO_INITDB_ROOT_USERNAME": "mist", "MONGO_INITDB_ROOT_PASSWORD": _PASSWORD,
             "MONGO_INITDB_DATABASE": _DATABASE},
        ),
    )
}


def template_image(name: str, overrides: dict[str, str]) -> str:
    """Configured image first (MIST_TEMPLATE_IMAGES), then the template's default."""
    return overrides.get(name) or TEMPLATES[name].image


def generated_env(template: Template, app_name: str) -> list[tuple[str, str, bool]]:
    """(key, value, secret) for a new database app; each password is strong and its own."""
    database = re.sub(r"[^A-Za-z0-9_]", "_", app_name)
    out = []
    for key, spec in template.env.items():
        if spec == _PASSWORD:
            out.append((key, secrets.token_urlsafe(24), True))
        else:
            out.append((key, spec.replace(_DATABASE, database), False))
    return out


def volume_name(app_id: int) -> str:
    return f"mist-app-{app_id}-data"
