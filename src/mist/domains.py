"""Domains of web apps. Owns writes to `domains`; a domain belongs to one app.

The dashboard's own host name (MIST_PUBLIC_URL) and the reserved ones (MIST_RESERVED_DOMAINS) are
never an app's: an app serving the dashboard's host name through Caddy would receive the session
cookies of everyone signed in there, since cookies are shared across ports.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from mist.auth.permissions import app_for, part_of_app_for
from mist.db.engine import Database
from mist.db.models import Domain, User
from mist.errors import Conflict, InvalidInput
from mist.proxy.caddy import covers, validate_domain
from mist.proxy.router import Router


def _check_not_reserved(name: str, public_host: str, reserved: frozenset[str]) -> None:
    """Compared as a browser would match them: case-insensitive, a trailing dot ignored."""
    for taken in sorted(reserved, key=lambda h: (h != public_host, h)):  # the dashboard's own first
        if not covers(name, taken):
            continue
        if taken == public_host:
            raise InvalidInput(f"domain: {taken} is the dashboard's own host name (MIST_PUBLIC_URL), never an app's")
        raise InvalidInput(f"domain: {taken} is reserved (MIST_RESERVED_DOMAINS) and cannot belong to an app")


def add(session: Session, user: User, app_id: int, name: str, public_host: str, reserved: frozenset[str]) -> Domain:
    app = app_for(session, user, app_id)
    if app.app_type != "web":
        raise InvalidInput("domain: only web apps take domains")
    _check_not_reserved(name, public_host, reserved)
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


def delete(session: Session, user: User, domain_id: int) -> Domain:
    _, domain = part_of_app_for(session, user, Domain, domain_id, "domain")
    session.delete(domain)
    return domain


class Domains:
    """What the API asks of domains: each change is written, then goes straight to the proxy."""

    def __init__(self, db: Database, router: Router, public_host: str, reserved: frozenset[str]) -> None:
        self.db = db
        self.router = router
        self.public_host = public_host
        self.reserved = reserved

    async def add(self, user: User, app_id: int, name: str) -> Domain:
        domain = await self.db.run(add, user, app_id, name, self.public_host, self.reserved)
        await self.router.refresh()
        return domain

    async def list_for(self, user: User, app_id: int) -> list[Domain]:
        return await self.db.run(list_for, user, app_id)

    async def delete(self, user: User, domain_id: int) -> Domain:
        domain = await self.db.run(delete, user, domain_id)
        await self.router.refresh()
        return domain
