"""Domains of web apps. Owns writes to `domains`; a domain belongs to one app."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, part_of_app_for
from mist.db.models import Domain, User, iso
from mist.errors import Conflict, InvalidInput
from mist.proxy.caddy import validate_domain


def add(session: Session, user: User, app_id: int, name: str) -> Domain:
    app = app_for(session, user, app_id)
    if app.app_type != "web":
        raise InvalidInput("domain: only web apps take domains")
    name = validate_domain(name)
    if session.scalar(select(Domain.id).where(Domain.domain == name)):
        raise Conflict(f"the domain {name} already belongs to an application")
    domain = Domain(app_id=app.id, domain=name)
    session.add(domain)
    session.flush()
    return domain


def list_for(session: Session, user: User, app_id: int) -> list[Domain]:
    app = app_for(session, user, app_id)
    return list(session.scalars(select(Domain).where(Domain.app_id == app.id).order_by(Domain.domain)))


def delete(session: Session, user: User, domain_id: int) -> None:
    _, domain = part_of_app_for(session, user, Domain, domain_id, "domain")
    session.delete(domain)


def to_json(domain: Domain) -> dict:
    return {"id": domain.id, "appId": domain.app_id, "domain": domain.domain, "createdAt": iso(domain.created_at)}
