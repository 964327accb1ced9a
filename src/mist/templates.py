"""Database templates: the image, port, data volume and generated credentials of each engine."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import quote


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
    # How clients connect: URL scheme, and the env vars (or fixed values) holding the credentials.
    scheme: str = ""
    user_key: str = ""
    password_key: str = ""
    database_key: str = ""
    fixed_user: str = ""
    fixed_database: str = ""
    url_query: str = ""


_PASSWORD = "password"
_DATABASE = "{database}"

TEMPLATES: dict[str, Template] = {
    t.name: t
    for t in (
        Template(
            "postgres", "postgres:16", 5432, "/var/lib/postgresql/data",
            {"POSTGRES_USER": "mist", "POSTGRES_PASSWORD": _PASSWORD, "POSTGRES_DB": _DATABASE},
            scheme="postgres", user_key="POSTGRES_USER", password_key="POSTGRES_PASSWORD",
            database_key="POSTGRES_DB",
        ),
        Template(
            "mysql", "mysql:8.4", 3306, "/var/lib/mysql",
            {"MYSQL_ROOT_PASSWORD": _PASSWORD, "MYSQL_DATABASE": _DATABASE,
             "MYSQL_USER": "mist", "MYSQL_PASSWORD": _PASSWORD},
            scheme="mysql", user_key="MYSQL_USER", password_key="MYSQL_PASSWORD", database_key="MYSQL_DATABASE",
        ),
        Template(
            "mariadb", "mariadb:11", 3306, "/var/lib/mysql",
            {"MARIADB_ROOT_PASSWORD": _PASSWORD, "MARIADB_DATABASE": _DATABASE,
             "MARIADB_USER": "mist", "MARIADB_PASSWORD": _PASSWORD},
            scheme="mysql", user_key="MARIADB_USER", password_key="MARIADB_PASSWORD",
            database_key="MARIADB_DATABASE",
        ),
        Template(
            "redis", "redis:7", 6379, "/data",
            {"REDIS_PASSWORD": _PASSWORD},
            shell_command='exec redis-server --requirepass "$REDIS_PASSWORD" --appendonly yes --dir /data',
            scheme="redis", password_key="REDIS_PASSWORD", fixed_user="default", fixed_database="0",
        ),
        Template(
            "mongodb", "mongo:7", 27017, "/data/db",
            {"MONGO_INITDB_ROOT_USERNAME": "mist", "MONGO_INITDB_ROOT_PASSWORD": _PASSWORD,
             "MONGO_INITDB_DATABASE": _DATABASE},
            scheme="mongodb", user_key="MONGO_INITDB_ROOT_USERNAME", password_key="MONGO_INITDB_ROOT_PASSWORD",
            database_key="MONGO_INITDB_DATABASE", url_query="?authSource=admin",
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


@dataclass(frozen=True)
class Connection:
    """How another app of the project reaches a database app: its network alias and credentials."""

    host: str
    port: int
    user: str
    password: str = field(repr=False)
    database: str
    url: str = field(repr=False)

    def as_values(self) -> dict[str, str]:
        """What `${{app.KEY}}` references resolve to."""
        return {"HOST": self.host, "PORT": str(self.port), "USER": self.user, "PASSWORD": self.password,
                "DATABASE": self.database, "URL": self.url}


def connection(template: Template, env: dict[str, str], host: str, port: int) -> Connection:
    user = template.fixed_user or env.get(template.user_key, "")
    password = env.get(template.password_key, "")
    database = template.fixed_database or env.get(template.database_key, "")
    url = (
        f"{template.scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{port}/"
        f"{quote(database, safe='')}{template.url_query}"
    )
    return Connection(host, port, user, password, database, url)
