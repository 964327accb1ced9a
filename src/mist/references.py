"""`${{<app>.<KEY>}}` in an env value: a value of another app of the same project, filled in at deploy
time, so a web app is wired to its database without anyone copying its password.

Every app offers HOST (its name, a DNS alias on the project's network) and PORT; a database app
also offers USER, PASSWORD, DATABASE and URL. A reference to an unknown app or key is refused when
the env var is saved; one whose app was deleted since fails the deployment with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.db.models import App
from mist.errors import InvalidInput
from mist.templates import TEMPLATES, Connection, connection

_REFERENCE = re.compile(r"\$\{\{\s*([A-Za-z0-9-]+)\.([A-Za-z_]+)\s*\}\}")
COMMON_KEYS = ("HOST", "PORT")
DATABASE_KEYS = ("USER", "PASSWORD", "DATABASE", "URL")
SECRET_KEYS = ("PASSWORD", "URL")


def found_in(value: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _REFERENCE.finditer(value)]


def _offered(app: App) -> tuple[str, ...]:
    keys = COMMON_KEYS if app.port else ("HOST",)
    return keys + DATABASE_KEYS if app.template_name else keys


def _project_apps(session: Session, project_id: int) -> dict[str, App]:
    return {a.name: a for a in session.scalars(select(App).where(App.project_id == project_id))}


def check(session: Session, project_id: int, items: Iterable[tuple[str, str]]) -> None:
    """Refuses (key, value) pairs whose references name no app of the project, or no key it offers."""
    apps: dict[str, App] | None = None
    for env_key, value in items:
        for name, key in found_in(value):
            apps = apps if apps is not None else _project_apps(session, project_id)
            target = apps.get(name)
            if target is None:
                raise InvalidInput(f"envVars: '{env_key}' refers to '{name}', which is no app of this project")
            if key not in _offered(target):
                raise InvalidInput(
                    f"envVars: '{env_key}' refers to {name}.{key}; app '{name}' offers "
                    f"{', '.join(_offered(target))}"
                )


def connection_of(app: App) -> Connection | None:
    """How the other apps of its project reach a database app (None for any other app)."""
    template = TEMPLATES.get(app.template_name)
    if template is None:
        return None
    env = {e.key: e.value for e in app.env_vars}
    return connection(template, env, app.name, app.port or template.port)


def values_of(app: App) -> dict[str, str]:
    """What the app offers to references."""
    if (details := connection_of(app)) is not None:
        return details.as_values()
    return {"HOST": app.name, **({"PORT": str(app.port)} if app.port else {})}


def resolve(session: Session, project_id: int, env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """The env with every reference filled in, and the filled-in secret values (to redact)."""
    if not any(found_in(v) for v in env.values()):
        return env, []
    apps = _project_apps(session, project_id)
    secrets: list[str] = []
    out: dict[str, str] = {}
    for env_key, value in env.items():
        def fill(match: re.Match[str], env_key: str = env_key) -> str:
            name, key = match.group(1), match.group(2)
            target = apps.get(name)
            offered = values_of(target) if target is not None else {}
            if key not in offered:
                raise InvalidInput(f"env var '{env_key}' refers to {name}.{key}, which no longer exists")
            if key in SECRET_KEYS and target is not None and target.template_name:
                # The password alone too: an app may well log it after parsing the URL.
                secrets.extend((offered[key], offered["PASSWORD"]))
            return offered[key]

        out[env_key] = _REFERENCE.sub(fill, value)
    return out, secrets
