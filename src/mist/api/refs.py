"""Ids that requests name, marked with what they refer to, so that access is checked before validation.

FastAPI validates a whole request before the route runs. A caller who may not see an application
would get a 400 for a malformed body naming it, where a well-formed one gets the 404 of an unknown id.
A route's id fields (body, query or path) carry a `Ref` marker (schemas.AppRef and the like); when a request
fails validation, `unreachable` checks each id it names as the route would, and the caller gets that
404 before any word about the rest of the request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, backup_for, deployment_for, part_of_app_for, project_for, restore_for
from mist.db.models import Domain, EnvVar, User, Volume
from mist.errors import NotFound

# Ids are INTEGER columns, 32 bits on PostgreSQL: a larger number can name no row on any database,
# and PostgreSQL would refuse to compare it with an id, so it is malformed (400) everywhere.
MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Ref:
    """Annotated metadata: this field is the id of a `kind` row the caller must be able to reach."""

    kind: str


# The same checks the services make, so the 404 is word for word the one of an unknown id.
_CHECKS: dict[str, Callable[[Session, User, int], object]] = {
    "application": app_for,
    "project": project_for,
    "deployment": deployment_for,
    "env var": lambda s, u, i: part_of_app_for(s, u, EnvVar, i, "env var"),
    "volume": lambda s, u, i: part_of_app_for(s, u, Volume, i, "volume"),
    "domain": lambda s, u, i: part_of_app_for(s, u, Domain, i, "domain"),
    "backup": backup_for,
    "restore": restore_for,
}


def _marker(metadata: list[Any]) -> Ref | None:
    return next((m for m in metadata if isinstance(m, Ref)), None)


def _as_id(value: Any) -> int | None:
    """A well-formed id, else None: a malformed one ("7", -1) names nothing, and its 400 is the same
    whether or not a row has that number."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_ID else None


def text_id(text: str | None) -> int | None:
    """Query and path values are text: there, up to MAX_ID's digits are the well-formed id."""
    if not text or len(text) > len(str(MAX_ID)) or not (text.isascii() and text.isdigit()):
        return None
    return _as_id(int(text))


def named(route: APIRoute, path: Mapping[str, Any], query: Mapping[str, Any], body: Any) -> Iterator[tuple[str, int]]:
    """(kind, id) of every marked id present in the request."""
    dependant = route.dependant
    for params, values in ((dependant.path_params, path), (dependant.query_params, query)):
        for param in params:
            ref = _marker(param.field_info.metadata)
            if ref and (value := text_id(values.get(param.alias))) is not None:
                yield ref.kind, value
    if not isinstance(body, dict):
        return
    for param in dependant.body_params:
        model = param.field_info.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            continue
        for name, field in model.model_fields.items():
            ref = _marker(field.metadata)
            if ref and (value := _as_id(body.get(field.alias or name))) is not None:
                yield ref.kind, value


def unreachable(session: Session, user: User, refs: list[tuple[str, int]]) -> NotFound | None:
    """The NotFound of the first id the user cannot reach, if any."""
    for kind, value in refs:
        try:
            _CHECKS[kind](session, user, value)
        except NotFound as exc:
            return exc
    return None
